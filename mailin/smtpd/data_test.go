package smtpd

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// write sends raw protocol text.
func (c *rawConn) write(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(c.Conn, s); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// expect reads one reply and checks its code and the start of its text.
func (c *rawConn) expect(t *testing.T, code int, prefix string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, msg, err := c.ReadResponse(code)
	if err != nil || !strings.HasPrefix(msg, prefix) {
		t.Fatalf("got %d %q (%v), want %d %s…", got, msg, err, code, prefix)
	}
}

// envelope starts a transaction from a@client.example to support@support.example.
func (c *rawConn) envelope(t *testing.T) {
	t.Helper()
	c.write(t, "MAIL FROM:<a@client.example>\r\n")
	c.expect(t, 250, "")
	c.write(t, "RCPT TO:<support@support.example>\r\n")
	c.expect(t, 250, "")
}

// expectClosed checks that the server closed the connection.
func (c *rawConn) expectClosed(t *testing.T) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := c.ReadLine(); err != io.EOF {
		t.Fatalf("got %q (%v), want the connection closed", line, err)
	}
}

func (s *Server) openConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// A client that stops sending in the middle of DATA gets 451, then the session ends;
// nothing is delivered.
func TestDataStalled(t *testing.T) {
	d := &fakeDeliverer{}
	o := testOptions(t)
	o.ReadTimeout = 300 * time.Millisecond
	_, addr := startServer(t, d, o, nil)
	c := dialRaw(t, addr)
	c.envelope(t)
	c.write(t, "DATA\r\n")
	c.expect(t, 354, "")
	c.write(t, "Subject: stalled\r\n\r\nthe beginning of")
	c.expect(t, 451, "4.4.2")
	c.expect(t, 421, "4.4.2")
	c.expectClosed(t)
	if got := len(d.deliveries()); got != 0 {
		t.Errorf("got %d deliveries, want 0", got)
	}
}

// Slow but steady senders are not cut off: the deadline measures progress, not the message.
func TestDataSlowSender(t *testing.T) {
	d := &fakeDeliverer{}
	o := testOptions(t)
	o.ReadTimeout = 1500 * time.Millisecond
	_, addr := startServer(t, d, o, nil)
	c := dialRaw(t, addr)
	c.write(t, "MAIL FROM:<a@client.example>\r\nRCPT TO:<support@support.example>\r\nDATA\r\n")
	c.expect(t, 250, "")
	c.expect(t, 250, "")
	c.expect(t, 354, "")
	c.write(t, "Subject: slow\r\n\r\n")
	for i := range 8 { // 8 × 250 ms: over ReadTimeout in all
		time.Sleep(250 * time.Millisecond)
		c.write(t, fmt.Sprintf("line %d\r\n", i))
	}
	c.write(t, ".\r\n")
	c.expect(t, 250, "")
	if got := len(d.deliveries()); got != 1 {
		t.Errorf("got %d deliveries, want 1", got)
	}
}

func TestDataClientGone(t *testing.T) {
	d := &fakeDeliverer{}
	srv, addr := startServer(t, d, testOptions(t), nil)
	c := dialRaw(t, addr)
	c.write(t, "MAIL FROM:<a@client.example>\r\nRCPT TO:<support@support.example>\r\nDATA\r\n")
	c.expect(t, 250, "")
	c.expect(t, 250, "")
	c.expect(t, 354, "")
	c.write(t, "Subject: gone\r\n\r\nthe beginning of")
	c.Close()
	eventually(t, "the connection to be closed", func() bool { return srv.openConns() == 0 })
	if got := len(d.deliveries()); got != 0 {
		t.Errorf("got %d deliveries, want 0", got)
	}
}

func TestIdleTimeout(t *testing.T) {
	o := testOptions(t)
	o.ReadTimeout = 200 * time.Millisecond
	_, addr := startServer(t, &fakeDeliverer{}, o, nil)
	c := dialRaw(t, addr)
	c.expect(t, 421, "4.4.2")
	c.expectClosed(t)
}

// CHUNKING (RFC 3030): BDAT chunks are delivered as sent, without dot-unstuffing.
// The 250 after DATA says the message is stored (go-smtp's own says "queued").
func TestDataStoredReply(t *testing.T) {
	_, addr := startServer(t, &fakeDeliverer{}, testOptions(t), nil)
	c := dialRaw(t, addr)
	c.envelope(t)
	c.write(t, "DATA\r\n")
	c.expect(t, 354, "")
	c.write(t, "Subject: s\r\n\r\nbody\r\n.\r\n")
	c.expect(t, 250, "2.0.0 OK: stored")
}

func TestBDAT(t *testing.T) {
	d := &fakeDeliverer{}
	_, addr := startServer(t, d, testOptions(t), nil)
	c := dialRaw(t, addr)
	part1 := "Subject: chunks\r\n\r\n"
	part2 := "..not stuffed\r\n.\r\nend\r\n"
	c.envelope(t)
	c.write(t, fmt.Sprintf("BDAT %d\r\n%s", len(part1), part1))
	c.expect(t, 250, "")
	c.write(t, fmt.Sprintf("BDAT %d LAST\r\n%s", len(part2), part2))
	c.expect(t, 250, "2.0.0 OK: stored")
	calls := d.deliveries()
	if len(calls) != 1 {
		t.Fatalf("got %d deliveries, want 1", len(calls))
	}
	if got, want := string(calls[0].raw), part1+part2; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A message too big is read off to its end, however long that takes while it progresses, and
// the session goes on.
func TestDataTooBigSlow(t *testing.T) {
	d := &fakeDeliverer{}
	o := testOptions(t)
	o.MaxMessageSize = 1024
	o.ReadTimeout = 1500 * time.Millisecond
	_, addr := startServer(t, d, o, nil)
	c := dialRaw(t, addr)
	c.write(t, "MAIL FROM:<a@client.example>\r\nRCPT TO:<support@support.example>\r\nDATA\r\n")
	c.expect(t, 250, "")
	c.expect(t, 250, "")
	c.expect(t, 354, "")
	for range 8 { // 8 × 512 bytes, 250 ms apart: over ReadTimeout in all
		c.write(t, strings.Repeat(strings.Repeat("y", 62)+"\r\n", 8))
		time.Sleep(250 * time.Millisecond)
	}
	c.write(t, ".\r\n")
	c.expect(t, 552, "5.3.4")
	c.write(t, "NOOP\r\n")
	c.expect(t, 250, "")
	if got := len(d.deliveries()); got != 0 {
		t.Errorf("got %d deliveries, want 0", got)
	}
}
