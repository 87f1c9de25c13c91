package smtpd

import (
	"errors"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/emersion/go-smtp"
)

// session is one SMTP or LMTP session, from HELO/EHLO/LHLO to the end of the connection (a new
// one begins after STARTTLS). go-smtp calls its methods from the connection's goroutine, except
// Data over BDAT and LMTPData, which it calls from another one; mu guards the transaction.
type session struct {
	srv    *Server
	proto  string
	conn   *trackedConn // nil only if go-smtp hands us a connection we did not admit
	remote string
	tls    bool
	key    netip.Addr // client key for the message rate
	rated  bool       // the message rate applies

	mu       sync.Mutex
	from     string
	sizeHint int64    // SIZE= of MAIL FROM
	to       []string // accepted recipients, without duplicates
}

var (
	_ smtp.Session     = (*session)(nil)
	_ smtp.LMTPSession = (*session)(nil)
)

func (s *Server) newSession(c *smtp.Conn, l *listener) *session {
	sess := &session{srv: s, proto: l.proto, conn: tracked(c.Conn())}
	_, sess.tls = c.TLSConnectionState()
	if tc := sess.conn; tc != nil {
		sess.remote, sess.key, sess.rated = tc.remote, tc.key, l.perIP && tc.hasKey
	} else {
		sess.remote = c.Conn().RemoteAddr().String()
		if ip, ok := remoteIP(c.Conn().RemoteAddr()); ok && l.perIP && !inNets(s.opts.TrustedNets, ip) {
			sess.key, sess.rated = clientKey(ip), true
		}
	}
	s.log.Debug("session", "remote", sess.remote, "proto", sess.proto, "helo", c.Hostname(), "tls", sess.tls)
	return sess
}

// Mail starts a transaction. The null sender (from == "") is accepted: bounces come that way.
func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	var size int64
	if opts != nil {
		size = opts.Size
	}
	if size > s.srv.opts.MaxMessageSize { // go-smtp checks it too
		return replyTooBig()
	}
	if s.rated && !s.srv.rate.allow(s.key) {
		s.srv.log.Info("message rate exceeded", "remote", s.remote, "from", from)
		return replyRateLimited()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.from, s.sizeHint, s.to = from, size, nil
	return nil
}

// Rcpt accepts a recipient only if AcceptRecipient does: never a relay, and an unknown address
// is refused now rather than bounced later.
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.mu.Lock()
	n := len(s.to)
	s.mu.Unlock()
	if limit := s.srv.opts.MaxRecipients; limit > 0 && n >= limit { // go-smtp checks it too
		return replyTooManyRecipients()
	}

	addr := strings.ToLower(to)
	if !s.srv.opts.AcceptRecipient(addr) {
		if addr == to || !s.srv.opts.AcceptRecipient(to) {
			s.srv.log.Info("recipient refused", "remote", s.remote, "rcpt", to)
			return replyUnknownRecipient()
		}
		addr = to
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.to, addr) {
		s.to = append(s.to, addr)
	}
	return nil
}

// Data receives the message and answers 250 only once it is stored.
func (s *session) Data(r io.Reader) error {
	return s.receive(r)
}

// Reset ends the transaction (RSET, a new EHLO, the end of DATA once its reply is written).
func (s *session) Reset() {
	s.mu.Lock()
	s.from, s.sizeHint, s.to = "", 0, nil
	s.mu.Unlock()
	if s.conn != nil {
		s.conn.setInData(false)
	}
}

// Logout is called when the session ends; there is nothing to free.
func (s *session) Logout() error {
	return nil
}

// receive reads the message, within the size limit, and delivers it.
//
// The connection is in DATA from here until Reset, which go-smtp calls once the reply is
// written: reads extend their deadline (go-smtp reads the rest of a message too big after
// receive returns) and Shutdown leaves the session alone until then.
func (s *session) receive(r io.Reader) error {
	if s.conn != nil {
		s.conn.setInData(true)
	}
	s.mu.Lock()
	env := Envelope{
		From:       s.from,
		To:         slices.Clone(s.to),
		RemoteAddr: s.remote,
		Proto:      s.proto,
		TLS:        s.tls,
	}
	hint := s.sizeHint
	s.mu.Unlock()

	raw, err := readMessage(r, s.srv.opts.MaxMessageSize, hint)
	switch {
	case err == nil:
	case errors.Is(err, errTooBig):
		s.srv.log.Info("message too big", "remote", s.remote, "from", env.From,
			"max", s.srv.opts.MaxMessageSize)
		return replyTooBig()
	case errors.Is(err, smtp.ErrDataReset): // BDAT transfer abandoned (RSET): nothing to say
		return replyReadFailed()
	default:
		// The stream is broken or in an unknown state: answer, then end the session.
		if s.conn != nil {
			s.conn.stop()
			s.conn.setInData(false)
		}
		s.srv.log.Info("message not received", "remote", s.remote, "from", env.From, "error", err)
		return replyReadFailed()
	}
	if err := s.srv.deliver(raw, env); err != nil {
		return err
	}
	return replyStored()
}
