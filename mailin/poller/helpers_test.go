package poller

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/mail"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// testServer is an in-memory IMAP server on 127.0.0.1.
type testServer struct {
	debug lockedBuffer // the whole conversation
	t     *testing.T
	addr  string
	mem   *imapmemserver.Server
	users map[string]*imapmemserver.User
}

var (
	capsRev2      = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}}
	capsRev1Plus  = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}, imap.CapMove: {}}
	capsRev1UID   = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}}
	capsRev1Plain = imap.CapSet{imap.CapIMAP4rev1: {}}
)

// newTestServer starts a server; tlsCfg enables STARTTLS, implicitTLS serves TLS from the start.
func newTestServer(t *testing.T, caps imap.CapSet, tlsCfg *tls.Config, implicitTLS bool) *testServer {
	return newWrappedServer(t, caps, tlsCfg, implicitTLS, nil)
}

// newWrappedServer is newTestServer with each session passed through wrap.
func newWrappedServer(t *testing.T, caps imap.CapSet, tlsCfg *tls.Config, implicitTLS bool, wrap func(imapserver.Session) imapserver.Session) *testServer {
	t.Helper()
	mem := imapmemserver.New()
	ts := &testServer{t: t, mem: mem, users: map[string]*imapmemserver.User{}}
	srv := imapserver.New(&imapserver.Options{
		DebugWriter: &ts.debug,
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			if wrap != nil {
				return wrap(mem.NewSession()), nil, nil
			}
			return mem.NewSession(), nil, nil
		},
		Caps:         caps,
		TLSConfig:    tlsCfg,
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if implicitTLS {
		ln = tls.NewListener(ln, tlsCfg)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	ts.addr = ln.Addr().String()
	return ts
}

// count returns how many times s appears in the conversation so far.
func (ts *testServer) count(s string) int { return strings.Count(ts.debug.String(), s) }

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// addUser adds a user with an INBOX and the given other folders.
func (ts *testServer) addUser(name, pass string, folders ...string) *imapmemserver.User {
	u := imapmemserver.NewUser(name, pass)
	for _, f := range append([]string{"INBOX"}, folders...) {
		if err := u.Create(f, nil); err != nil {
			ts.t.Fatal(err)
		}
	}
	ts.mem.AddUser(u)
	ts.users[name] = u
	return u
}

func (ts *testServer) userOf(name string) *imapmemserver.User { return ts.users[name] }

func (ts *testServer) url(user, pass, folder string) string {
	return "imap://" + url.UserPassword(user, pass).String() + "@" + ts.addr + "/" + folder
}

// urlAs is url with another scheme and host name (same port).
func (ts *testServer) urlAs(scheme, host, user, pass, folder string) string {
	_, port, _ := net.SplitHostPort(ts.addr)
	return scheme + "://" + url.UserPassword(user, pass).String() + "@" + net.JoinHostPort(host, port) + "/" + folder
}

// newSilentListener accepts connections and never writes to them; it returns its address.
func newSilentListener(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return ln.Addr().String()
}

// msg returns a small message whose Message-ID is <id>.
func msg(id string) []byte {
	return []byte("From: Jean <jean@client.example>\r\nTo: support@support.example\r\n" +
		"Subject: about " + id + "\r\nMessage-ID: <" + id + ">\r\n" +
		"Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\nHello, this is " + id + ".\r\n")
}

func appendTo(t *testing.T, u *imapmemserver.User, folder string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := u.Append(folder, bytes.NewReader(msg(id)), &imap.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// boxMsg is a message seen in a folder by folderContents.
type boxMsg struct {
	uid  imap.UID
	id   string
	seen bool
}

// folderContents lists a folder over IMAP (EXAMINE, so nothing changes).
func folderContents(t *testing.T, addr, user, pass, folder string) []boxMsg {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, pass).Wait(); err != nil {
		t.Fatal(err)
	}
	data, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	var ie *imap.Error
	if errors.As(err, &ie) && (ie.Code == imap.ResponseCodeNonExistent || strings.Contains(ie.Text, "doesn't exist")) {
		return nil // not created yet
	}
	if err != nil {
		t.Fatalf("EXAMINE %s: %v", folder, err)
	}
	if data.NumMessages == 0 {
		return nil
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	l, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, Envelope: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out []boxMsg
	for _, m := range l {
		b := boxMsg{uid: m.UID, id: m.Envelope.MessageID}
		for _, f := range m.Flags {
			b.seen = b.seen || f == imap.FlagSeen
		}
		out = append(out, b)
	}
	return out
}

func ids(l []boxMsg) []string {
	var out []string
	for _, m := range l {
		out = append(out, m.id)
	}
	return out
}

// delivery is one call of fakeDeliverer.Deliver that returned nil.
type delivery struct {
	id  string
	m   Meta
	dup bool
}

// fakeDeliverer stores messages in memory, recognising duplicates by Message-ID as the real
// store does.
type fakeDeliverer struct {
	mu         sync.Mutex
	stored     map[string]int // Message-ID → successful deliveries (1 + duplicates)
	log        []delivery
	calls      int
	fail       func(id string, m Meta) error // nil: never fails
	quarantine func(id string) bool
	after      func(id string, m Meta) // called after storing, outside the lock
	delay      time.Duration
	active     map[string]int // deliveries in progress per mailbox folder
	maxActive  int
}

func newFakeDeliverer() *fakeDeliverer {
	return &fakeDeliverer{stored: map[string]int{}, active: map[string]int{}}
}

func (d *fakeDeliverer) Deliver(ctx context.Context, raw []byte, m Meta) (bool, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return false, err
	}
	id := strings.Trim(msg.Header.Get("Message-Id"), "<>")
	key := fmt.Sprintf("%s/%v", m.Mailbox, m.Sent)
	d.mu.Lock()
	d.calls++
	d.active[key]++
	d.maxActive = max(d.maxActive, d.active[key])
	fail, after, delay := d.fail, d.after, d.delay
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.active[key]--
		d.mu.Unlock()
	}()
	if delay > 0 {
		time.Sleep(delay)
	}
	if fail != nil {
		if err := fail(id, m); err != nil {
			return false, err
		}
	}
	d.mu.Lock()
	d.stored[id]++
	d.log = append(d.log, delivery{id: id, m: m, dup: d.stored[id] > 1})
	q := d.quarantine != nil && d.quarantine(id)
	d.mu.Unlock()
	if after != nil {
		after(id, m)
	}
	return q, nil
}

func (d *fakeDeliverer) setFail(f func(id string, m Meta) error) {
	d.mu.Lock()
	d.fail = f
	d.mu.Unlock()
}

// distinct is the number of different messages stored.
func (d *fakeDeliverer) distinct() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.stored)
}

