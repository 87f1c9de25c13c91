package smtpd

import (
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// rejectTimeout bounds the write of a refusal at connection time.
const rejectTimeout = 5 * time.Second

// maxRejecting bounds the refusals being written at once; beyond it connections are closed
// without a word, so that a flood costs neither goroutines nor a blocked accept loop.
const maxRejecting = 64

// listener admits connections before go-smtp sees them: allowed networks, connection limits,
// shutdown. Its counters are guarded by the server's mutex.
type listener struct {
	net.Listener
	srv   *Server
	proto string
	unix  bool // a unix socket: no addresses, no per-client limits
	perIP bool // per-client limits apply (SMTP over TCP)

	n      int                // open connections
	perKey map[netip.Addr]int // open connections per client key

	closeOnce sync.Once
	closeErr  error
}

var _ net.Listener = (*listener)(nil)

func (s *Server) newListener(ln net.Listener, proto string) *listener {
	unix := ln.Addr().Network() == "unix"
	return &listener{
		Listener: ln,
		srv:      s,
		proto:    proto,
		unix:     unix,
		perIP:    proto == ProtoSMTP && !unix,
		perKey:   make(map[netip.Addr]int),
	}
}

// Accept returns the next admitted connection; refused ones are answered and closed here.
func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if tc := l.admit(c); tc != nil {
			return tc, nil
		}
	}
}

func (l *listener) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.Listener.Close() })
	return l.closeErr
}

// admit decides whether c may talk to us; nil means it was refused.
func (l *listener) admit(c net.Conn) *trackedConn {
	s := l.srv
	tc := &trackedConn{Conn: c, l: l}
	if l.unix {
		tc.remote = "unix:" + c.LocalAddr().String()
	} else {
		tc.remote = c.RemoteAddr().String()
		ip, ok := remoteIP(c.RemoteAddr())
		if (!ok && len(s.opts.AllowNets) > 0) || (ok && !allowedIP(s.opts.AllowNets, ip)) {
			s.log.Info("connection refused: network not allowed", "remote", tc.remote, "proto", l.proto)
			s.reject(c, lineAccessDenied(s.opts.Domain))
			return nil
		}
		if ok && !inNets(s.opts.TrustedNets, ip) {
			tc.key, tc.hasKey = clientKey(ip), true
		}
	}

	s.mu.Lock()
	var refusal, reason string
	switch {
	case s.draining:
		refusal, reason = lineShuttingDown(s.opts.Domain), "shutting down"
	case s.opts.MaxConnections > 0 && l.n >= s.opts.MaxConnections:
		refusal, reason = lineTooManyConns(s.opts.Domain), "too many connections"
	case l.perIP && s.opts.MaxConnPerIP > 0 && l.perKey[tc.key] >= s.opts.MaxConnPerIP:
		refusal, reason = lineTooManyConns(s.opts.Domain), "too many connections from this client"
	default:
		l.n++
		if tc.hasKey {
			l.perKey[tc.key]++
		}
		s.conns[tc] = struct{}{}
		s.busy++
	}
	s.mu.Unlock()

	if refusal != "" {
		s.log.Info("connection refused: "+reason, "remote", tc.remote, "proto", l.proto)
		s.reject(c, refusal)
		return nil
	}
	s.log.Debug("connection", "remote", tc.remote, "proto", l.proto)
	return tc
}

// forget undoes admit once the connection is closed.
func (l *listener) forget(tc *trackedConn) {
	s := l.srv
	s.mu.Lock()
	l.n--
	if tc.hasKey {
		if l.perKey[tc.key]--; l.perKey[tc.key] <= 0 {
			delete(l.perKey, tc.key)
		}
	}
	delete(s.conns, tc)
	s.mu.Unlock()
	s.log.Debug("connection closed", "remote", tc.remote, "proto", l.proto)
	s.release()
}

// reject writes line to c and closes it, without blocking the accept loop.
func (s *Server) reject(c net.Conn, line string) {
	select {
	case s.rejecting <- struct{}{}:
		go func() {
			defer func() { <-s.rejecting }()
			_ = c.SetWriteDeadline(time.Now().Add(rejectTimeout))
			_, _ = io.WriteString(c, line)
			_ = c.Close()
		}()
	default:
		_ = c.Close()
	}
}

// pastDeadline makes pending and future reads fail at once.
func pastDeadline() time.Time { return time.Unix(1, 0) }

// trackedConn is an admitted connection. Besides counting it, it times the reads of a message
// and lets the server stop a session between commands: once stopping is set, every read
// deadline go-smtp sets for a command becomes one in the past, so the session answers 421 and
// closes; a transaction already in DATA keeps reading and gets its reply first.
type trackedConn struct {
	net.Conn
	l      *listener
	remote string
	key    netip.Addr // client key for the per-client limits
	hasKey bool

	closeOnce sync.Once

	mu       sync.Mutex // serialises the flags with the read deadline changes
	stopping bool
	inData   bool
}

var _ net.Conn = (*trackedConn)(nil)

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() { c.l.forget(c) })
	return err
}

func (c *trackedConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping && !c.inData {
		t = pastDeadline()
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *trackedConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

// Read reads from the connection. While a message is being received, go-smtp sets no deadline
// of its own (its deadline from the DATA command would bound the whole message), so each read
// gets ReadTimeout from now: the deadline measures progress, stopping or not.
func (c *trackedConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.inData {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.l.srv.opts.ReadTimeout))
	}
	c.mu.Unlock()
	return c.Conn.Read(p)
}

// stop ends the session at its next command (at once when it is waiting for one).
func (c *trackedConn) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopping = true
	if !c.inData {
		_ = c.Conn.SetReadDeadline(pastDeadline())
	}
}

// setInData marks the span during which the message is being received and delivered.
func (c *trackedConn) setInData(v bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inData = v
	if !v && c.stopping {
		_ = c.Conn.SetReadDeadline(pastDeadline())
	}
}

// tracked finds our connection under what go-smtp holds (itself, or a TLS connection over it).
func tracked(c net.Conn) *trackedConn {
	if tlsConn, ok := c.(*tls.Conn); ok {
		c = tlsConn.NetConn()
	}
	tc, _ := c.(*trackedConn)
	return tc
}
