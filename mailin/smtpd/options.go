package smtpd

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net/netip"
	"time"
)

// Options configures a Server. The zero value of a field means its default; for the limits, a
// negative value means no limit.
type Options struct {
	// Addr is the SMTP listen address, default "127.0.0.1:2525"; "-" means no SMTP listener.
	Addr string
	// LMTPAddr is the LMTP listen address: "" for none, "host:port" for TCP or
	// "unix:/path/to/socket".
	LMTPAddr string
	// Domain is our hostname in the greeting, default "localhost".
	Domain string
	// MaxMessageSize is the largest message accepted, in bytes, default 25 MB. It is announced
	// in EHLO (SIZE), a MAIL FROM with a larger SIZE= is refused and so is a larger message
	// (552 5.3.4). It cannot be unlimited. (go-smtp's DATA reader also refuses a message of
	// exactly MaxMessageSize bytes: over DATA the largest message accepted is one byte less.)
	MaxMessageSize int64
	// AcceptRecipient decides RCPT TO; false gives 550 5.1.1. Required. It is called with the
	// address lower-cased, then, if that is refused and differs, with the address as sent.
	AcceptRecipient func(addr string) bool
	// TLSConfig enables STARTTLS when set.
	TLSConfig *tls.Config
	// AllowNets, when non-empty, admits only clients from these networks (others get 554 at
	// connection time). It applies to TCP listeners, not to a unix socket.
	AllowNets []netip.Prefix
	// MaxConnections bounds the open connections of each listener, default 100; beyond it new
	// connections get 421 4.7.0 and are closed.
	MaxConnections int
	// MaxConnPerIP bounds the open SMTP connections from one address (one /64 for IPv6),
	// default 20. It does not apply to LMTP, whose client is the local MTA.
	MaxConnPerIP int
	// MaxMsgsPerIPPerMinute bounds the SMTP transactions (MAIL FROM) one address may start in
	// any minute, default 600; beyond it MAIL FROM gets 451 4.7.1. It does not apply to LMTP.
	MaxMsgsPerIPPerMinute int
	// TrustedNets are clients the per-client limits do not apply to: the local MTA relaying all
	// mail to us from one address. nil means loopback (127.0.0.0/8 and ::1); empty, none.
	TrustedNets []netip.Prefix
	// ReadTimeout bounds each read: a command, or progress while receiving a message; default
	// 60s. WriteTimeout bounds each reply; default 60s.
	ReadTimeout, WriteTimeout time.Duration
	// DataTimeout is how long Deliver may take before the message is answered 451; default 60s.
	DataTimeout time.Duration
	// MaxRecipients bounds RCPT TO per message (452 4.5.3 beyond), default 100.
	MaxRecipients int
	// Logger receives the log; nil discards it.
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultAddr                  = "127.0.0.1:2525"
	DefaultDomain                = "localhost"
	DefaultMaxMessageSize        = 25 << 20
	DefaultMaxConnections        = 100
	DefaultMaxConnPerIP          = 20
	DefaultMaxMsgsPerIPPerMinute = 600
	DefaultTimeout               = 60 * time.Second
	DefaultMaxRecipients         = 100
)

// withDefaults returns a copy of o with the defaults filled in and the "no limit" values
// (negative) turned into 0.
func (o *Options) withDefaults() (Options, error) {
	var r Options
	if o != nil {
		r = *o
	}
	if r.AcceptRecipient == nil {
		return r, errors.New("smtpd: Options.AcceptRecipient is required")
	}
	if r.Addr == "" {
		r.Addr = DefaultAddr
	}
	if r.Domain == "" {
		r.Domain = DefaultDomain
	}
	if r.MaxMessageSize <= 0 {
		r.MaxMessageSize = DefaultMaxMessageSize
	}
	limit := func(v *int, def int) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			*v = 0
		}
	}
	limit(&r.MaxConnections, DefaultMaxConnections)
	if r.TrustedNets == nil {
		r.TrustedNets = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	limit(&r.MaxConnPerIP, DefaultMaxConnPerIP)
	limit(&r.MaxMsgsPerIPPerMinute, DefaultMaxMsgsPerIPPerMinute)
	limit(&r.MaxRecipients, DefaultMaxRecipients)
	timeout := func(v *time.Duration) {
		if *v <= 0 {
			*v = DefaultTimeout
		}
	}
	timeout(&r.ReadTimeout)
	timeout(&r.WriteTimeout)
	timeout(&r.DataTimeout)
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	r.AllowNets = append([]netip.Prefix(nil), r.AllowNets...)
	return r, nil
}
