package mailin

import (
	"time"

	"guichet/mailin/parse"
	"guichet/ticket"
)

// Address is a mailbox in the inspect output.
type Address struct {
	Address string `json:"address"`
	Name    string `json:"name"`
}

// Attachment describes one attachment in the inspect output; Data is kept for Ingest.
type Attachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
	Inline      bool   `json:"inline"`
	ContentID   string `json:"content_id"`
	Data        []byte `json:"-"`
}

// Command is one agent command line: #status pending, #assign me …
type Command struct {
	Name string   `json:"name"`
	Args []string `json:"args"`
}

// Bounce is one failed recipient of a delivery report.
type Bounce struct {
	Recipient string `json:"recipient"`
	Status    string `json:"status"`
	Permanent bool   `json:"permanent"`
	Diag      string `json:"-"`
}

// Analysis is everything the pipeline found out about one message, without changing anything.
// Its JSON is the output of `guichet inspect`.
type Analysis struct {
	File          string       `json:"file,omitempty"`
	MessageID     string       `json:"message_id"`
	From          Address      `json:"from"`
	To            []Address    `json:"to"`
	Cc            []Address    `json:"cc"`
	Subject       string       `json:"subject"`
	Date          *string      `json:"date"`
	Kind          string       `json:"kind"`
	Ticket        *int64       `json:"ticket"`
	ThreadBy      *string      `json:"thread_by"`
	Requester     Address      `json:"requester"`
	Forwarded     bool         `json:"forwarded"`
	Text          string       `json:"text"`
	QuotedRemoved bool         `json:"quoted_removed"`
	Attachments   []Attachment `json:"attachments"`
	Commands      []Command    `json:"commands"`
	Bounces       []Bounce     `json:"bounces"`
	Mentions      *int64       `json:"mentions"`
	Warnings      []string     `json:"warnings"`

	// What Ingest needs beyond the report.
	Why           string    `json:"-"` // why the kind, for quarantine and notes
	Route         Route     `json:"-"`
	ForwardedBy   Address   `json:"-"` // the agent who forwarded it, when the requester is the original sender
	AgentNote     string    `json:"-"` // what the forwarding agent wrote above the forwarded message
	SenderIsAgent bool      `json:"-"`
	Authenticated bool      `json:"-"`
	AuthWhy       string    `json:"-"`
	HTML          string    `json:"-"` // sanitized
	Dedup         string    `json:"-"`
	Received      time.Time `json:"-"`
	TextOmitted   bool      `json:"-"`
	Omitted       []string  `json:"-"` // attachments left out for size
	msg           *parse.Message
}

func (a *Analysis) ticketNumber() int64 {
	if a.Ticket == nil {
		return 0
	}
	return *a.Ticket
}

func ptr[T any](v T) *T { return &v }

func toAddress(a parse.Address) Address {
	return Address{Address: ticket.NormalizeAddress(a.Address), Name: a.Name}
}

func toAddresses(as []parse.Address) []Address {
	out := []Address{}
	for _, a := range as {
		out = append(out, toAddress(a))
	}
	return out
}
