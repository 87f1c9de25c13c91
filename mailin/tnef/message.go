package tnef

import "time"

// File is an attachment unpacked from the stream.
type File struct {
	Name        string    // long file name if present, else the 8.3 name, in UTF-8; may be empty
	ContentType string    // PR_ATTACH_MIME_TAG if present, else ""
	Data        []byte    // the attachment's bytes
	ModTime     time.Time // zero if unknown
}

// Message is what a TNEF stream carries that a customer can use. The files of embedded
// messages (attached Outlook items) are flattened into Files; their bodies are dropped.
type Message struct {
	Files    []File // in the order of the stream
	Body     string // plain-text body (PR_BODY or attBody), "" if absent
	BodyHTML string // HTML body (PR_BODY_HTML / PR_HTML), "" if absent
	BodyRTF  []byte // RTF body (PR_RTF_COMPRESSED, decompressed), nil if absent
}
