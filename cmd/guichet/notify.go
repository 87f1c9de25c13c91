package main

import (
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"guichet/mailin"
	"guichet/mailout"
	"guichet/mailout/relay"
	"guichet/signed"
	"guichet/store"
	"guichet/templates"
	"guichet/ticket"
)

func init() {
	register(&command{
		name:    "outbox list",
		summary: "List the notifications, newest first, with their state; --failed for the failed ones only.",
		flags: func(fs *flag.FlagSet) {
			fs.Bool("failed", false, "only the notifications that failed")
			fs.Int("limit", 50, "how many")
			fs.Bool("json", false, "print JSON")
		},
		run: outboxList,
	})
	register(&command{
		name:    "outbox retry",
		summary: "Send failed notifications again: one by ID, or --all.",
		args:    "ID | --all",
		flags:   func(fs *flag.FlagSet) { fs.Bool("all", false, "retry every failed notification") },
		run:     outboxRetry,
	})
	register(&command{
		name:    "bounced list",
		summary: "List the addresses that no notification goes to since mail to them failed permanently.",
		flags:   func(fs *flag.FlagSet) { fs.Bool("json", false, "print JSON") },
		run:     bouncedList,
	})
	register(&command{
		name:    "bounced clear",
		summary: "Let notifications go to an address again after a permanent failure.",
		args:    "ADDRESS",
		run:     bouncedClear,
	})
}

// notifying installs the notification planner and the timed rules' delays on s, so that every
// change this process makes writes its notifications and its timers in its own transaction. It
// returns the installation's signer.
func (e *env) notifying(s *store.Store) (*signed.Signer, error) {
	sg, err := e.signer(s, true)
	if err != nil {
		return nil, err
	}
	off := map[string]bool{}
	for _, k := range e.cfg.NotifyOff {
		off[k] = true
	}
	p := mailin.New(pipelineConfig(e.cfg), sg, nil)
	tp := e.cfg.TimerPolicy()
	s.SetPlanner(mailout.Planner(mailout.PlanConfig{
		Signer: sg, Domain: mailout.DomainOf(e.cfg.NoreplyAddress), Ours: p.AcceptsRecipient, Off: off,
		AutoCloseAfter: tp.AutoCloseAfter, AutoCloseByRoute: tp.AutoCloseByRoute, PendingCloseAfter: tp.PendingCloseAfter,
		RemindAfter: tp.RemindAfter, EscalateAfter: tp.EscalateAfter, DefaultLang: ticket.Lang(e.cfg.DefaultLang),
	}))
	s.SetTimerPolicy(tp)
	return sg, nil
}

// checkNotifyOff refuses unknown kinds in notify_off.
func checkNotifyOff(kinds []string) error {
	known := map[string]bool{}
	for _, k := range templates.Kinds {
		known[k] = true
	}
	for _, k := range kinds {
		if !known[k] {
			return usagef("notify_off (GUICHET_NOTIFY_OFF): %q is not a notification kind; the kinds are %s", k, strings.Join(templates.Kinds, ", "))
		}
	}
	return nil
}

