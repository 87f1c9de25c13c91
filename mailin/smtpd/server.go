package smtpd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Server receives mail over SMTP and LMTP and hands it to a Deliverer.
type Server struct {
	d    Deliverer
	opts Options
	log  *slog.Logger
	rate *rateLimiter

	ctx    context.Context // parent of every Deliver ctx, cancelled once Shutdown is over
	cancel context.CancelFunc

	rejecting chan struct{} // slots for refusals being written

	mu        sync.Mutex
	draining  bool
	serving   bool
	opened    []net.Listener // opened by Listen, not yet served: [smtp, lmtp], either nil
	listeners []*listener
	smtpAddr  net.Addr
	lmtpAddr  net.Addr
	conns     map[*trackedConn]struct{}
	busy      int           // open connections plus Deliver calls under way
	idle      chan struct{} // closed when busy falls to 0 (made by Shutdown)
}

// New returns a server that delivers to d. A nil o means the defaults, but
// Options.AcceptRecipient is required.
func New(d Deliverer, o *Options) (*Server, error) {
	if d == nil {
		return nil, errors.New("smtpd: nil Deliverer")
	}
	opts, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		d:         d,
		opts:      opts,
		log:       opts.Logger,
		rate:      newRateLimiter(opts.MaxMsgsPerIPPerMinute, time.Minute, time.Now),
		ctx:       ctx,
		cancel:    cancel,
		rejecting: make(chan struct{}, maxRejecting),
		conns:     make(map[*trackedConn]struct{}),
	}, nil
}

// Listen opens the configured listeners (Options.Addr, Options.LMTPAddr) without serving them
// yet, so that Addr and LMTPAddrActual are known before ListenAndServe is called.
func (s *Server) Listen() error {
	s.mu.Lock()
	done := s.opened != nil || s.serving || s.draining
	s.mu.Unlock()
	if done {
		return errors.New("smtpd: Listen: already listening or shut down")
	}
	if s.opts.Addr == "-" && s.opts.LMTPAddr == "" {
		return errors.New("smtpd: no listener configured (Addr is \"-\" and LMTPAddr is empty)")
	}

	var smtpLn, lmtpLn net.Listener
	var err error
	if s.opts.Addr != "-" {
		if smtpLn, err = net.Listen("tcp", s.opts.Addr); err != nil {
			return fmt.Errorf("smtpd: SMTP listener: %w", err)
		}
	}
	if s.opts.LMTPAddr != "" {
		if lmtpLn, err = listenLMTP(s.opts.LMTPAddr); err != nil {
			if smtpLn != nil {
				smtpLn.Close()
			}
			return fmt.Errorf("smtpd: LMTP listener: %w", err)
		}
	}

	s.mu.Lock()
	s.opened = []net.Listener{smtpLn, lmtpLn}
	if smtpLn != nil {
		s.smtpAddr = smtpLn.Addr()
	}
	if lmtpLn != nil {
		s.lmtpAddr = lmtpLn.Addr()
	}
	s.mu.Unlock()
	return nil
}

