package poller

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

// errTimeout is wrapped by the error of an operation the server did not answer in time.
var errTimeout = errors.New("no answer in time")

// conn is one logged-in IMAP connection. imapclient takes no context and sets no deadline while
// it waits for a command's answer, so every operation runs under a watchdog that closes the
// TCP connection when it takes too long; ctx being done closes it too.
type conn struct {
	c       *imapclient.Client
	raw     net.Conn
	timeout time.Duration // per command
	delim   rune          // hierarchy delimiter, 0 when flat or unknown
	stop    func() bool   // stops the ctx watch
}

// dial connects (TLS, STARTTLS or plain), waits for the greeting and logs in. onExists is
// called, without blocking, when the server announces new messages in the selected folder.
func dial(ctx context.Context, ep endpoint, tlsConfig *tls.Config, o *Options, onExists func()) (*conn, error) {
	d := net.Dialer{Timeout: o.DialTimeout}
	raw, err := d.DialContext(ctx, "tcp", ep.addr)
	if err != nil {
		return nil, err
	}
	s := &conn{raw: raw, timeout: o.CommandTimeout}
	s.stop = context.AfterFunc(ctx, func() { raw.Close() })
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()

	cfg := &tls.Config{}
	if tlsConfig != nil {
		cfg = tlsConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = ep.host
	}
	var nc net.Conn = raw
	if ep.implicitTLS {
		tc := tls.Client(raw, cfg)
		hctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		nc = tc
	}
	opts := &imapclient.Options{
		TLSConfig: cfg,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(m *imapclient.UnilateralDataMailbox) {
				if m.NumMessages != nil {
					onExists()
				}
			},
		},
	}
	err = s.within(o.DialTimeout, "greeting", func() error {
		if ep.startTLS {
			c, err := imapclient.NewStartTLS(nc, opts)
			if err != nil {
				return fmt.Errorf("STARTTLS: %w", err)
			}
			s.c = c
			return nil
		}
		s.c = imapclient.New(nc, opts)
		return s.c.WaitGreeting()
	})
	if err != nil {
		return nil, err
	}
	if err := s.within(o.DialTimeout, fmt.Sprintf("login as %q", ep.user), func() error { return s.login(ep.user, ep.pass) }); err != nil {
		return nil, err
	}
	// The hierarchy delimiter, to turn "guichet/done" into the server's name.
	err = s.do("LIST", func() error {
		l, err := s.c.List("", "", nil).Collect()
		if err == nil && len(l) > 0 {
			s.delim = l[0].Delim
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

func (s *conn) login(user, pass string) error {
	caps := s.c.Caps()
	if caps.Has(imap.AuthCap(sasl.Plain)) {
		return s.c.Authenticate(sasl.NewPlainClient("", user, pass))
	}
	if caps.Has(imap.CapLoginDisabled) {
		return errors.New("the server offers neither AUTH=PLAIN nor LOGIN")
	}
	return s.c.Login(user, pass).Wait()
}

// close closes the connection at once: a clean LOGOUT is of no use to the guarantee.
func (s *conn) close() {
	s.stop()
	if s.c != nil {
		s.c.Close()
	} else {
		s.raw.Close()
	}
}

// do runs f under the command watchdog.
func (s *conn) do(what string, f func() error) error { return s.within(s.timeout, what, f) }

// within runs f, closing the connection if it takes longer than d.
func (s *conn) within(d time.Duration, what string, f func() error) error {
	var fired atomic.Bool
	t := time.AfterFunc(d, func() {
		fired.Store(true)
		s.raw.Close()
	})
	err := f()
	t.Stop()
	if fired.Load() {
		return fmt.Errorf("%s: %w after %v, connection closed", what, errTimeout, d)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// caps returns the server's capabilities.
func (s *conn) caps() imap.CapSet {
	var caps imap.CapSet
	s.do("CAPABILITY", func() error { caps = s.c.Caps(); return nil })
	return caps
}

// selectFolder selects name and returns its UIDVALIDITY and UIDNEXT (0 if not sent).
func (s *conn) selectFolder(name string) (*imap.SelectData, error) {
	var data *imap.SelectData
	err := s.do("SELECT "+name, func() error {
		var err error
		data, err = s.c.Select(name, nil).Wait()
		return err
	})
	if err != nil {
		return nil, err
	}
	if data.UIDValidity == 0 {
		return nil, fmt.Errorf("SELECT %s: the server gave no UIDVALIDITY", name)
	}
	return data, nil
}

// ensureFolder creates name (and subscribes to it) unless it exists.
func (s *conn) ensureFolder(name string) error {
	return s.do("CREATE "+name, func() error {
		l, err := s.c.List("", name, nil).Collect()
		if err != nil {
			return err
		}
		for _, m := range l {
			if m.Mailbox == name || (isInbox(name) && isInbox(m.Mailbox)) {
				return nil
			}
		}
		err = s.c.Create(name, nil).Wait()
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists {
			err = nil
		}
		if err != nil {
			return err
		}
		s.c.Subscribe(name).Wait() // so that people see it in their mail client; not required
		return nil
	})
}

func isInbox(name string) bool { return strings.EqualFold(name, "INBOX") }
