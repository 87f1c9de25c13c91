package relay

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

const testMsg = "From: Guichet <guichet@example.com>\r\n" +
	"To: alice@example.org\r\n" +
	"Subject: [#42] Your request\r\n" +
	"\r\n" +
	"Hello,\r\n" +
	".a line that starts with a dot\r\n" +
	"..and one with two\r\n" +
	".\r\n" +
	"Bye.\r\n"

// openT opens rawURL for the duration of the test, with short timeouts.
func openT(t *testing.T, rawURL string, opts Options) Transport {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Hello == "" {
		opts.Hello = "guichet.test"
	}
	tr, err := Open(rawURL, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", rawURL, err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// asError fails the test unless err is an *Error.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *relay.Error", err, err)
	}
	return e
}

func TestSMTPDeliversMessageUnchanged(t *testing.T) {
	srv := (&testServer{}).start(t)
	tr := openT(t, "smtp://"+srv.addr, Options{})

	to := []string{"alice@example.org", "bob@example.org"}
	if err := tr.Send(context.Background(), "bounces@example.com", to, []byte(testMsg)); err != nil {
		t.Fatal(err)
	}
	msgs := srv.messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	if got.from != "bounces@example.com" {
		t.Errorf("MAIL FROM = %q, want bounces@example.com", got.from)
	}
	if strings.Join(got.to, ",") != strings.Join(to, ",") {
		t.Errorf("RCPT TO = %q, want %q", got.to, to)
	}
	if !bytes.Equal(got.data, []byte(testMsg)) {
		t.Errorf("data differs:\n got %q\nwant %q", got.data, testMsg)
	}
	if got.hello != "guichet.test" {
		t.Errorf("EHLO %q, want guichet.test", got.hello)
	}
	if got.tls {
		t.Error("server without TLS: message should not have come over TLS")
	}
}

