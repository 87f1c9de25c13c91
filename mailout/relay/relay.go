// Package relay delivers finished RFC 5322 messages for guichet's
// notification sender.
//
// A Transport is opened from a URL:
//
//	smtp://[user:pass@]host[:port]   port 25 by default; STARTTLS when offered
//	smtps://[user:pass@]host[:port]  port 465 by default; implicit TLS
//	maildir:PATH                     write each message into a local Maildir
//
// SMTP URLs accept these query parameters:
//
//	starttls=auto|required|never  (smtp:// only; default auto)
//	insecure_skip_verify=true     do not verify the relay's certificate
//	auth=plain|login              SASL mechanism; default PLAIN if offered, else LOGIN
//	max=N                         at most N connections (overrides Options.Concurrency)
//
// SMTP transports keep their connections open between messages in a small
// pool (see Options.Concurrency and Options.IdleTimeout). Options.Timeout
// bounds the dial, each command, the writing of the message and the wait for
// the relay's reply to the end of DATA. Messages should use CRLF line endings;
// bare LF is sent as CRLF, so the relay then sees CRLF.
//
// Every error returned by Send is an *Error; IsPermanent tells whether
// retrying can help.
package relay

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Transport delivers messages. Safe for concurrent use.
type Transport interface {
	// Send delivers msg from envelope sender `from` to the envelope recipients. It returns nil only once
	// the relay answered 250 to the end of DATA (or the Maildir file is durably written).
	Send(ctx context.Context, from string, to []string, msg []byte) error
	// Close releases the transport's connections. Sends started after Close fail.
	Close() error
	// String returns the URL without its password, for logs.
	String() string
}

// A BatchTransport also delivers several messages at once, sharing what each Send would do
// alone: a Maildir makes a batch durable with two syncs instead of two a message.
type BatchTransport interface {
	Transport
	// SendBatch delivers each envelope as Send would, and returns one error (nil, or an
	// *Error) an envelope, in order.
	SendBatch(ctx context.Context, es []Envelope) []error
}

// Envelope is one message of a batch, with its envelope sender and recipients.
type Envelope struct {
	From string
	To   []string
	Msg  []byte
}

// Options tunes a Transport. The zero value is usable.
type Options struct {
	Hello       string        // EHLO name; default os.Hostname() or "localhost"
	TLSConfig   *tls.Config   // base TLS config (tests put their RootCAs here); ServerName is set from the host
	Concurrency int           // at most this many simultaneous connections/sends; default 4 (URL ?max=N overrides)
	Timeout     time.Duration // per command / dial; default 30s
	IdleTimeout time.Duration // pooled connections unused this long are closed; default 30s
	Logger      *slog.Logger  // may be nil
}

// Defaults applied by Open to zero Options fields.
const (
	DefaultConcurrency = 4
	DefaultTimeout     = 30 * time.Second
	DefaultIdleTimeout = 30 * time.Second
)

