package smtpd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
)

// Envelope is what the SMTP transaction says beyond the message.
type Envelope struct {
	From       string   // MAIL FROM, "" for the null sender <>
	To         []string // accepted RCPT TO addresses (for LMTP: the recipients this delivery is for)
	RemoteAddr string   // the client's address, "host:port" (or "unix:/path" on a unix socket)
	Proto      string   // "smtp" or "lmtp"
	TLS        bool     // the message came over TLS (STARTTLS)
}

// Deliverer stores one message. It returns nil only once the message is durably stored
// (committed: a ticket, a follow-up, a quarantine entry, or found to be a duplicate of a stored
// one). Any error means "not stored": the receiver answers 451 4.3.0 so that the sender retries,
// unless the error wraps ErrRejected (then 554 5.6.0 with the error's text), which the deliverer
// uses for messages it refuses outright. Deliver is called concurrently from many sessions.
//
// The ctx carries Options.DataTimeout; the receiver answers 451 when it expires even if Deliver
// has not returned, so a Deliver that commits after its ctx ended may see the message again
// (the sender retries) and must recognise it as a duplicate.
type Deliverer interface {
	Deliver(ctx context.Context, raw []byte, env Envelope) error
}

// ErrRejected, wrapped in an error returned by Deliver, refuses a message for good (554 5.6.0).
var ErrRejected = errors.New("smtpd: message rejected")

// Protocol names used in Envelope.Proto.
const (
	ProtoSMTP = "smtp"
	ProtoLMTP = "lmtp"
)

// deliver hands one message to the deliverer and turns the outcome into the reply: nil (250)
// only when Deliver returned nil.
func (s *Server) deliver(raw []byte, env Envelope) error {
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.DataTimeout)
	defer cancel()

	// Deliver runs in a goroutine of its own so that the reply is bounded by DataTimeout even
	// when Deliver ignores its ctx, and so that a panic in it is contained here.
	s.acquire()
	res := make(chan error, 1)
	go func() {
		defer s.release()
		res <- s.callDeliver(ctx, raw, env)
	}()

	var err error
	select {
	case err = <-res:
	case <-ctx.Done():
		select {
		case err = <-res: // it finished just in time: its answer wins
		default:
			err = fmt.Errorf("smtpd: Deliver did not return in time: %w", context.Cause(ctx))
		}
	}

	switch {
	case err == nil:
		if s.log.Enabled(context.Background(), slog.LevelInfo) {
			s.log.Info("message accepted", "remote", env.RemoteAddr, "message_id", messageID(raw),
				"proto", env.Proto, "from", env.From, "rcpts", len(env.To), "size", len(raw), "tls", env.TLS)
		}
		return nil
	case errors.Is(err, ErrRejected):
		s.log.Info("message rejected", "remote", env.RemoteAddr, "message_id", messageID(raw),
			"proto", env.Proto, "from", env.From, "error", err)
		return replyRejected(err)
	default:
		s.log.Warn("message not stored, sender will retry", "remote", env.RemoteAddr,
			"message_id", messageID(raw), "proto", env.Proto, "from", env.From, "error", err)
		return replyTryLater()
	}
}

// callDeliver calls the deliverer and turns a panic into an error.
func (s *Server) callDeliver(ctx context.Context, raw []byte, env Envelope) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("smtpd: panic in Deliver: %v", p)
			s.log.Error("panic in Deliver", "remote", env.RemoteAddr, "message_id", messageID(raw),
				"error", err, "stack", string(debug.Stack()))
		}
	}()
	return s.d.Deliver(ctx, raw, env)
}
