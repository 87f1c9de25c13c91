package smtpd

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// remoteIP is the IP address of a TCP peer; ok is false for anything else (a unix socket).
func remoteIP(a net.Addr) (ip netip.Addr, ok bool) {
	if ta, isTCP := a.(*net.TCPAddr); isTCP {
		ip = ta.AddrPort().Addr().Unmap()
		return ip, ip.IsValid()
	}
	if a == nil {
		return netip.Addr{}, false
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// clientKey is what the per-client limits count by: the IPv4 address, or the /64 of an IPv6
// address (one host commonly holds a whole /64).
func clientKey(ip netip.Addr) netip.Addr {
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return ip
}

// allowedIP reports whether ip is in one of nets (every address is when nets is empty).
func allowedIP(nets []netip.Prefix, ip netip.Addr) bool {
	if len(nets) == 0 {
		return true
	}
	for _, p := range nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// maxRateClients bounds the memory of a rateLimiter; clients beyond it are not limited until
// idle ones are forgotten (failing open rather than refusing unknown senders).
const maxRateClients = 1 << 16

// rateLimiter bounds the events per client in any window (one minute in use). The sliding
// window is approximated from two fixed windows per client: the count of the current one plus
// the previous one's count weighted by how much of it still overlaps the sliding window.
// Clients idle for two windows are forgotten, so memory follows the active clients only.
type rateLimiter struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu        sync.Mutex
	clients   map[netip.Addr]rateWindow
	nextSweep time.Time
}

type rateWindow struct {
	start     time.Time // start of the current fixed window
	cur, prev int       // events in the current and the previous fixed window
}

// newRateLimiter returns a limiter of limit events per window; limit <= 0 means no limit
// (a nil limiter, which allows everything).
func newRateLimiter(limit int, window time.Duration, now func() time.Time) *rateLimiter {
	if limit <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &rateLimiter{limit: limit, window: window, now: now, clients: make(map[netip.Addr]rateWindow)}
}

// allow counts one event for key and reports whether it is within the limit. Refused events
// are not counted, so a client that backs off gets through again.
func (r *rateLimiter) allow(key netip.Addr) bool {
	if r == nil {
		return true
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweep(now)

	w, known := r.clients[key]
	if !known {
		if len(r.clients) >= maxRateClients {
			return true
		}
		w = rateWindow{start: now}
	}
	switch d := now.Sub(w.start); {
	case d >= 2*r.window || d < 0:
		w = rateWindow{start: now}
	case d >= r.window:
		w = rateWindow{start: w.start.Add(r.window), prev: w.cur}
	}
	overlap := r.window - now.Sub(w.start) // of the previous fixed window with the sliding one
	estimate := float64(w.prev)*float64(overlap)/float64(r.window) + float64(w.cur)
	if estimate+1 > float64(r.limit) {
		r.clients[key] = w
		return false
	}
	w.cur++
	r.clients[key] = w
	return true
}

// sweep forgets, at most once a window, the clients with nothing left in the sliding window.
func (r *rateLimiter) sweep(now time.Time) {
	if now.Before(r.nextSweep) {
		return
	}
	r.nextSweep = now.Add(r.window)
	for k, w := range r.clients {
		if now.Sub(w.start) >= 2*r.window {
			delete(r.clients, k)
		}
	}
}

// tracked is the number of clients the limiter remembers.
func (r *rateLimiter) tracked() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.clients)
}

// inNets reports whether ip is in one of nets (none when nets is empty).
func inNets(nets []netip.Prefix, ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}
