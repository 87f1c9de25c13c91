package relay

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// smtpTransport delivers through an SMTP relay, keeping up to
// cfg.concurrency connections open.
//
// Each Send holds one slot while it runs, so at most cfg.concurrency sends
// are in flight. A send reuses the most recently idle connection and dials
// only when none is idle; since every open connection is either idle or owned
// by a slot holder, there are never more connections than slots.
type smtpTransport struct {
	cfg         *smtpConfig
	hello       string
	timeout     time.Duration
	idleTimeout time.Duration
	log         *slog.Logger

	slots   chan struct{}
	done    chan struct{} // closed by Close
	once    sync.Once
	janitor sync.WaitGroup

	mu     sync.Mutex
	idle   []*pooledConn // most recently used last
	closed bool
}

// pooledConn is one SMTP session, ready for MAIL FROM.
type pooledConn struct {
	client    *smtp.Client
	raw       *abortConn
	uses      int       // messages accepted on this connection
	dirty     bool      // a transaction may be open on the server: RSET first
	idleSince time.Time // when it last went back to the pool; zero if never
}

func newSMTPTransport(cfg *smtpConfig, opts Options) *smtpTransport {
	t := &smtpTransport{
		cfg:         cfg,
		hello:       opts.Hello,
		timeout:     opts.Timeout,
		idleTimeout: opts.IdleTimeout,
		log:         opts.Logger.With("relay", cfg.name),
		slots:       make(chan struct{}, cfg.concurrency),
		done:        make(chan struct{}),
	}
	t.janitor.Add(1)
	go t.sweep()
	return t
}

// String returns the URL without its password.
func (t *smtpTransport) String() string { return t.cfg.name }

// Send delivers msg; see Transport.
func (t *smtpTransport) Send(ctx context.Context, from string, to []string, msg []byte) error {
	if err := checkEnvelope(from, to); err != nil {
		return t.errorf(true, err, "%v", err)
	}
	if err := ctx.Err(); err != nil {
		return t.wrap(ctx, err)
	}
	select {
	case <-t.done:
		return t.errorf(false, nil, "transport is closed")
	default:
	}
	select {
	case t.slots <- struct{}{}:
	case <-ctx.Done():
		return t.wrap(ctx, ctx.Err())
	case <-t.done:
		return t.errorf(false, nil, "transport is closed")
	}
	defer func() { <-t.slots }()

	pc, err := t.take(ctx)
	if err != nil {
		return t.wrap(ctx, err)
	}
	stale, err := t.deliver(ctx, pc, from, to, msg)
	if err != nil && stale {
		// The relay has accepted nothing: try once more on a new connection.
		t.log.Debug("pooled connection is gone, retrying on a new one", "err", err)
		if pc, err = t.dial(ctx); err != nil {
			return t.wrap(ctx, err)
		}
		_, err = t.deliver(ctx, pc, from, to, msg)
	}
	if err != nil {
		return t.wrap(ctx, err)
	}
	return nil
}

// take returns an idle connection, or a new one.
func (t *smtpTransport) take(ctx context.Context) (*pooledConn, error) {
	for {
		t.mu.Lock()
		n := len(t.idle)
		if n == 0 {
			t.mu.Unlock()
			return t.dial(ctx)
		}
		pc := t.idle[n-1]
		t.idle = slices.Delete(t.idle, n-1, n)
		t.mu.Unlock()
		if time.Since(pc.idleSince) < t.idleTimeout {
			return pc, nil
		}
		t.quit(pc)
	}
}

// put returns a healthy connection to the pool.
func (t *smtpTransport) put(pc *pooledConn) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		t.quit(pc)
		return
	}
	pc.idleSince = time.Now()
	t.idle = append(t.idle, pc)
	t.mu.Unlock()
}

// discard closes a connection that cannot be trusted any more.
func (t *smtpTransport) discard(pc *pooledConn) {
	pc.client.Close()
	t.log.Debug("connection dropped", "messages", pc.uses)
}

// quit closes a healthy connection politely.
func (t *smtpTransport) quit(pc *pooledConn) {
	pc.client.CommandTimeout = min(t.timeout, 5*time.Second)
	if err := pc.client.Quit(); err != nil {
		pc.client.Close()
	}
	t.log.Debug("connection closed", "messages", pc.uses)
}

// sweep closes connections idle for longer than idleTimeout, until Close.
func (t *smtpTransport) sweep() {
	defer t.janitor.Done()
	tick := time.NewTicker(max(t.idleTimeout/2, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-t.done:
			return
		case now := <-tick.C:
			for t.closeExpired(now) {
			}
		}
	}
}

