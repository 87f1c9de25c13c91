package smtpd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// delivery is one call of Deliver as the fake deliverer saw it.
type delivery struct {
	raw []byte
	env Envelope
}

// fakeDeliverer records every call; fn, if set, decides the outcome.
type fakeDeliverer struct {
	fn func(ctx context.Context, raw []byte, env Envelope) error

	mu    sync.Mutex
	calls []delivery
}

func (f *fakeDeliverer) Deliver(ctx context.Context, raw []byte, env Envelope) error {
	f.mu.Lock()
	f.calls = append(f.calls, delivery{raw: bytes.Clone(raw), env: env})
	f.mu.Unlock()
	if f.fn != nil {
		return f.fn(ctx, raw, env)
	}
	return nil
}

func (f *fakeDeliverer) deliveries() []delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]delivery(nil), f.calls...)
}

// testLogger logs to the test's output (seen with -v) until the test ends.
func testLogger(t testing.TB) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.done = true
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// testOptions accepts the recipients *@support.example.
func testOptions(t testing.TB) *Options {
	return &Options{
		Domain: "mx.test",
		AcceptRecipient: func(addr string) bool {
			return strings.HasSuffix(addr, "@support.example")
		},
		Logger:      testLogger(t),
		TrustedNets: []netip.Prefix{}, // tests connect from 127.0.0.1, which is trusted by default
	}
}

// startServer serves SMTP on 127.0.0.1:0 (and LMTP on lmtpLn if not nil) until the test ends.
func startServer(t testing.TB, d Deliverer, o *Options, lmtpLn net.Listener) (*Server, string) {
	t.Helper()
	srv, err := New(d, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln, lmtpLn) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Serve did not return after Shutdown")
		}
	})
	return srv, ln.Addr().String()
}

// dial connects and says EHLO.
func dial(t testing.TB, addr string) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.CommandTimeout = 10 * time.Second
	c.SubmissionTimeout = 10 * time.Second
	if err := c.Hello("client.test"); err != nil {
		c.Close()
		t.Fatalf("EHLO: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// send runs one transaction on c and returns the outcome of the DATA.
func send(c *smtp.Client, from string, to []string, msg string) error {
	if err := c.Mail(from, nil); err != nil {
		return fmt.Errorf("MAIL: %w", err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt, nil); err != nil {
			return fmt.Errorf("RCPT: %w", err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return w.Close()
}

// wantSMTPError checks that err is the reply code/enhanced code.
func wantSMTPError(t testing.TB, err error, code int, enh smtp.EnhancedCode) *smtp.SMTPError {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatalf("got error %v (%T), want SMTP %d %v", err, err, code, enh)
	}
	if se.Code != code || se.EnhancedCode != enh {
		t.Fatalf("got %d %v %q, want %d %v", se.Code, se.EnhancedCode, se.Message, code, enh)
	}
	return se
}

// testMessage is a small message with the given Message-ID.
func testMessage(id string) string {
	return "From: Jean <jean@client.example>\r\n" +
		"To: support@support.example\r\n" +
		"Subject: test\r\n" +
		"Message-ID: <" + id + ">\r\n" +
		"\r\n" +
		"Hello.\r\n"
}

// shortTempDir is a directory for unix sockets, whose paths must stay short.
func shortTempDir(t testing.TB) string {
	dir, err := os.MkdirTemp("", "smtpd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// eventually polls cond until it holds or a few seconds pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
