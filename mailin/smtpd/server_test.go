package smtpd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func TestDeliverExactBytes(t *testing.T) {
	d := &fakeDeliverer{}
	_, addr := startServer(t, d, testOptions(t), nil)
	c := dial(t, addr)

	// Lines starting with a dot are dot-stuffed by the client and must come out as sent.
	msg := "From: jean@client.example\r\n" +
		"Subject: dots\r\n" +
		"Message-ID: <dots@client.example>\r\n" +
		"\r\n" +
		".leading dot\r\n" +
		"..two dots\r\n" +
		".\tdot and tab\r\n" +
		"bare \n line feed kept? no: the client turns it into CRLF\r\n" +
		"end\r\n"
	want := strings.ReplaceAll(msg, " \n ", " \r\n ")
	if err := send(c, "Jean@Client.Example", []string{"Support@Support.Example", "help@support.example"}, msg); err != nil {
		t.Fatalf("send: %v", err)
	}

	calls := d.deliveries()
	if len(calls) != 1 {
		t.Fatalf("got %d deliveries, want 1", len(calls))
	}
	if got := string(calls[0].raw); got != want {
		t.Errorf("got raw %q, want %q", got, want)
	}
	env := calls[0].env
	if env.From != "Jean@Client.Example" {
		t.Errorf("got From %q, want %q", env.From, "Jean@Client.Example")
	}
	if got, want := strings.Join(env.To, ","), "support@support.example,help@support.example"; got != want {
		t.Errorf("got To %q, want %q", got, want)
	}
	if env.Proto != ProtoSMTP || env.TLS {
		t.Errorf("got Proto %q TLS %v, want smtp, false", env.Proto, env.TLS)
	}
	if !strings.HasPrefix(env.RemoteAddr, "127.0.0.1:") {
		t.Errorf("got RemoteAddr %q, want 127.0.0.1:port", env.RemoteAddr)
	}
}

func TestDataReply(t *testing.T) {
	d := &fakeDeliverer{}
	_, addr := startServer(t, d, testOptions(t), nil)
	c := dial(t, addr)
	if err := c.Mail("a@client.example", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("support@support.example", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, testMessage("reply@test"))
	resp, err := w.CloseWithResponse()
	if err != nil {
		t.Fatalf("got %v, want 250", err)
	}
	if !strings.HasPrefix(resp.StatusText, "2.0.0") {
		t.Errorf("got status %q, want 2.0.0 …", resp.StatusText)
	}
}

func TestDeliverFailures(t *testing.T) {
	tests := []struct {
		name string
		// fn decides the outcome; endOfTest is closed when the subtest ends.
		fn        func(ctx context.Context, endOfTest <-chan struct{}) error
		code      int
		enh       smtp.EnhancedCode
		inMessage string
	}{
		{
			name: "error",
			fn:   func(context.Context, <-chan struct{}) error { return errors.New("database is down") },
			code: 451, enh: smtp.EnhancedCode{4, 3, 0}, inMessage: "try again later",
		},
		{
			name: "rejected",
			fn: func(context.Context, <-chan struct{}) error {
				return fmt.Errorf("%w: loop detected\r\n(twice)", ErrRejected)
			},
			code: 554, enh: smtp.EnhancedCode{5, 6, 0}, inMessage: "loop detected",
		},
		{
			name: "panic",
			fn:   func(context.Context, <-chan struct{}) error { panic("deliverer bug") },
			code: 451, enh: smtp.EnhancedCode{4, 3, 0},
		},
		{
			name: "deadline honoured",
			fn: func(ctx context.Context, _ <-chan struct{}) error {
				if _, ok := ctx.Deadline(); !ok {
					return nil // would be wrong: the test wants 451
				}
				<-ctx.Done()
				return ctx.Err()
			},
			code: 451, enh: smtp.EnhancedCode{4, 3, 0},
		},
		{
			name: "deadline ignored",
			fn: func(_ context.Context, endOfTest <-chan struct{}) error {
				<-endOfTest
				return nil
			},
			code: 451, enh: smtp.EnhancedCode{4, 3, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			endOfTest := make(chan struct{})
			d := &fakeDeliverer{fn: func(ctx context.Context, _ []byte, _ Envelope) error {
				return tt.fn(ctx, endOfTest)
			}}
			o := testOptions(t)
			o.DataTimeout = 200 * time.Millisecond
			_, addr := startServer(t, d, o, nil)
			t.Cleanup(func() { close(endOfTest) }) // runs before startServer's Shutdown
			c := dial(t, addr)

			start := time.Now()
			err := send(c, "a@client.example", []string{"support@support.example"}, testMessage("fail@test"))
			se := wantSMTPError(t, err, tt.code, tt.enh)
			if got, want := se.Temporary(), tt.code/100 == 4; got != want {
				t.Errorf("got Temporary() %v, want %v", got, want)
			}
			if !strings.Contains(se.Message, tt.inMessage) {
				t.Errorf("got message %q, want it to contain %q", se.Message, tt.inMessage)
			}
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("reply took %v, want it within DataTimeout (200ms) and a margin", elapsed)
			}
			// The session and the server go on.
			if err := send(c, "", []string{"support@support.example"}, testMessage("after@test")); err == nil && tt.code/100 == 5 {
				t.Errorf("second message: got nil, want the deliverer's error again")
			}
			if got := len(d.deliveries()); got != 2 {
				t.Errorf("got %d Deliver calls, want 2", got)
			}
		})
	}
}