// listenLMTP listens on "host:port" or "unix:/path". A stale socket file (one nobody answers
// on) is removed first.
func listenLMTP(addr string) (net.Listener, error) {
	path, isUnix := strings.CutPrefix(addr, "unix:")
	if !isUnix {
		return net.Listen("tcp", addr)
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("%s is in use", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	return net.Listen("unix", path)
}

// ListenAndServe opens the configured listeners (unless Listen did) and serves them; it returns
// when they stop: nil after Shutdown, the error otherwise.
func (s *Server) ListenAndServe() error {
	s.mu.Lock()
	opened := s.opened != nil
	s.mu.Unlock()
	if !opened {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	lns := s.opened
	s.mu.Unlock()
	if lns == nil { // Shutdown came in between
		return nil
	}
	return s.Serve(lns[0], lns[1])
}

// Serve serves SMTP on smtpLn and LMTP on lmtpLn (a TCP or unix listener); either may be nil.
// It returns when both stop: nil after Shutdown; when one fails, the other is closed and the
// error returned (open sessions go on until Shutdown). Serve may be called once.
func (s *Server) Serve(smtpLn, lmtpLn net.Listener) error {
	if smtpLn == nil && lmtpLn == nil {
		return errors.New("smtpd: Serve: no listener")
	}
	s.mu.Lock()
	if s.draining || s.serving {
		draining := s.draining
		s.mu.Unlock()
		if !draining {
			return errors.New("smtpd: Serve called twice")
		}
		for _, ln := range []net.Listener{smtpLn, lmtpLn} {
			if ln != nil {
				ln.Close()
			}
		}
		return nil
	}
	s.serving = true
	s.opened = nil
	var lns []*listener
	if smtpLn != nil {
		lns = append(lns, s.newListener(smtpLn, ProtoSMTP))
		s.smtpAddr = smtpLn.Addr()
	}
	if lmtpLn != nil {
		lns = append(lns, s.newListener(lmtpLn, ProtoLMTP))
		s.lmtpAddr = lmtpLn.Addr()
	}
	s.listeners = lns
	s.mu.Unlock()

	errc := make(chan error, len(lns))
	for _, l := range lns {
		gs := s.protocolServer(l)
		s.log.Info("listening", "proto", l.proto, "addr", l.Addr().String())
		go func() {
			err := gs.Serve(l)
			if err != nil && errors.Is(err, net.ErrClosed) && s.isDraining() {
				err = nil
			}
			errc <- err
		}()
	}
	var first error
	for range lns {
		if err := <-errc; err != nil && first == nil {
			first = err
			s.log.Error("listener failed", "error", err)
			for _, l := range lns {
				l.Close()
			}
		}
	}
	return first
}

// protocolServer is the go-smtp server for one listener.
func (s *Server) protocolServer(l *listener) *smtp.Server {
	gs := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return s.newSession(c, l), nil
	}))
	gs.LMTP = l.proto == ProtoLMTP
	gs.Domain = s.opts.Domain
	if !l.unix {
		gs.TLSConfig = s.opts.TLSConfig
	}
	gs.MaxMessageBytes = s.opts.MaxMessageSize
	// go-smtp's line limit (2,000 by default) applies inside DATA too, where it answered a
	// message with one longer line — HTML from mailers that never fold, unwrapped base64 — with
	// 451, and the sender retried until it bounced. Real MTAs accept such lines; no line of a
	// message can be longer than the message, which the size limit bounds (552 first), and a
	// command line costs no more memory than a message. (The rest of a message refused for its
	// size is read and dropped under this limit too: a single line longer than the size limit
	// ends the session after the 552.)
	gs.MaxLineLength = int(min(s.opts.MaxMessageSize, math.MaxInt32-1<<20)) + 64<<10 // past what bufio reads ahead
	gs.MaxRecipients = s.opts.MaxRecipients
	gs.ReadTimeout = s.opts.ReadTimeout
	gs.WriteTimeout = s.opts.WriteTimeout
	gs.EnableSMTPUTF8 = true   // addresses are handed on as sent; the message is kept as bytes
	gs.EnableREQUIRETLS = true // only announced over TLS; we are the final destination
	gs.ErrorLog = errorLog{s.log}
	return gs
}

// Addr is the SMTP listener's address (the actual port for ":0"), nil without one.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.smtpAddr
}

// LMTPAddrActual is the LMTP listener's address, nil without one.
func (s *Server) LMTPAddrActual() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lmtpAddr
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

// Shutdown stops accepting connections, closes idle sessions (421), lets sessions in DATA
// finish (Deliver completes and the client gets its reply) and returns once every connection
// is closed and every Deliver has returned. If ctx ends first, it closes every connection,
// cancels the Deliver contexts and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	lns := s.listeners
	opened := s.opened
	s.opened = nil
	conns := make([]*trackedConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	var idle chan struct{}
	if s.busy > 0 {
		if s.idle == nil {
			s.idle = make(chan struct{})
		}
		idle = s.idle
	}
	s.mu.Unlock()

	var err error
	for _, ln := range opened {
		if ln != nil {
			ln.Close()
		}
	}
	for _, l := range lns {
		if e := l.Close(); e != nil && !errors.Is(e, net.ErrClosed) && err == nil {
			err = e
		}
	}
	for _, c := range conns {
		c.stop()
	}
	s.log.Info("shutting down", "connections", len(conns))

	if idle != nil {
		select {
		case <-idle:
		case <-ctx.Done():
			s.cancel()
			s.closeConns()
			s.log.Warn("shutdown: time is up, connections closed", "error", ctx.Err())
			return ctx.Err()
		}
	}
	s.cancel()
	return err
}

// closeConns closes every open connection at once.
func (s *Server) closeConns() {
	s.mu.Lock()
	conns := make([]*trackedConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// acquire and release count what Shutdown waits for: connections and Deliver calls.
func (s *Server) acquire() {
	s.mu.Lock()
	s.busy++
	s.mu.Unlock()
}

func (s *Server) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy--
	if s.busy == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
}
