package smtpd

import (
	"strings"

	"github.com/emersion/go-smtp"
)

// The replies this package gives, beyond those go-smtp gives itself. Each call returns a fresh
// value so that nothing shared can be changed.

// replyStored is the 250 of a message that is committed: go-smtp's own says "queued", which is
// not what guichet does (an MTA's log shows the text: "status=sent (250 2.0.0 OK: stored)").
// go-smtp writes a returned SMTPError's code as it is, 2xx included.
func replyStored() *smtp.SMTPError {
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "OK: stored"}
}

func replyTryLater() *smtp.SMTPError {
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Requested action aborted: try again later"}
}

func replyReadFailed() *smtp.SMTPError {
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 2},
		Message: "Error while receiving the message: try again later"}
}

func replyTooBig() *smtp.SMTPError {
	return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
		Message: "Message size exceeds fixed maximum message size"}
}

func replyRateLimited() *smtp.SMTPError {
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1},
		Message: "Too many messages from your address: try again later"}
}

func replyUnknownRecipient() *smtp.SMTPError {
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
		Message: "No such recipient here"}
}

func replyTooManyRecipients() *smtp.SMTPError {
	return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 5, 3},
		Message: "Too many recipients"}
}

// replyRejected answers a message the deliverer refused, with the refusal's text made safe
// for a reply line.
func replyRejected(err error) *smtp.SMTPError {
	return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
		Message: replyText(err.Error())}
}

// replyText keeps text to one line of printable characters, at most 400 bytes.
func replyText(s string) string {
	const max = 400
	var b strings.Builder
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			r = ' '
		}
		if b.Len()+len(string(r)) > max {
			break
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// Greeting-time refusals, written on the raw connection before go-smtp sees it.

func lineAccessDenied(domain string) string {
	return "554 5.7.1 " + domain + " Access denied\r\n"
}

func lineTooManyConns(domain string) string {
	return "421 4.7.0 " + domain + " Too many connections, try again later\r\n"
}

func lineShuttingDown(domain string) string {
	return "421 4.3.2 " + domain + " Service shutting down, try again later\r\n"
}
