package smtpd

import (
	"io"

	"github.com/emersion/go-smtp"
)

// LMTPData receives a message over LMTP (RFC 2033). The message is delivered once, with every
// accepted recipient in Envelope.To, and every recipient gets the same reply: returning the
// outcome gives it to each recipient whose status was not set.
func (s *session) LMTPData(r io.Reader, _ smtp.StatusCollector) error {
	return s.receive(r)
}