// closeExpired QUITs one connection idle since before now-idleTimeout and
// reports whether it found one. It holds a slot meanwhile, so that the
// connection being closed still counts against the limit; when every slot is
// busy it does nothing (the idle connections are about to be used anyway).
func (t *smtpTransport) closeExpired(now time.Time) bool {
	select {
	case t.slots <- struct{}{}:
	default:
		return false
	}
	defer func() { <-t.slots }()

	t.mu.Lock()
	var pc *pooledConn
	for i, c := range t.idle {
		if now.Sub(c.idleSince) >= t.idleTimeout {
			pc = c
			t.idle = slices.Delete(t.idle, i, i+1)
			break
		}
	}
	t.mu.Unlock()
	if pc == nil {
		return false
	}
	t.quit(pc)
	return true
}

// Close stops the janitor and QUITs idle connections. Sends in flight finish,
// then close their connection; later sends fail.
func (t *smtpTransport) Close() error {
	t.once.Do(func() { close(t.done) })
	t.janitor.Wait()
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.closed = true
	t.mu.Unlock()
	for _, pc := range idle {
		t.quit(pc)
	}
	return nil
}

// dial opens, secures and authenticates a new connection.
func (t *smtpTransport) dial(ctx context.Context) (*pooledConn, error) {
	d := net.Dialer{Timeout: t.timeout}
	nc, err := d.DialContext(ctx, "tcp", t.cfg.addr)
	if err != nil {
		return nil, err
	}
	raw := &abortConn{Conn: nc}
	stop := context.AfterFunc(ctx, raw.abort)
	c, err := t.handshake(raw)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		if c != nil {
			c.Close()
		} else {
			nc.Close()
		}
		return nil, err
	}
	t.log.Debug("connection opened")
	return &pooledConn{client: c, raw: raw}, nil
}

