package relay

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// longAgo is a deadline in the past: setting it makes pending I/O fail now.
var longAgo = time.Unix(1, 0)

// abortConn is the TCP connection under an SMTP client. Once aborted (the
// Send's context ended) every deadline becomes "now", so the deadlines that
// go-smtp sets before each command cannot revive it.
type abortConn struct {
	net.Conn

	mu      sync.Mutex
	aborted bool
}

func (c *abortConn) abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.aborted = true
	c.Conn.SetDeadline(longAgo)
}

func (c *abortConn) deadline(t time.Time) time.Time {
	if c.aborted {
		return longAgo
	}
	return t
}

func (c *abortConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.SetDeadline(c.deadline(t))
}

func (c *abortConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.SetReadDeadline(c.deadline(t))
}

func (c *abortConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.SetWriteDeadline(c.deadline(t))
}

// greetedConn replays a synthetic 220 greeting before the real stream.
//
// go-smtp v0.25 has no exported way to issue STARTTLS on an existing Client
// without giving up the EHLO name and the "only if offered" choice, so
// startTLS issues the command itself and hands the TLS connection to a new
// Client, which insists on reading a greeting first.
type greetedConn struct {
	net.Conn
	pending []byte
}

func (c *greetedConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// byteReader reads one byte at a time so that reading the STARTTLS reply
// never consumes the start of the TLS handshake.
type byteReader struct{ r io.Reader }

func (b byteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return b.r.Read(p)
}

// startTLS sends STARTTLS on raw, which carries an SMTP session that has
// already said EHLO, and returns a Client speaking over TLS (EHLO done again,
// as RFC 3207 requires).
func startTLS(raw *abortConn, cfg *tls.Config, hello string, timeout time.Duration) (*smtp.Client, error) {
	raw.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(raw, "STARTTLS\r\n"); err != nil {
		return nil, fmt.Errorf("STARTTLS: %w", err)
	}
	code, msg, err := textproto.NewReader(bufio.NewReader(byteReader{raw})).ReadResponse(220)
	if err != nil {
		var pe *textproto.Error
		if errors.As(err, &pe) {
			return nil, replyError(code, msg)
		}
		return nil, fmt.Errorf("STARTTLS: %w", err)
	}
	tc := tls.Client(raw, cfg)
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("TLS handshake after STARTTLS: %w", err)
	}
	raw.SetDeadline(time.Time{})

	c := newClient(&greetedConn{Conn: tc, pending: []byte("220 TLS started\r\n")}, timeout)
	if err := c.Hello(hello); err != nil {
		return nil, fmt.Errorf("EHLO after STARTTLS: %w", err)
	}
	return c, nil
}

// newClient wraps conn in a go-smtp Client with our timeouts.
func newClient(conn net.Conn, timeout time.Duration) *smtp.Client {
	c := smtp.NewClient(conn)
	c.CommandTimeout = timeout
	c.SubmissionTimeout = timeout
	return c
}

// replyError turns a raw reply into the *smtp.SMTPError go-smtp would have
// produced, enhanced status code included.
func replyError(code int, msg string) *smtp.SMTPError {
	e := &smtp.SMTPError{Code: code, Message: msg}
	first, rest, ok := strings.Cut(msg, " ")
	if !ok {
		return e
	}
	parts := strings.Split(first, ".")
	if len(parts) != 3 {
		return e
	}
	var ec smtp.EnhancedCode
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return e
		}
		ec[i] = n
	}
	e.EnhancedCode = ec
	e.Message = rest
	return e
}

// loginClient is the SASL LOGIN mechanism. Unlike go-sasl's, it sends no
// initial response and answers the "Username:" then "Password:" prompts,
// which every LOGIN server accepts.
type loginClient struct {
	user, pass string
	step       int
}

var _ sasl.Client = (*loginClient)(nil)

func (a *loginClient) Start() (string, []byte, error) {
	return "LOGIN", nil, nil
}

func (a *loginClient) Next(challenge []byte) ([]byte, error) {
	a.step++
	switch a.step {
	case 1:
		return []byte(a.user), nil
	case 2:
		return []byte(a.pass), nil
	default:
		return nil, fmt.Errorf("unexpected LOGIN challenge %q after the password", challenge)
	}
}
