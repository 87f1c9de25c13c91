package mailin

import "guichet/mailin/parse"

// headers is the read access to a message's header fields that classification needs.
type headers interface {
	Get(name string) string
	Values(name string) []string
}

// headerOf adapts a parsed message to headers.
func headerOf(m *parse.Message) headers { return m.Header }
