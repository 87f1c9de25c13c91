package smtpd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-smtp"
)

// lmtpListener listens for LMTP over TCP or on a unix socket.
func lmtpListener(t *testing.T, network string) net.Listener {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(shortTempDir(t), "lmtp.sock")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatalf("listen %s: %v", network, err)
	}
	return ln
}

func dialLMTP(t *testing.T, addr net.Addr) *smtp.Client {
	t.Helper()
	conn, err := net.Dial(addr.Network(), addr.String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := smtp.NewClientLMTP(conn)
	if err := c.Hello("mta.test"); err != nil {
		c.Close()
		t.Fatalf("LHLO: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sendLMTP runs one LMTP transaction and returns the per-recipient replies.
func sendLMTP(t *testing.T, c *smtp.Client, to []string, msg string) (map[string]*smtp.DataResponse, error) {
	t.Helper()
	if err := c.Mail("jean@client.example", nil); err != nil {
		t.Fatalf("MAIL: %v", err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt, nil); err != nil {
			t.Fatalf("RCPT %s: %v", rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatalf("DATA: %v", err)
	}
	fmt.Fprint(w, msg)
	return w.CloseWithLMTPResponse()
}

func TestLMTP(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			var fail atomic.Bool
			d := &fakeDeliverer{fn: func(context.Context, []byte, Envelope) error {
				if fail.Load() {
					return errors.New("database is down")
				}
				return nil
			}}
			ln := lmtpListener(t, network)
			srv, _ := startServer(t, d, testOptions(t), ln)
			eventually(t, "LMTPAddrActual", func() bool { return srv.LMTPAddrActual() != nil })
			if got, want := srv.LMTPAddrActual().String(), ln.Addr().String(); got != want {
				t.Errorf("got LMTPAddrActual %s, want %s", got, want)
			}
			to := []string{"support@support.example", "billing@support.example"}

			c := dialLMTP(t, ln.Addr())
			msg := testMessage("lmtp@test")
			resp, err := sendLMTP(t, c, to, msg)
			if err != nil {
				t.Fatalf("got %v, want 250 for each recipient", err)
			}
			if len(resp) != 2 || resp[to[0]] == nil || resp[to[1]] == nil {
				t.Fatalf("got replies %v, want one 250 for each of %v", resp, to)
			}
			for rcpt, r := range resp {
				if !strings.HasSuffix(r.StatusText, "OK: stored") {
					t.Errorf("%s: got %q, want …OK: stored", rcpt, r.StatusText)
				}
			}
			calls := d.deliveries()
			if len(calls) != 1 {
				t.Fatalf("got %d Deliver calls, want 1 for the message", len(calls))
			}
			env := calls[0].env
			if !slices.Equal(env.To, to) || env.Proto != ProtoLMTP || string(calls[0].raw) != msg {
				t.Errorf("got To %v Proto %q, want %v lmtp and the message as sent", env.To, env.Proto, to)
			}

			fail.Store(true)
			_, err = sendLMTP(t, c, to, testMessage("lmtp-fail@test"))
			var lerr smtp.LMTPDataError
			if !errors.As(err, &lerr) {
				t.Fatalf("got %v (%T), want an LMTPDataError", err, err)
			}
			if len(lerr) != 2 {
				t.Fatalf("got %d recipient errors, want 2", len(lerr))
			}
			for rcpt, se := range lerr {
				if se.Code != 451 || se.EnhancedCode != (smtp.EnhancedCode{4, 3, 0}) {
					t.Errorf("%s: got %d %v, want 451 4.3.0", rcpt, se.Code, se.EnhancedCode)
				}
			}
			if got := len(d.deliveries()); got != 2 {
				t.Errorf("got %d Deliver calls, want 2 (one per message)", got)
			}
		})
	}
}

// ListenAndServe opens a unix socket given as "unix:/path" and replaces a stale one.
func TestListenAndServeUnix(t *testing.T) {
	path := filepath.Join(shortTempDir(t), "lmtp.sock")
	// A stale socket file: its listener is gone without removing it.
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()

	o := testOptions(t)
	o.Addr = "127.0.0.1:0"
	o.LMTPAddr = "unix:" + path
	d := &fakeDeliverer{}
	srv, err := New(d, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()

	if srv.Addr() == nil || srv.LMTPAddrActual() == nil {
		t.Fatalf("got Addr %v LMTPAddrActual %v, want both", srv.Addr(), srv.LMTPAddrActual())
	}
	c := dialLMTP(t, srv.LMTPAddrActual())
	if _, err := sendLMTP(t, c, []string{"support@support.example"}, testMessage("unix@test")); err != nil {
		t.Fatalf("got %v, want 250", err)
	}
	s := dial(t, srv.Addr().String())
	if err := send(s, "a@client.example", []string{"support@support.example"}, testMessage("tcp@test")); err != nil {
		t.Fatalf("got %v, want 250", err)
	}
	c.Close()
	s.Close()
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("ListenAndServe: got %v, want nil after Shutdown", err)
	}
}