// withDefaults validates o and fills in its zero fields.
func (o Options) withDefaults() (Options, error) {
	switch {
	case o.Concurrency < 0:
		return o, fmt.Errorf("relay: Options.Concurrency is negative (%d)", o.Concurrency)
	case o.Timeout < 0:
		return o, fmt.Errorf("relay: Options.Timeout is negative (%s)", o.Timeout)
	case o.IdleTimeout < 0:
		return o, fmt.Errorf("relay: Options.IdleTimeout is negative (%s)", o.IdleTimeout)
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Hello == "" {
		o.Hello = "localhost"
		if h, err := os.Hostname(); err == nil && validHello(h) {
			o.Hello = h
		}
	} else if !validHello(o.Hello) {
		return o, fmt.Errorf("relay: Options.Hello %q is not a valid EHLO name", o.Hello)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// validHello reports whether s can follow EHLO on the command line.
func validHello(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// Open returns the Transport described by rawURL. It does not connect:
// connection problems show up on Send. Close the Transport when done; an SMTP
// transport runs a goroutine that closes idle connections until then.
func Open(rawURL string, opts Options) (Transport, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if rawURL == "" {
		return nil, errors.New("relay: empty URL (want smtp://, smtps:// or maildir:PATH)")
	}
	if rest, ok := cutPrefixFold(rawURL, "maildir:"); ok {
		return openMaildir(rest, opts)
	}
	cfg, err := parseSMTPURL(rawURL, opts)
	if err != nil {
		return nil, err
	}
	return newSMTPTransport(cfg, opts), nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// STARTTLS policies for smtp:// URLs.
const (
	startTLSAuto     = "auto"
	startTLSRequired = "required"
	startTLSNever    = "never"
)

// smtpConfig is a parsed smtp:// or smtps:// URL.
type smtpConfig struct {
	name        string // URL without password
	host        string // without port or brackets
	addr        string // host:port
	implicitTLS bool
	startTLS    string
	user, pass  string
	hasUser     bool
	mech        string // "", "PLAIN" or "LOGIN"
	tlsConfig   *tls.Config
	concurrency int
}

// parseSMTPURL parses rawURL. Error messages never contain the password.
func parseSMTPURL(rawURL string, opts Options) (*smtpConfig, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the url.Error text repeats the URL, password included
		}
		return nil, fmt.Errorf("relay: cannot parse URL: %v", err)
	}
	scheme := strings.ToLower(u.Scheme)
	var defaultPort string
	switch scheme {
	case "smtp":
		defaultPort = "25"
	case "smtps":
		defaultPort = "465"
	case "":
		return nil, errors.New("relay: URL has no scheme (want smtp://, smtps:// or maildir:PATH)")
	default:
		return nil, fmt.Errorf("relay: unknown URL scheme %q (want smtp, smtps or maildir)", u.Scheme)
	}
	if u.Opaque != "" {
		return nil, fmt.Errorf("relay: %s URL must look like %s://host[:port]", scheme, scheme)
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("relay: %s URL has no host", scheme)
	}
	port := u.Port()
	if port == "" {
		port = defaultPort
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("relay: %s URL has an invalid port %q (want 1-65535)", scheme, port)
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("relay: %s URL must not have a path (got %q)", scheme, u.Path)
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("relay: %s URL must not have a fragment", scheme)
	}

	cfg := &smtpConfig{
		host:        host,
		addr:        net.JoinHostPort(host, port),
		implicitTLS: scheme == "smtps",
		startTLS:    startTLSAuto,
		concurrency: opts.Concurrency,
	}
	if u.User != nil {
		cfg.hasUser = true
		cfg.user = u.User.Username()
		cfg.pass, _ = u.User.Password()
		if cfg.user == "" {
			return nil, fmt.Errorf("relay: %s URL has credentials but an empty user name", scheme)
		}
	}

	insecure := false
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("relay: %s URL has a malformed query: %v", scheme, err)
	}
	for key, values := range query {
		if len(values) != 1 {
			return nil, fmt.Errorf("relay: URL parameter %q is given %d times", key, len(values))
		}
		value := values[0]
		switch key {
		case "starttls":
			if cfg.implicitTLS {
				return nil, errors.New("relay: starttls applies to smtp:// only (smtps:// always uses TLS)")
			}
			switch v := strings.ToLower(value); v {
			case startTLSAuto, startTLSRequired, startTLSNever:
				cfg.startTLS = v
			default:
				return nil, fmt.Errorf("relay: invalid starttls value %q (want auto, required or never)", value)
			}
		case "insecure_skip_verify":
			b, err := strconv.ParseBool(value)
			if err != nil {
				return nil, fmt.Errorf("relay: invalid insecure_skip_verify value %q (want true or false)", value)
			}
			insecure = b
		case "auth":
			switch v := strings.ToUpper(value); v {
			case "PLAIN", "LOGIN":
				cfg.mech = v
			default:
				return nil, fmt.Errorf("relay: invalid auth value %q (want plain or login)", value)
			}
		case "max":
			n, err := strconv.Atoi(value)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("relay: invalid max value %q (want a positive integer)", value)
			}
			cfg.concurrency = n
		default:
			return nil, fmt.Errorf("relay: unknown URL parameter %q (known: starttls, insecure_skip_verify, auth, max)", key)
		}
	}
	if cfg.mech != "" && !cfg.hasUser {
		return nil, fmt.Errorf("relay: auth=%s given but the URL has no user", strings.ToLower(cfg.mech))
	}
	if cfg.hasUser && !cfg.implicitTLS && cfg.startTLS == startTLSNever {
		if err := checkCleartextAuth(host, false); err != nil {
			return nil, fmt.Errorf("relay: starttls=never with credentials: %v", err)
		}
	}

	cfg.tlsConfig = opts.TLSConfig.Clone()
	if cfg.tlsConfig == nil {
		cfg.tlsConfig = &tls.Config{}
	}
	if cfg.tlsConfig.ServerName == "" {
		cfg.tlsConfig.ServerName = host
	}
	if insecure {
		cfg.tlsConfig.InsecureSkipVerify = true
	}

	safe := url.URL{Scheme: scheme, Host: cfg.addr, RawQuery: u.RawQuery}
	if cfg.hasUser {
		safe.User = url.User(cfg.user)
	}
	cfg.name = safe.String()
	return cfg, nil
}

// checkCleartextAuth refuses to send credentials over a connection that is
// not TLS, unless the relay is on this machine.
func checkCleartextAuth(host string, secure bool) error {
	if secure || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("refusing to send credentials over a connection without TLS to %s "+
		"(use smtps://, or smtp:// with a relay that offers STARTTLS)", host)
}

// isLoopback reports whether host names this machine: "localhost" or a
// loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Error is a failed delivery.
type Error struct {
	Code      int    // SMTP reply code, 0 for network/TLS/local errors
	Enhanced  string // "5.1.1" when the server gave one
	Message   string
	Permanent bool  // 5xx, or a configuration problem that retrying cannot fix (STARTTLS required but absent, credentials over clear text, auth refused with 5xx)
	Err       error // the underlying error

	relay string // the transport's String(), for Error()
}

// Error returns e.g. "relay smtp://host:587: 550 5.1.1 no such user".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("relay")
	if e.relay != "" {
		b.WriteString(" " + e.relay)
	}
	b.WriteString(":")
	if e.Code != 0 {
		fmt.Fprintf(&b, " %d", e.Code)
	}
	if e.Enhanced != "" {
		b.WriteString(" " + e.Enhanced)
	}
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if msg != "" {
		b.WriteString(" " + msg)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// IsPermanent reports whether err is an *Error that retrying cannot fix. It
// is false for nil, network errors, 4xx replies and context errors.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

// checkEnvelope rejects addresses that cannot be put on an SMTP command line
// or a header line.
func checkEnvelope(from string, to []string) error {
	if len(to) == 0 {
		return errors.New("no recipients")
	}
	if err := checkAddress(from); err != nil {
		return fmt.Errorf("envelope sender %q: %v", from, err)
	}
	for _, rcpt := range to {
		if rcpt == "" {
			return errors.New("empty recipient address")
		}
		if err := checkAddress(rcpt); err != nil {
			return fmt.Errorf("recipient %q: %v", rcpt, err)
		}
	}
	return nil
}

func checkAddress(addr string) error {
	if strings.ContainsAny(addr, "\r\n") {
		return errors.New("contains a line break")
	}
	if strings.ContainsAny(addr, "<>") {
		return errors.New("contains '<' or '>'; give the bare address")
	}
	return nil
}
