package smtpd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// selfSigned makes a certificate for localhost and 127.0.0.1, and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mx.test"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
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
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestStartTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	o := testOptions(t)
	o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	d := &fakeDeliverer{}
	_, addr := startServer(t, d, o, nil)

	plain := dial(t, addr)
	if ok, _ := plain.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not announced")
	}

	c, err := smtp.DialStartTLS(addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok { // the EHLO over TLS: the handshake is done
		t.Error("STARTTLS announced again over TLS")
	}
	state, ok := c.TLSConnectionState()
	if !ok || !state.HandshakeComplete {
		t.Fatalf("got TLS %v, handshake complete %v, want both", ok, state.HandshakeComplete)
	}
	msg := testMessage("tls@test")
	if err := send(c, "a@client.example", []string{"support@support.example"}, msg); err != nil {
		t.Fatalf("got %v, want 250", err)
	}
	calls := d.deliveries()
	if len(calls) != 1 || !calls[0].env.TLS || string(calls[0].raw) != msg {
		t.Fatalf("got %+v, want one delivery over TLS", calls)
	}

	// Without TLS configured, no STARTTLS.
	_, addr2 := startServer(t, d, testOptions(t), nil)
	if ok, _ := dial(t, addr2).Extension("STARTTLS"); ok {
		t.Error("STARTTLS announced without a TLS configuration")
	}
}
