package smtpd

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func TestConnectionLimits(t *testing.T) {
	tests := []struct {
		name          string
		maxConns      int
		maxConnPerIP  int
		admittedFirst int
	}{
		{name: "total", maxConns: 2, maxConnPerIP: -1, admittedFirst: 2},
		{name: "per address", maxConns: 10, maxConnPerIP: 1, admittedFirst: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions(t)
			o.MaxConnections, o.MaxConnPerIP = tt.maxConns, tt.maxConnPerIP
			_, addr := startServer(t, &fakeDeliverer{}, o, nil)

			var clients []*smtp.Client
			for range tt.admittedFirst {
				clients = append(clients, dial(t, addr))
			}
			c, err := smtp.Dial(addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			wantSMTPError(t, c.Hello("client.test"), 421, smtp.EnhancedCode{4, 7, 0})

			// Once a client leaves, a new one gets in.
			clients[0].Quit()
			eventually(t, "a connection slot", func() bool {
				c, err := smtp.Dial(addr)
				if err != nil {
					return false
				}
				defer c.Close()
				return c.Hello("client.test") == nil
			})
		})
	}
}

func TestMessageRate(t *testing.T) {
	o := testOptions(t)
	o.MaxMsgsPerIPPerMinute = 3
	d := &fakeDeliverer{}
	_, addr := startServer(t, d, o, nil)

	c := dial(t, addr)
	for i := range 3 {
		if err := send(c, "a@client.example", []string{"support@support.example"}, testMessage("rate@test")); err != nil {
			t.Fatalf("message %d: got %v, want 250", i+1, err)
		}
	}
	wantSMTPError(t, c.Mail("a@client.example", nil), 451, smtp.EnhancedCode{4, 7, 1})
	// The limit is per address, not per connection.
	c2 := dial(t, addr)
	wantSMTPError(t, c2.Mail("a@client.example", nil), 451, smtp.EnhancedCode{4, 7, 1})
	if got := len(d.deliveries()); got != 3 {
		t.Errorf("got %d deliveries, want 3", got)
	}
}

// TestLoopbackTrustedByDefault: the local MTA relays everything from 127.0.0.1; per-client
// limits must not throttle it.
func TestLoopbackTrustedByDefault(t *testing.T) {
	o := testOptions(t)
	o.TrustedNets = nil
	o.MaxMsgsPerIPPerMinute = 3
	d := &fakeDeliverer{}
	_, addr := startServer(t, d, o, nil)
	c := dial(t, addr)
	for i := range 10 {
		if err := send(c, "a@client.example", []string{"support@support.example"}, testMessage(fmt.Sprintf("trusted%d@test", i))); err != nil {
			t.Fatalf("message %d from loopback: got %v, want 250", i+1, err)
		}
	}
}

func TestAllowNets(t *testing.T) {
	o := testOptions(t)
	o.AllowNets = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	_, addr := startServer(t, &fakeDeliverer{}, o, nil)
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wantSMTPError(t, c.Hello("client.test"), 554, smtp.EnhancedCode{5, 7, 1})

	o = testOptions(t)
	o.AllowNets = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8")}
	_, addr = startServer(t, &fakeDeliverer{}, o, nil)
	dial(t, addr) // admitted
}

func TestRateLimiter(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	r := newRateLimiter(3, time.Minute, clock)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")

	steps := []struct {
		at   time.Duration // since the start
		key  netip.Addr
		want bool
	}{
		{0, a, true}, {0, a, true}, {time.Second, a, true},
		{2 * time.Second, a, false}, // 3 in the last minute
		{2 * time.Second, b, true},  // another client is not affected
		{60 * time.Second, a, false},
		{90 * time.Second, a, true}, // half of the previous minute still counts: 1.5 + 1
		{91 * time.Second, a, false},
		{4 * time.Minute, a, true}, // idle long enough: a fresh start
		{4 * time.Minute, a, true},
		{4 * time.Minute, a, true},
		{4 * time.Minute, a, false},
	}
	start := now
	for i, st := range steps {
		now = start.Add(st.at)
		if got := r.allow(st.key); got != st.want {
			t.Errorf("step %d (%v, %v): got %v, want %v", i, st.at, st.key, got, st.want)
		}
	}

	// Idle clients are forgotten.
	for i := range 100 {
		r.allow(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}))
	}
	if got := r.tracked(); got < 100 {
		t.Fatalf("got %d clients tracked, want at least 100", got)
	}
	now = now.Add(3 * time.Minute)
	r.allow(a)
	if got := r.tracked(); got != 1 {
		t.Errorf("after 3 idle minutes: got %d clients tracked, want 1", got)
	}

	if r := newRateLimiter(0, time.Minute, clock); !r.allow(a) {
		t.Error("no limit: got refused, want allowed")
	}
}

func TestClientKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::"},
		{"fe80::1%eth0", "fe80::"},
	}
	for _, tt := range tests {
		if got := clientKey(netip.MustParseAddr(tt.in)).String(); got != tt.want {
			t.Errorf("clientKey(%s): got %s, want %s", tt.in, got, tt.want)
		}
	}
}