// The 250 comes only after Deliver has returned nil.
func TestReplyOnlyAfterCommit(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	var mu sync.Mutex
	var events []string
	record := func(e string) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	d := &fakeDeliverer{fn: func(context.Context, []byte, Envelope) error {
		close(entered)
		<-release
		record("committed")
		return nil
	}}
	_, addr := startServer(t, d, testOptions(t), nil)
	c := dial(t, addr)

	done := make(chan error, 1)
	go func() {
		err := send(c, "a@client.example", []string{"support@support.example"}, testMessage("order@test"))
		record("250")
		done <- err
	}()

	<-entered
	select {
	case err := <-done:
		t.Fatalf("got a reply (%v) while Deliver had not returned", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("got %v, want 250", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got, want := strings.Join(events, ","), "committed,250"; got != want {
		t.Errorf("got order %s, want %s", got, want)
	}
}

func TestRecipients(t *testing.T) {
	tests := []struct {
		name string
		to   string
		code int // 0: accepted
		enh  smtp.EnhancedCode
	}{
		{name: "known", to: "support@support.example"},
		{name: "case", to: "Support@SUPPORT.example"},
		{name: "unknown domain (no relay)", to: "someone@elsewhere.example", code: 550, enh: smtp.EnhancedCode{5, 1, 1}},
		{name: "unknown address", to: "support@support.example.org", code: 550, enh: smtp.EnhancedCode{5, 1, 1}},
	}
	d := &fakeDeliverer{}
	_, addr := startServer(t, d, testOptions(t), nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr)
			if err := c.Mail("a@client.example", nil); err != nil {
				t.Fatal(err)
			}
			err := c.Rcpt(tt.to, nil)
			if tt.code == 0 {
				if err != nil {
					t.Fatalf("got %v, want 250", err)
				}
				return
			}
			wantSMTPError(t, err, tt.code, tt.enh)
		})
	}
}

func TestNullSender(t *testing.T) {
	d := &fakeDeliverer{}
	_, addr := startServer(t, d, testOptions(t), nil)
	c := dial(t, addr)
	if err := send(c, "", []string{"support@support.example"}, testMessage("bounce@test")); err != nil {
		t.Fatalf("got %v, want the bounce accepted", err)
	}
	calls := d.deliveries()
	if len(calls) != 1 || calls[0].env.From != "" {
		t.Fatalf("got %+v, want one delivery with From \"\"", calls)
	}
}