func TestTLS(t *testing.T) {
	serverTLS, roots := testCert(t)
	trusting := &tls.Config{RootCAs: roots}

	tests := []struct {
		name     string
		server   *testServer
		url      string // "ADDR" is replaced by the server's address
		opts     Options
		wantTLS  bool
		wantErr  string // substring; "" means success
		wantPerm bool
	}{
		{name: "STARTTLS when offered", server: &testServer{tlsConfig: serverTLS},
			url: "smtp://ADDR", opts: Options{TLSConfig: trusting}, wantTLS: true},
		{name: "STARTTLS with an untrusted certificate fails, without falling back to clear text",
			server: &testServer{tlsConfig: serverTLS}, url: "smtp://ADDR",
			wantErr: "certificate"},
		{name: "insecure_skip_verify accepts a self-signed certificate",
			server: &testServer{tlsConfig: serverTLS}, url: "smtp://ADDR?insecure_skip_verify=true", wantTLS: true},
		{name: "starttls=never stays in clear text", server: &testServer{tlsConfig: serverTLS},
			url: "smtp://ADDR?starttls=never", opts: Options{TLSConfig: trusting}},
		{name: "starttls=required with TLS", server: &testServer{tlsConfig: serverTLS},
			url: "smtp://ADDR?starttls=required", opts: Options{TLSConfig: trusting}, wantTLS: true},
		{name: "starttls=required without TLS is permanent", server: &testServer{},
			url: "smtp://ADDR?starttls=required", wantErr: "does not offer STARTTLS", wantPerm: true},
		{name: "smtps", server: &testServer{tlsConfig: serverTLS, implicitTLS: true},
			url: "smtps://ADDR", opts: Options{TLSConfig: trusting}, wantTLS: true},
		{name: "smtps with an untrusted certificate", server: &testServer{tlsConfig: serverTLS, implicitTLS: true},
			url: "smtps://ADDR", wantErr: "certificate"},
		{name: "AUTH after STARTTLS", server: &testServer{tlsConfig: serverTLS, mechs: []string{"PLAIN"},
			users: map[string]string{"alice": "pw"}},
			url: "smtp://alice:pw@ADDR", opts: Options{TLSConfig: trusting}, wantTLS: true},
		{name: "server offering AUTH only over TLS, starttls=never",
			server: &testServer{tlsConfig: serverTLS, mechs: []string{"PLAIN"}, users: map[string]string{"alice": "pw"}},
			url:    "smtp://alice:pw@ADDR?starttls=never", wantErr: "does not offer AUTH", wantPerm: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.server
			srv.start(t)
			tr := openT(t, strings.Replace(tt.url, "ADDR", srv.addr, 1), tt.opts)
			err := tr.Send(context.Background(), "guichet@example.com", []string{"alice@example.org"}, []byte(testMsg))
			msgs := srv.messages()
			if tt.wantErr != "" {
				if err == nil {
					t.Fatal("Send succeeded, want an error")
				}
				e := asError(t, err)
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not mention %q", err, tt.wantErr)
				}
				if e.Permanent != tt.wantPerm || IsPermanent(err) != tt.wantPerm {
					t.Errorf("Permanent = %v, want %v (%v)", e.Permanent, tt.wantPerm, err)
				}
				if len(msgs) != 0 {
					t.Errorf("server got %d messages, want none", len(msgs))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 1 {
				t.Fatalf("server got %d messages, want 1", len(msgs))
			}
			if msgs[0].tls != tt.wantTLS {
				t.Errorf("message came over TLS: %v, want %v", msgs[0].tls, tt.wantTLS)
			}
			if msgs[0].hello != "guichet.test" {
				t.Errorf("EHLO %q, want guichet.test", msgs[0].hello)
			}
			if !bytes.Equal(msgs[0].data, []byte(testMsg)) {
				t.Errorf("data differs: %q", msgs[0].data)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	users := map[string]string{"alice": "s3cr:t@x"}
	tests := []struct {
		name     string
		mechs    []string
		userinfo string // before "@" in the URL
		query    string
		wantMech string // on success
		wantCode int    // on failure
		wantErr  string // on failure: substring
	}{
		{name: "PLAIN by default", mechs: []string{"LOGIN", "PLAIN"},
			userinfo: "alice:s3cr%3At%40x", wantMech: "PLAIN"},
		{name: "LOGIN when asked", mechs: []string{"PLAIN", "LOGIN"},
			userinfo: "alice:s3cr%3At%40x", query: "?auth=login", wantMech: "LOGIN"},
		{name: "LOGIN when PLAIN is not offered", mechs: []string{"LOGIN"},
			userinfo: "alice:s3cr%3At%40x", wantMech: "LOGIN"},
		{name: "PLAIN with a bad password", mechs: []string{"PLAIN"},
			userinfo: "alice:wrong", wantCode: 535, wantErr: "535 5.7.8"},
		{name: "LOGIN with a bad password", mechs: []string{"LOGIN"},
			userinfo: "alice:wrong", wantCode: 535, wantErr: "535 5.7.8"},
		{name: "unknown user", mechs: []string{"PLAIN"},
			userinfo: "mallory:s3cr%3At%40x", wantCode: 535, wantErr: "535"},
		{name: "auth=plain not offered", mechs: []string{"LOGIN"},
			userinfo: "alice:s3cr%3At%40x", query: "?auth=plain", wantErr: "offers only AUTH LOGIN"},
		{name: "no AUTH offered", userinfo: "alice:s3cr%3At%40x", wantErr: "does not offer AUTH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := (&testServer{insecureAuth: true, mechs: tt.mechs, users: users}).start(t)
			tr := openT(t, "smtp://"+tt.userinfo+"@"+srv.addr+tt.query, Options{})
			err := tr.Send(context.Background(), "guichet@example.com", []string{"alice@example.org"}, []byte(testMsg))
			msgs := srv.messages()
			if tt.wantErr != "" {
				if err == nil {
					t.Fatal("Send succeeded, want an error")
				}
				e := asError(t, err)
				if e.Code != tt.wantCode || !e.Permanent {
					t.Errorf("got Code %d Permanent %v, want %d and permanent (%v)", e.Code, e.Permanent, tt.wantCode, err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not mention %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cr") || strings.Contains(err.Error(), "wrong") {
					t.Errorf("error %q shows the password", err)
				}
				if len(msgs) != 0 {
					t.Errorf("server got %d messages, want none", len(msgs))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 1 || msgs[0].user != "alice" || msgs[0].mech != tt.wantMech {
				t.Fatalf("got %+v, want one message from alice authenticated with %s", msgs, tt.wantMech)
			}
		})
	}
}

func TestSequentialSendsReuseOneConnection(t *testing.T) {
	srv := (&testServer{}).start(t)
	tr := openT(t, "smtp://"+srv.addr, Options{Concurrency: 2})
	for i := range 200 {
		msg := fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i)
		if err := tr.Send(context.Background(), "guichet@example.com", []string{"a@example.org"}, []byte(msg)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if n := len(srv.messages()); n != 200 {
		t.Errorf("server got %d messages, want 200", n)
	}
	if n := srv.accepted.Load(); n != 1 {
		t.Errorf("%d connections opened, want 1", n)
	}
}

func TestConcurrentSendsRespectLimit(t *testing.T) {
	srv := (&testServer{}).start(t)
	tr := openT(t, "smtp://"+srv.addr, Options{Concurrency: 3})
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Go(func() {
			msg := fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i)
			errs <- tr.Send(context.Background(), "guichet@example.com", []string{"a@example.org"}, []byte(msg))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(srv.messages()); n != 200 {
		t.Errorf("server got %d messages, want 200", n)
	}
	if _, _, most := srv.counts(); most > 3 {
		t.Errorf("server saw %d simultaneous sessions, want at most 3", most)
	}
	if n := srv.accepted.Load(); n > 3 {
		t.Errorf("%d connections opened, want at most 3", n)
	}
}

func TestMaxInURLOverridesConcurrency(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 10)
	srv := (&testServer{dataErr: func(*smtp.Conn, []byte) error {
		entered <- struct{}{}
		<-release
		return nil
	}}).start(t)
	tr := openT(t, "smtp://"+srv.addr+"?max=1", Options{Concurrency: 5})

	done := make(chan error, 2)
	for range 2 {
		go func() {
			done <- tr.Send(context.Background(), "guichet@example.com", []string{"a@example.org"}, []byte(testMsg))
		}()
	}
	<-entered
	select {
	case <-entered:
		t.Error("two messages in flight with max=1")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.accepted.Load(); n != 1 {
		t.Errorf("%d connections opened, want 1", n)
	}
}

func TestRefusals(t *testing.T) {
	srv := (&testServer{
		rcptErr: func(to string) error {
			switch to {
			case "busy@example.org":
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
			case "nouser@example.org":
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
			}
			return nil
		},
		dataErr: func(_ *smtp.Conn, data []byte) error {
			switch {
			case bytes.Contains(data, []byte("X-Test: full")):
				return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "mailbox full"}
			case bytes.Contains(data, []byte("X-Test: spam")):
				return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "looks like spam"}
			}
			return nil
		},
	}).start(t)
	tr := openT(t, "smtp://"+srv.addr, Options{Concurrency: 1})

	tests := []struct {
		name         string
		to           []string
		header       string
		wantCode     int
		wantEnhanced string
		wantPerm     bool
	}{
		{name: "4xx at RCPT", to: []string{"busy@example.org"}, wantCode: 451, wantEnhanced: "4.3.0"},
		{name: "5xx at RCPT", to: []string{"nouser@example.org"}, wantCode: 550, wantEnhanced: "5.1.1", wantPerm: true},
		{name: "second recipient refused", to: []string{"a@example.org", "nouser@example.org"},
			wantCode: 550, wantEnhanced: "5.1.1", wantPerm: true},
		{name: "4xx at end of DATA", to: []string{"a@example.org"}, header: "X-Test: full\r\n",
			wantCode: 452, wantEnhanced: "4.3.1"},
		{name: "5xx at end of DATA", to: []string{"a@example.org"}, header: "X-Test: spam\r\n",
			wantCode: 554, wantEnhanced: "5.7.1", wantPerm: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tr.Send(context.Background(), "guichet@example.com", tt.to, []byte(tt.header+testMsg))
			e := asError(t, err)
			if e.Code != tt.wantCode || e.Enhanced != tt.wantEnhanced || e.Permanent != tt.wantPerm {
				t.Errorf("got Code %d Enhanced %q Permanent %v, want %d %q %v",
					e.Code, e.Enhanced, e.Permanent, tt.wantCode, tt.wantEnhanced, tt.wantPerm)
			}
			if IsPermanent(err) != tt.wantPerm {
				t.Errorf("IsPermanent = %v, want %v", IsPermanent(err), tt.wantPerm)
			}
			want := fmt.Sprintf("relay smtp://%s: %d %s ", srv.addr, tt.wantCode, tt.wantEnhanced)
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}

			// The connection is still good for the next message.
			if err := tr.Send(context.Background(), "guichet@example.com", []string{"ok@example.org"}, []byte(testMsg)); err != nil {
				t.Fatalf("send after the refusal: %v", err)
			}
			if n := len(srv.messages()); n != i+1 {
				t.Errorf("server has %d messages, want %d", n, i+1)
			}
		})
	}
	if n := srv.accepted.Load(); n != 1 {
		t.Errorf("%d connections opened, want 1 (refusals must not cost the connection)", n)
	}
	if got := srv.messages()[0].to; len(got) != 1 || got[0] != "ok@example.org" {
		t.Errorf("first delivered message went to %q, want only ok@example.org", got)
	}
	e := asError(t, tr.Send(context.Background(), "guichet@example.com", []string{"nouser@example.org"}, []byte(testMsg)))
	if want := "relay smtp://" + srv.addr + ": 550 5.1.1 no such user"; e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
}

func TestDeadPooledConnectionIsReplaced(t *testing.T) {
	refuseNobody := func(to string) error {
		if to == "nobody@example.org" {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}
	dropped := func(t *testing.T, srv *testServer) { srv.dropConnections() }
	tests := []struct {
		name    string
		server  *testServer
		firstTo string // recipient of the message sent before the connection dies
		kill    func(t *testing.T, srv *testServer)
	}{
		{name: "closed by the server", server: &testServer{}, firstTo: "a@example.org", kill: dropped},
		{name: "closed by the server after a refused message", server: &testServer{rcptErr: refuseNobody},
			firstTo: "nobody@example.org", kill: dropped},
		{name: "421 idle timeout", server: &testServer{readTimeout: 200 * time.Millisecond}, firstTo: "a@example.org",
			kill: func(t *testing.T, srv *testServer) {
				waitFor(t, "the server to time the session out", func() bool {
					_, open, _ := srv.counts()
					return open == 0
				})
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.server
			srv.start(t)
			tr := openT(t, "smtp://"+srv.addr, Options{Concurrency: 1})
			send := func(to, subject string) error {
				return tr.Send(context.Background(), "guichet@example.com", []string{to},
					[]byte("Subject: "+subject+"\r\n\r\nbody\r\n"))
			}
			err := send(tt.firstTo, "first")
			if refused := tt.firstTo == "nobody@example.org"; (err != nil) != refused {
				t.Fatalf("first send: %v", err)
			}
			before := len(srv.messages())
			tt.kill(t, srv)
			if err := send("a@example.org", "second"); err != nil {
				t.Fatalf("send on a dead pooled connection: %v", err)
			}
			msgs := srv.messages()
			if len(msgs) != before+1 || !bytes.Contains(msgs[before].data, []byte("second")) {
				t.Fatalf("server has %d messages, want the second one exactly once after %d", len(msgs), before)
			}
			if attempts, _, _ := srv.counts(); attempts != before+1 {
				t.Errorf("server received %d DATA payloads, want %d", attempts, before+1)
			}
			if n := srv.accepted.Load(); n != 2 {
				t.Errorf("%d connections opened, want 2", n)
			}
		})
	}
}

func TestNoRetryOnceDataWasSent(t *testing.T) {
	srv := (&testServer{dataErr: func(c *smtp.Conn, data []byte) error {
		if bytes.Contains(data, []byte("X-Test: hang up")) {
			c.Conn().Close() // no reply to the end of DATA
		}
		return nil
	}}).start(t)
	tr := openT(t, "smtp://"+srv.addr, Options{Concurrency: 1})
	ctx := context.Background()
	if err := tr.Send(ctx, "guichet@example.com", []string{"a@example.org"}, []byte(testMsg)); err != nil {
		t.Fatal(err)
	}
	err := tr.Send(ctx, "guichet@example.com", []string{"a@example.org"}, []byte("X-Test: hang up\r\n"+testMsg))
	e := asError(t, err)
	if e.Code != 0 || e.Permanent {
		t.Errorf("got Code %d Permanent %v, want a temporary network error (%v)", e.Code, e.Permanent, err)
	}
	if attempts, _, _ := srv.counts(); attempts != 2 {
		t.Errorf("server received %d DATA payloads, want 2 (no retry once the message was sent)", attempts)
	}
	if err := tr.Send(ctx, "guichet@example.com", []string{"a@example.org"}, []byte(testMsg)); err != nil {
		t.Fatalf("send after the hang-up: %v", err)
	}
	if n := srv.accepted.Load(); n != 2 {
		t.Errorf("%d connections opened, want 2", n)
	}
}

func TestUnreachableRelay(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	tr := openT(t, "smtp://"+addr, Options{})
	start := time.Now()
	err = tr.Send(context.Background(), "guichet@example.com", []string{"a@example.org"}, []byte(testMsg))
	e := asError(t, err)
	if e.Code != 0 || IsPermanent(err) {
		t.Errorf("got Code %d permanent %v, want a temporary network error", e.Code, IsPermanent(err))
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not name the address", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s to fail", d)
	}
}

// blockingServer holds every message at the end of DATA until release is
// closed, and signals entered when it does.
func blockingServer(t *testing.T) (srv *testServer, entered <-chan struct{}, release chan struct{}) {
	in := make(chan struct{}, 10)
	release = make(chan struct{})
	srv = (&testServer{dataErr: func(*smtp.Conn, []byte) error {
		in <- struct{}{}
		<-release
		return nil
	}}).start(t)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	return srv, in, release
}

func TestContextWhileWaitingForSlot(t *testing.T) {
	srv, entered, release := blockingServer(t)
	tr := openT(t, "smtp://"+srv.addr, Options{Concurrency: 1})

	first := make(chan error, 1)
	go func() {
		first <- tr.Send(context.Background(), "guichet@example.com", []string{"a@example.org"}, []byte(testMsg))
	}()
	<-entered

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := tr.Send(ctx, "guichet@example.com", []string{"b@example.org"}, []byte(testMsg))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want context.DeadlineExceeded", err)
	}
	asError(t, err)
	if IsPermanent(err) {
		t.Error("a context error is not permanent")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waited %s for a slot despite the context", d)
	}

	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if n := len(srv.messages()); n != 1 {
		t.Errorf("server got %d messages, want 1", n)
	}
}

func TestContextCancelsSendInProgress(t *testing.T) {
	srv, entered, release := blockingServer(t)
	tr := openT(t, "smtp://"+srv.addr, Options{Concurrency: 1})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- tr.Send(ctx, "guichet@example.com", []string{"a@example.org"}, []byte(testMsg))
	}()
	<-entered
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || IsPermanent(err) {
			t.Errorf("got %v, want a temporary error wrapping context.Canceled", err)
		}
		asError(t, err)
	case <-time.After(2 * time.Second):
		t.Fatal("Send ignored the cancelled context")
	}
	close(release)

	// The abandoned connection is not reused; a new one works.
	if err := tr.Send(context.Background(), "guichet@example.com", []string{"a@example.org"}, []byte(testMsg)); err != nil {
		t.Fatal(err)
	}
	if n := srv.accepted.Load(); n != 2 {
		t.Errorf("%d connections opened, want 2", n)
	}
}

func TestIdleConnectionsAreClosed(t *testing.T) {
	srv := (&testServer{}).start(t)
	tr := openT(t, "smtp://"+srv.addr, Options{IdleTimeout: 20 * time.Millisecond})
	send := func() {
		t.Helper()
		if err := tr.Send(context.Background(), "guichet@example.com", []string{"a@example.org"}, []byte(testMsg)); err != nil {
			t.Fatal(err)
		}
	}
	send()
	waitFor(t, "the idle connection to be closed", func() bool {
		_, open, _ := srv.counts()
		return open == 0
	})
	send()
	if n := srv.accepted.Load(); n != 2 {
		t.Errorf("%d connections opened, want 2", n)
	}
}

func TestClose(t *testing.T) {
	srv := (&testServer{}).start(t)
	tr := openT(t, "smtp://"+srv.addr, Options{})
	if err := tr.Send(context.Background(), "guichet@example.com", []string{"a@example.org"}, []byte(testMsg)); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the pooled connection to be closed", func() bool {
		_, open, _ := srv.counts()
		return open == 0
	})
	err := tr.Send(context.Background(), "guichet@example.com", []string{"a@example.org"}, []byte(testMsg))
	if !strings.Contains(fmt.Sprint(err), "closed") {
		t.Errorf("Send after Close: %v, want a 'closed' error", err)
	}
	asError(t, err)
	if err := tr.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestBadEnvelope(t *testing.T) {
	srv := (&testServer{}).start(t)
	tr := openT(t, "smtp://"+srv.addr, Options{})
	tests := []struct {
		name string
		from string
		to   []string
	}{
		{"no recipients", "a@example.com", nil},
		{"empty recipient", "a@example.com", []string{""}},
		{"line break in recipient", "a@example.com", []string{"b@example.org\r\nDATA"}},
		{"angle brackets in sender", "<a@example.com>", []string{"b@example.org"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tr.Send(context.Background(), tt.from, tt.to, []byte(testMsg))
			if !IsPermanent(err) {
				t.Errorf("got %v, want a permanent error", err)
			}
		})
	}
	if n := srv.accepted.Load(); n != 0 {
		t.Errorf("%d connections opened for invalid envelopes, want 0", n)
	}
}
