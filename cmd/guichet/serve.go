package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // served only when GUICHET_DEBUG_PPROF is set
	"os"
	"runtime/debug"
	"time"

	"guichet/schedule"
	"guichet/store"
	"guichet/web"
)

func init() {
	register(&command{
		name:    "migrate",
		summary: "Bring the database schema up to date (GUICHET_DB), then exit.",
		run: func(e *env, _ *flag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usagef("takes no arguments")
			}
			s, err := store.Open(e.ctx, e.cfg.DB, &store.Options{Logger: e.log})
			if err != nil {
				return err
			}
			defer s.Close()
			n, err := s.Migrate(e.ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s database at schema version %d (%d applied)\n", s.Dialect(), s.LatestVersion(), n)
			return nil
		},
	})
	register(&command{
		name: "serve",
		summary: "Run the gateway: migrate the store, take mail by SMTP (GUICHET_SMTP_ADDR), LMTP (GUICHET_LMTP_ADDR)\n" +
			"and the configured IMAP mailboxes, send the notifications (GUICHET_RELAY), fire the timed rules\n" +
			"(automatic closing, reminders, escalation, housekeeping), and serve the ticket and\n" +
			"approve/refuse pages and GET /healthz on GUICHET_HTTP_ADDR, until SIGINT or SIGTERM.",
		run: serve,
	})
}

// gcPercent is serve's GOGC when the environment sets none.
const gcPercent = 400

func serve(e *env, _ *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("takes no arguments")
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		// A server's live heap is small and its garbage is mail: collecting at 5× the live heap
		// instead of 2× took a quarter of serve's CPU off under SMTP load, for tens of MB
		// (README, "Benchmarks"). GOGC in the environment decides instead.
		debug.SetGCPercent(gcPercent)
	}
	s, err := store.Open(e.ctx, e.cfg.DB, &store.Options{Logger: e.log, TicketStart: e.cfg.TicketStart})
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Migrate(e.ctx); err != nil {
		return err
	}
	mail, err := startTransports(e, s)
	if err != nil {
		return err
	}
	sg, err := e.notifying(s)
	if err != nil {
		mail.stop(context.Background(), e)
		return err
	}
	sender, pages, relayTr, err := startSender(e, s, sg)
	if err != nil {
		mail.stop(context.Background(), e)
		return err
	}
	defer relayTr.Close()
	sendCtx, stopSending := context.WithCancel(context.WithoutCancel(e.ctx))
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		sender.Run(sendCtx)
	}()
	defer func() { stopSending(); <-sent }()
	sched, err := schedule.New(schedule.Config{Store: s, Policy: e.cfg.Policy(), Logger: e.log, Housekeeping: e.cfg.Housekeeping,
		Retention: store.Retention{Raw: time.Duration(e.cfg.RetainRaw), Outbox: time.Duration(e.cfg.RetainOutbox),
			Quarantine: time.Duration(e.cfg.RetainQuarantine)}})
	if err != nil {
		mail.stop(context.Background(), e)
		return err
	}
	ticking := make(chan struct{})
	go func() {
		defer close(ticking)
		sched.Run(sendCtx)
	}()
	defer func() { stopSending(); <-ticking }()
	mux := http.NewServeMux()
	mux.Handle("/", web.Handler(web.Config{Store: s, Signer: sg, Templates: pages, Policy: e.cfg.Policy(),
		TagPrefix: e.cfg.TagPrefix, Brand: e.cfg.NoreplyName, Logger: e.log}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err := s.Ping(r.Context()); err != nil {
			e.log.Warn("health check", "error", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, `{"status":"unavailable"}`)
			return
		}
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	if addr, ok := e.getenv("GUICHET_DEBUG_PPROF"); ok && addr != "" {
		// Profiling for benchmarks, on its own listener (net/http/pprof registers on the default mux).
		go http.ListenAndServe(addr, http.DefaultServeMux)
	}
	ln, err := net.Listen("tcp", e.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	e.log.Info("serving", "http", ln.Addr().String(), "db", string(s.Dialect()))
	select {
	case err := <-errc:
		mail.stop(context.Background(), e)
		return fmt.Errorf("serve: %w", err)
	case <-e.ctx.Done():
	}
	e.log.Info("stopping")
	ctx, cancel := context.WithTimeout(context.WithoutCancel(e.ctx), 20*time.Second)
	defer cancel()
	mail.stop(ctx, e) // no more mail in; what is in flight is committed
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	e.log.Info("stopped")
	return nil
}
