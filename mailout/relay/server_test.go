package relay

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testServer is a go-smtp server on 127.0.0.1 that records what it gets.
// Configure the fields above mu, then call start.
type testServer struct {
	tlsConfig    *tls.Config       // offered with STARTTLS, or used for every connection if implicitTLS
	implicitTLS  bool              // smtps
	insecureAuth bool              // offer AUTH without TLS
	mechs        []string          // AUTH mechanisms offered: "PLAIN", "LOGIN"
	users        map[string]string // user name → password
	readTimeout  time.Duration     // server-side idle timeout (421 then close)

	rcptErr func(to string) error                 // refuse a recipient
	dataErr func(c *smtp.Conn, data []byte) error // runs after DATA is read; may block or close c

	addr     string
	accepted atomic.Int64 // TCP connections accepted

	mu          sync.Mutex
	msgs        []received
	attempts    int // DATA payloads received, delivered or not
	sessions    int // sessions open now
	maxSessions int
	conns       []*smtp.Conn // in session order
}

// received is one accepted message.
type received struct {
	from  string
	to    []string
	data  []byte
	tls   bool
	hello string
	user  string
	mech  string
}

// start serves on a fresh loopback port until the test ends.
func (s *testServer) start(t *testing.T) *testServer {
	t.Helper()
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = s.insecureAuth
	srv.ReadTimeout = s.readTimeout
	srv.ErrorLog = log.New(io.Discard, "", 0)
	var l net.Listener
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if s.implicitTLS {
		l = tls.NewListener(l, s.tlsConfig)
	} else {
		srv.TLSConfig = s.tlsConfig
	}
	s.addr = l.Addr().String()
	go srv.Serve(countingListener{l, &s.accepted})
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *testServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func (s *testServer) counts() (attempts, sessions, maxSessions int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts, s.sessions, s.maxSessions
}

// dropConnections closes every connection from the server side.
func (s *testServer) dropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Conn().Close()
	}
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func (s *testServer) newSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions++
	s.maxSessions = max(s.maxSessions, s.sessions)
	s.conns = append(s.conns, c)
	return &testSession{srv: s, conn: c}, nil
}

// testSession implements smtp.Session and smtp.AuthSession.
type testSession struct {
	srv        *testServer
	conn       *smtp.Conn
	from       string
	to         []string
	user, mech string
}

func (s *testSession) AuthMechanisms() []string { return s.srv.mechs }

func (s *testSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if want, ok := s.srv.users[user]; !ok || want != pass {
			return smtp.ErrAuthFailed
		}
		s.user, s.mech = user, mech
		return nil
	}
	switch mech {
	case "PLAIN":
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case "LOGIN":
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *testSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.srv.rcptErr != nil {
		if err := s.srv.rcptErr(to); err != nil {
			return err
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.srv.mu.Lock()
	s.srv.attempts++
	s.srv.mu.Unlock()
	if s.srv.dataErr != nil {
		if err := s.srv.dataErr(s.conn, data); err != nil {
			return err
		}
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	s.srv.msgs = append(s.srv.msgs, received{from: s.from, to: s.to, data: data, tls: isTLS,
		hello: s.conn.Hostname(), user: s.user, mech: s.mech})
	return nil
}

func (s *testSession) Reset() { s.from, s.to = "", nil }

func (s *testSession) Logout() error {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	s.srv.sessions--
	return nil
}

// loginServer is the server side of SASL LOGIN, which go-sasl lacks.
type loginServer struct {
	step  int
	user  string
	check func(user, pass string) error
}

func (s *loginServer) Next(resp []byte) ([]byte, bool, error) {
	s.step++
	switch s.step {
	case 1:
		if resp == nil {
			return []byte("Username:"), false, nil
		}
		s.step++ // the user name came as an initial response
		s.user = string(resp)
		return []byte("Password:"), false, nil
	case 2:
		s.user = string(resp)
		return []byte("Password:"), false, nil
	case 3:
		return nil, true, s.check(s.user, string(resp))
	}
	return nil, false, errors.New("unexpected LOGIN response")
}

// testCert returns a self-signed certificate for 127.0.0.1 and localhost,
// and a pool that trusts it.
func testCert(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "relay test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, pool
}

// waitFor polls cond until it holds, failing the test after 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
