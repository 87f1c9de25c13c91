package smtpd

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/textproto"
	"testing"
	"time"
)

// serve starts srv on 127.0.0.1:0 and returns its address and Serve's result.
func serve(t *testing.T, d Deliverer, o *Options) (*Server, string, <-chan error) {
	t.Helper()
	srv, err := New(d, o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln, nil) }()
	return srv, ln.Addr().String(), served
}

// rawConn is a connection spoken to line by line.
type rawConn struct {
	net.Conn
	*textproto.Reader
}

// dialRaw connects, reads the greeting and says EHLO.
func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &rawConn{Conn: c, Reader: textproto.NewReader(bufio.NewReader(c))}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := rc.ReadResponse(220); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	if _, err := io.WriteString(c, "EHLO client.test\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := rc.ReadResponse(250); err != nil {
		t.Fatalf("EHLO: %v", err)
	}
	c.SetDeadline(time.Time{})
	return rc
}

func TestShutdownDuringDeliver(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	d := &fakeDeliverer{fn: func(context.Context, []byte, Envelope) error {
		close(entered)
		<-release
		return nil
	}}
	srv, addr, served := serve(t, d, testOptions(t))

	busy := dial(t, addr)
	idle := dialRaw(t, addr)
	sent := make(chan error, 1)
	go func() {
		sent <- send(busy, "a@client.example", []string{"support@support.example"}, testMessage("shutdown@test"))
	}()
	<-entered

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()

	// New connections are refused, the idle session is closed with 421.
	eventually(t, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	if err := idle.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if code, _, err := idle.ReadResponse(421); err != nil {
		t.Errorf("idle session: got %d %v, want 421", code, err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while a message was in Deliver", err)
	case err := <-sent:
		t.Fatalf("got a reply (%v) while Deliver had not returned", err)
	case <-time.After(100 * time.Millisecond):
	}

	close(release)
	if err := <-sent; err != nil {
		t.Fatalf("message in DATA during Shutdown: got %v, want 250", err)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: got %v, want nil", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: got %v, want nil", err)
	}
	if got := len(d.deliveries()); got != 1 {
		t.Errorf("got %d deliveries, want 1", got)
	}
}

// When the Shutdown context ends first, everything is closed and Deliver's ctx is cancelled.
func TestShutdownDeadline(t *testing.T) {
	entered := make(chan struct{})
	cancelled := make(chan struct{})
	d := &fakeDeliverer{fn: func(ctx context.Context, _ []byte, _ Envelope) error {
		close(entered)
		<-ctx.Done()
		close(cancelled)
		return ctx.Err()
	}}
	o := testOptions(t)
	o.DataTimeout = time.Minute
	srv, addr, served := serve(t, d, o)
	c := dial(t, addr)
	sent := make(chan error, 1)
	go func() {
		sent <- send(c, "a@client.example", []string{"support@support.example"}, testMessage("late@test"))
	}()
	<-entered

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: got %v, want context.DeadlineExceeded", err)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("Deliver's ctx was not cancelled")
	}
	if err := <-sent; err == nil {
		t.Fatal("got 250 for a message whose Deliver failed")
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: got %v, want nil", err)
	}
}
