package poller

import (
	"bytes"
	"context"
	"net/mail"
)

// Meta says where a message comes from.
type Meta struct {
	Mailbox string // Mailbox.Name
	Folder  string // the folder's name on the server
	UID     uint32
	Sent    bool // read from the Sent folder: the team's own replies
}

// Deliverer stores one message. It returns nil only when the message is durably stored: a
// ticket, a follow-up, a quarantine entry, or a duplicate of a message already stored (the
// poller may hand over a message again after a crash; recognising it, by Message-ID or a hash
// of the bytes, is what makes delivery exactly once). quarantined says the message went to
// quarantine: the poller then moves it to FailedTo instead of MoveTo (for a duplicate, say what
// became of the message the first time). An error means nothing was stored: the poller leaves
// the message where it is, delivers no later message of the folder, and tries again after a
// pause.
//
// Deliver is called from one goroutine per mailbox folder, so concurrently.
type Deliverer interface {
	Deliver(ctx context.Context, raw []byte, m Meta) (quarantined bool, err error)
}

// messageID returns the Message-ID header of raw, for logs; "" when there is none.
func messageID(raw []byte) string {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	return msg.Header.Get("Message-Id")
}