func (d *fakeDeliverer) deliveries() []delivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]delivery(nil), d.log...)
}

func (d *fakeDeliverer) has(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stored[id] > 0
}

// memState is an in-memory State.
type memState struct {
	mu       sync.Mutex
	m        map[string][2]uint32
	statuses map[string][]Status
}

func newMemState() *memState {
	return &memState{m: map[string][2]uint32{}, statuses: map[string][]Status{}}
}

func (s *memState) Load(ctx context.Context, key string) (uint32, uint32, error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.m[key]
	return v[0], v[1], nil
}

func (s *memState) Save(ctx context.Context, key string, validity, last uint32) error {
	if err := ctx.Err(); err != nil {
		return err // as a database would
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = [2]uint32{validity, last}
	return nil
}

func (s *memState) SetStatus(ctx context.Context, key string, st Status) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statuses[key] = append(s.statuses[key], st)
	return nil
}

func (s *memState) get(key string) (uint32, uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.m[key]
	return v[0], v[1]
}

func (s *memState) written(key string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Status(nil), s.statuses[key]...)
}

// memLocker is a Locker shared by the pollers of a test, as a database lock is by processes.
type memLocker struct {
	mu   sync.Mutex
	held map[string]chan struct{} // a held key's Lost channel
}

func newMemLocker() *memLocker { return &memLocker{held: map[string]chan struct{}{}} }

func (l *memLocker) Acquire(ctx context.Context, key string) (Lock, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[key] != nil {
		return Lock{}, false, nil
	}
	lost := make(chan struct{})
	l.held[key] = lost
	var once sync.Once
	return Lock{Lost: lost, Release: func() {
		once.Do(func() {
			l.mu.Lock()
			if l.held[key] == lost {
				delete(l.held, key)
			}
			l.mu.Unlock()
		})
	}}, true, nil
}

// lose takes a held key away from its holder, as the database does when the holder's
// connection dies: the key is free again, and the holder is told.
func (l *memLocker) lose(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lost := l.held[key]
	if lost == nil {
		return false
	}
	delete(l.held, key)
	close(lost)
	return true
}

// fastOptions keeps the tests quick.
func fastOptions(t *testing.T) *Options {
	return &Options{
		Logger:         testLogger(t),
		MinBackoff:     10 * time.Millisecond,
		MaxBackoff:     100 * time.Millisecond,
		DialTimeout:    5 * time.Second,
		CommandTimeout: 10 * time.Second,
		LockRetry:      20 * time.Millisecond,
	}
}

// testLogger logs to the test output with -v, and keeps quiet otherwise.
func testLogger(t *testing.T) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// running is a Poller started in the background.
type running struct {
	p      *Poller
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

func start(t *testing.T, p *Poller) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{p: p, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- p.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the poller and waits for Run to return.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("Run: got %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return within 10s of the cancel")
		}
	})
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: still waiting for %s", d, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// selfSigned returns a server TLS config for 127.0.0.1 and a client config that trusts it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "guichet test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

var errTestDown = errors.New("database down (test)")

func envSet(name string) bool { return os.Getenv(name) == "1" }

// brokenSession refuses to give the body of one UID, as a server does with a damaged message.
type brokenSession struct {
	imapserver.Session
	bad imap.UID
}

func (s *brokenSession) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	set, ok := numSet.(imap.UIDSet)
	if !ok || len(options.BodySection) == 0 || !set.Contains(s.bad) {
		return s.Session.Fetch(w, numSet, options)
	}
	uids, _ := set.Nums()
	uids = slices.DeleteFunc(uids, func(u imap.UID) bool { return u == s.bad })
	if len(uids) > 0 {
		if err := s.Session.Fetch(w, imap.UIDSetNum(uids...), options); err != nil {
			return err
		}
	}
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeServerBug, Text: "cannot read message"}
}