func TestTooManyRecipients(t *testing.T) {
	d := &fakeDeliverer{}
	o := testOptions(t)
	o.MaxRecipients = 2
	_, addr := startServer(t, d, o, nil)
	c := dial(t, addr)
	if ok, v := c.Extension("LIMITS"); !ok || v != "RCPTMAX=2" {
		t.Errorf("got LIMITS %v %q, want RCPTMAX=2", ok, v)
	}
	if err := c.Mail("a@client.example", nil); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"a@support.example", "b@support.example"} {
		if err := c.Rcpt(to, nil); err != nil {
			t.Fatalf("RCPT %s: %v", to, err)
		}
	}
	wantSMTPError(t, c.Rcpt("c@support.example", nil), 452, smtp.EnhancedCode{4, 5, 3})
}

func TestSize(t *testing.T) {
	d := &fakeDeliverer{}
	o := testOptions(t)
	o.MaxMessageSize = 1024
	_, addr := startServer(t, d, o, nil)
	c := dial(t, addr)

	if ok, v := c.Extension("SIZE"); !ok || v != "1024" {
		t.Errorf("got SIZE %v %q, want 1024", ok, v)
	}

	t.Run("MAIL FROM SIZE=", func(t *testing.T) {
		wantSMTPError(t, c.Mail("a@client.example", &smtp.MailOptions{Size: 2048}), 552, smtp.EnhancedCode{5, 3, 4})
		if err := c.Mail("a@client.example", &smtp.MailOptions{Size: 1000}); err != nil {
			t.Fatalf("SIZE=1000: got %v, want 250", err)
		}
		if err := c.Reset(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("DATA", func(t *testing.T) {
		big := testMessage("big@test") + strings.Repeat("0123456789abcdef\r\n", 4096/18+1)
		err := send(c, "a@client.example", []string{"support@support.example"}, big)
		wantSMTPError(t, err, 552, smtp.EnhancedCode{5, 3, 4})
		if got := len(d.deliveries()); got != 0 {
			t.Fatalf("got %d Deliver calls, want 0", got)
		}
		// The rest of the message was read off: the session goes on.
		small := testMessage("small@test")
		if err := send(c, "a@client.example", []string{"support@support.example"}, small); err != nil {
			t.Fatalf("next message: got %v, want 250", err)
		}
		if calls := d.deliveries(); len(calls) != 1 || string(calls[0].raw) != small {
			t.Fatalf("got %d deliveries, want the small message only", len(calls))
		}
	})

	t.Run("just under the limit", func(t *testing.T) {
		head := testMessage("edge@test")
		msg := head + strings.Repeat("x", 1024-len(head)-3) + "\r\n" // 1023 bytes
		if err := send(c, "a@client.example", []string{"support@support.example"}, msg); err != nil {
			t.Fatalf("got %v, want 250", err)
		}
	})
}

func TestNewOptions(t *testing.T) {
	if _, err := New(&fakeDeliverer{}, nil); err == nil {
		t.Error("New without AcceptRecipient: got nil error, want one")
	}
	srv, err := New(&fakeDeliverer{}, &Options{AcceptRecipient: func(string) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	o := srv.opts
	tests := []struct {
		name      string
		got, want any
	}{
		{"Addr", o.Addr, "127.0.0.1:2525"},
		{"Domain", o.Domain, "localhost"},
		{"MaxMessageSize", o.MaxMessageSize, int64(25 << 20)},
		{"MaxConnections", o.MaxConnections, 100},
		{"MaxConnPerIP", o.MaxConnPerIP, 20},
		{"MaxMsgsPerIPPerMinute", o.MaxMsgsPerIPPerMinute, 600},
		{"ReadTimeout", o.ReadTimeout, 60 * time.Second},
		{"WriteTimeout", o.WriteTimeout, 60 * time.Second},
		{"DataTimeout", o.DataTimeout, 60 * time.Second},
		{"MaxRecipients", o.MaxRecipients, 100},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestMessageID(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"Message-ID: <a@b>\r\n\r\nbody", "<a@b>"},
		{"Subject: x\r\nmessage-id:\r\n <folded@b>\r\n\r\n", "<folded@b>"},
		{"Subject: x\r\n\r\nMessage-ID: <in-body@b>\r\n", ""},
		{"Subject: x\n", ""},
	}
	for _, tt := range tests {
		if got := messageID([]byte(tt.raw)); got != tt.want {
			t.Errorf("messageID(%q): got %q, want %q", tt.raw, got, tt.want)
		}
	}
}