// handshake runs greeting, EHLO, TLS and AUTH on a new connection. On error
// the returned client, if any, must be closed.
func (t *smtpTransport) handshake(raw *abortConn) (*smtp.Client, error) {
	var conn net.Conn = raw
	secure := false
	if t.cfg.implicitTLS {
		tc := tls.Client(raw, t.cfg.tlsConfig)
		raw.SetDeadline(time.Now().Add(t.timeout))
		if err := tc.Handshake(); err != nil {
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		raw.SetDeadline(time.Time{})
		conn, secure = tc, true
	}
	c := newClient(conn, t.timeout)
	if err := c.Hello(t.hello); err != nil {
		return c, fmt.Errorf("greeting: %w", err)
	}

	if !secure && t.cfg.startTLS != startTLSNever {
		if ok, _ := c.Extension("STARTTLS"); ok {
			tc, err := startTLS(raw, t.cfg.tlsConfig, t.hello, t.timeout)
			if err != nil {
				return c, err
			}
			c, secure = tc, true
		} else if t.cfg.startTLS == startTLSRequired {
			return c, &Error{Permanent: true,
				Message: fmt.Sprintf("starttls=required but %s does not offer STARTTLS", t.cfg.host)}
		}
	}

	if t.cfg.hasUser {
		if err := checkCleartextAuth(t.cfg.host, secure); err != nil {
			return c, &Error{Permanent: true, Message: err.Error(), Err: err}
		}
		if err := t.auth(c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// auth logs in with the URL's credentials.
func (t *smtpTransport) auth(c *smtp.Client) error {
	ok, offered := c.Extension("AUTH")
	if !ok {
		return &Error{Permanent: true,
			Message: fmt.Sprintf("the URL has credentials but %s does not offer AUTH", t.cfg.host)}
	}
	mech := t.cfg.mech
	if mech == "" {
		switch {
		case c.SupportsAuth("PLAIN"):
			mech = "PLAIN"
		case c.SupportsAuth("LOGIN"):
			mech = "LOGIN"
		default:
			return &Error{Permanent: true,
				Message: fmt.Sprintf("%s offers neither AUTH PLAIN nor LOGIN (offers %s)", t.cfg.host, offered)}
		}
	} else if !c.SupportsAuth(mech) {
		return &Error{Permanent: true,
			Message: fmt.Sprintf("auth=%s but %s offers only AUTH %s", strings.ToLower(mech), t.cfg.host, offered)}
	}
	var a sasl.Client = &loginClient{user: t.cfg.user, pass: t.cfg.pass}
	if mech == "PLAIN" {
		a = sasl.NewPlainClient("", t.cfg.user, t.cfg.pass)
	}
	if err := c.Auth(a); err != nil {
		return fmt.Errorf("AUTH %s as %q: %w", mech, t.cfg.user, err)
	}
	return nil
}

// deliver runs one transaction on pc and then pools or drops pc. stale
// reports a failure that shows pc, taken from the pool, had died while idle,
// before the relay could accept anything: the caller may retry elsewhere.
func (t *smtpTransport) deliver(ctx context.Context, pc *pooledConn, from string, to []string, msg []byte) (stale bool, err error) {
	reused := !pc.idleSince.IsZero()
	stop := context.AfterFunc(ctx, pc.raw.abort)
	handedOver, err := t.transact(pc, from, to, msg)
	aborted := !stop()
	if err == nil {
		pc.uses++
	}
	if aborted || !inSync(err) {
		t.discard(pc)
	} else {
		t.put(pc)
	}
	if err != nil && aborted {
		return false, ctx.Err()
	}
	return err != nil && reused && !handedOver && isStale(err), err
}

// transact sends one message. handedOver reports whether the whole message
// was sent, after which the relay may have accepted it whatever happens.
func (t *smtpTransport) transact(pc *pooledConn, from string, to []string, msg []byte) (handedOver bool, err error) {
	c := pc.client
	if pc.dirty {
		if err := c.Reset(); err != nil {
			return false, fmt.Errorf("RSET: %w", err)
		}
		pc.dirty = false
	}
	opts := &smtp.MailOptions{Size: int64(len(msg))}
	if !isASCII(from) || !isASCII(strings.Join(to, "")) {
		if ok, _ := c.Extension("SMTPUTF8"); !ok {
			return false, &Error{Permanent: true,
				Message: "addresses are not ASCII and the relay does not offer SMTPUTF8"}
		}
		opts.UTF8 = true
	}

	pc.dirty = true
	if err := c.Mail(from, opts); err != nil {
		return false, fmt.Errorf("MAIL FROM:<%s>: %w", from, err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt, nil); err != nil {
			return false, fmt.Errorf("RCPT TO:<%s>: %w", rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return false, fmt.Errorf("DATA: %w", err)
	}
	if err := t.writeData(pc.raw, w, msg); err != nil {
		return false, fmt.Errorf("sending message: %w", err)
	}
	err = w.Close()
	var reply *smtp.SMTPError
	if err == nil || errors.As(err, &reply) {
		pc.dirty = false // the relay answered: the transaction is over
	}
	if err != nil {
		return true, fmt.Errorf("end of DATA: %w", err)
	}
	return true, nil
}

// writeData copies msg to w, giving each chunk the command timeout (go-smtp
// sets no deadline while the message is written).
func (t *smtpTransport) writeData(raw *abortConn, w io.Writer, msg []byte) error {
	const chunk = 64 << 10
	for len(msg) > 0 {
		n := min(len(msg), chunk)
		raw.SetDeadline(time.Now().Add(t.timeout))
		if _, err := w.Write(msg[:n]); err != nil {
			return err
		}
		msg = msg[n:]
	}
	raw.SetDeadline(time.Now().Add(t.timeout)) // for the final flush in Close
	return nil
}

// inSync reports whether the connection can carry another message after err:
// the relay answered in-band (other than 421, "closing"), or we refused
// before writing anything.
func inSync(err error) bool {
	if err == nil {
		return true
	}
	var local *Error
	if errors.As(err, &local) {
		return true
	}
	var reply *smtp.SMTPError
	return errors.As(err, &reply) && reply.Code != 421
}

// isStale reports whether err looks like a connection closed by the relay
// while idle: EOF, reset, broken pipe, or a 421 reply. Timeouts are not
// stale: the relay is slow, and another connection would wait as long.
func isStale(err error) bool {
	var reply *smtp.SMTPError
	if errors.As(err, &reply) {
		return reply.Code == 421
	}
	var local *Error
	if errors.As(err, &local) {
		return false
	}
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// wrap turns err into an *Error naming this relay.
func (t *smtpTransport) wrap(ctx context.Context, err error) *Error {
	return classify(ctx, t.cfg.name, err)
}

// errorf returns a local *Error (Code 0).
func (t *smtpTransport) errorf(permanent bool, err error, format string, args ...any) *Error {
	return &Error{relay: t.cfg.name, Permanent: permanent, Message: fmt.Sprintf(format, args...), Err: err}
}

// classify builds the *Error for err: SMTP replies keep their codes (5xx
// permanent), context ends and network or TLS failures are temporary.
func classify(ctx context.Context, relay string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		e.relay = relay
		return e
	}
	var reply *smtp.SMTPError
	if errors.As(err, &reply) {
		e := &Error{relay: relay, Code: reply.Code, Message: reply.Message, Err: err,
			Permanent: reply.Code >= 500 && reply.Code < 600}
		if ec := reply.EnhancedCode; ec != smtp.EnhancedCodeNotSet && ec != smtp.NoEnhancedCode {
			e.Enhanced = fmt.Sprintf("%d.%d.%d", ec[0], ec[1], ec[2])
		}
		return e
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return &Error{relay: relay, Message: "gave up: " + ctxErr.Error(), Err: ctxErr}
	}
	return &Error{relay: relay, Message: err.Error(), Err: err}
}