// startSender builds the outbox sender of `guichet serve` and the page templates.
func startSender(e *env, s *store.Store, sg *signed.Signer) (*mailout.Sender, *templates.Set, relay.Transport, error) {
	if err := checkNotifyOff(e.cfg.NotifyOff); err != nil {
		return nil, nil, nil, err
	}
	set, err := templates.Load(e.cfg.TemplatesDir)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("serve: templates: %w", err)
	}
	brands := map[string]mailout.Brand{}
	for _, r := range e.cfg.Routes {
		b := mailout.Brand{Name: r.Name, From: ticket.NormalizeAddress(r.From)}
		if r.Templates != "" {
			if b.Templates, err = templates.Load(r.Templates); err != nil {
				return nil, nil, nil, fmt.Errorf("serve: templates of route %s: %w", r.Address, err)
			}
		}
		brands[ticket.NormalizeAddress(r.Address)] = b
	}
	tr, err := relay.Open(e.cfg.Relay, relay.Options{Hello: mailout.DomainOf(e.cfg.NoreplyAddress), Logger: e.log})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("serve: relay (GUICHET_RELAY): %w", err)
	}
	snd, err := mailout.NewSender(mailout.Config{
		Store: s, Transport: tr, Signer: sg, Templates: set,
		Brand:   mailout.Brand{Name: e.cfg.NoreplyName, From: ticket.NormalizeAddress(e.cfg.NoreplyAddress)},
		Brands:  brands,
		Support: ticket.NormalizeAddress(e.cfg.SupportAddresses[0]),
		BaseURL: e.cfg.BaseURL, Types: e.cfg.Policy().Types, TagPrefix: e.cfg.TagPrefix,
		RetryFor: time.Duration(e.cfg.RetryFor), RateLimit: rateLimit(e.cfg.RateLimit), RateWindow: time.Duration(e.cfg.RateWindow),
		Logger: e.log,
	})
	if err != nil {
		tr.Close()
		return nil, nil, nil, err
	}
	return snd, set, tr, nil
}

// rateLimit maps the configuration's 0 (no limit) to the sender's negative.
func rateLimit(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

func outboxList(e *env, fs *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("takes no arguments")
	}
	return withStore(e, func(s *store.Store) error {
		rows, err := s.OutboxList(e.ctx, flagBool(fs, "failed"), flagInt(fs, "limit"))
		if err != nil {
			return err
		}
		if flagBool(fs, "json") {
			if rows == nil {
				rows = []store.OutboxRow{}
			}
			return writeJSON(e.stdout, rows)
		}
		if len(rows) == 0 {
			fmt.Fprintln(e.stdout, "no notifications")
			return nil
		}
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tTICKET\tKIND\tTO\tSTATE\tTRIES\tWHEN\tERROR")
		for _, r := range rows {
			when := stamp(r.Created)
			switch {
			case r.State == store.OutboxSent:
				when = stamp(r.Sent)
			case r.State == store.OutboxPending:
				when = "next " + stamp(r.NextAttempt)
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.ID, ticket.Tag(e.cfg.TagPrefix, r.Number), r.Kind, r.Recipient,
				r.State, r.Attempts, when, oneLine(r.LastError, 60))
		}
		return w.Flush()
	})
}

func outboxRetry(e *env, fs *flag.FlagSet, args []string) error {
	all := flagBool(fs, "all")
	if all == (len(args) == 1) || len(args) > 1 {
		return usagef("give one notification ID, or --all")
	}
	var id int64
	if !all {
		var err error
		if id, err = parseNumber(args[0]); err != nil {
			return usagef("%q is not a notification ID", args[0])
		}
	}
	return withStore(e, func(s *store.Store) error {
		n, err := s.RetryOutbox(e.ctx, id, e.now())
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%d notification(s) queued again; guichet serve sends them within seconds\n", n)
		return nil
	})
}

func bouncedList(e *env, fs *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("takes no arguments")
	}
	return withStore(e, func(s *store.Store) error {
		list, err := s.BouncedAddresses(e.ctx)
		if err != nil {
			return err
		}
		if flagBool(fs, "json") {
			if list == nil {
				list = []store.BouncedAddress{}
			}
			return writeJSON(e.stdout, list)
		}
		if len(list) == 0 {
			fmt.Fprintln(e.stdout, "no bounced addresses")
			return nil
		}
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ADDRESS\tFAILURES\tLAST\tSTATUS\tDIAGNOSTIC")
		for _, b := range list {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\n", b.Address, b.Failures, stamp(b.Last), orDash(b.Status), oneLine(b.Diagnostic, 60))
		}
		return w.Flush()
	})
}

func bouncedClear(e *env, _ *flag.FlagSet, args []string) error {
	if len(args) != 1 {
		return usagef("give one address")
	}
	return withStore(e, func(s *store.Store) error {
		if err := s.ClearBounced(e.ctx, args[0], e.now()); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s cleared: notifications go to it again\n", ticket.NormalizeAddress(args[0]))
		return nil
	})
}
