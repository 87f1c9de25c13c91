package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"guichet/config"
	"guichet/mailin"
	"guichet/signed"
	"guichet/store"
	"guichet/ticket"
)

func init() {
	register(&command{
		name: "inspect", args: "[--json] FILE...",
		summary: "Run parse, classify and (when the configured database exists) thread on each message file,\n" +
			"changing nothing, and print one JSON object per file.",
		flags: func(fs *flag.FlagSet) { fs.Bool("json", true, "print JSON (the only format; accepted for scripts)") },
		run:   inspect,
	})
	register(&command{
		name: "ingest", args: "[FILE...]",
		summary: "Store each message (standard input when no file) through the inbound pipeline, as an MTA pipe does.\n" +
			"Exit 0 when stored, into quarantine too; 75 (EX_TEMPFAIL) when it could not be stored, so the MTA retries.",
		flags: func(fs *flag.FlagSet) { fs.String("source", "pipe", "where the message came from, recorded with it") },
		run:   ingest,
	})
	register(&command{
		name: "mailbox status", args: "[--json]",
		summary: "Show where each IMAP mailbox stands: state, last UID, last error, messages stored.",
		flags:   func(fs *flag.FlagSet) { fs.Bool("json", false, "print JSON") },
		run:     mailboxStatus,
	})
	register(&command{
		name: "quarantine list", args: "[--all] [--json]",
		summary: "List the messages kept aside, with why; --all shows the released ones too.",
		flags: func(fs *flag.FlagSet) {
			fs.Bool("all", false, "include released entries")
			fs.Bool("json", false, "print JSON")
		},
		run: quarantineList,
	})
	register(&command{
		name: "quarantine show", args: "ID [--raw]",
		summary: "Show one quarantined message: why it is there and what the pipeline makes of it now; --raw prints its bytes.",
		flags:   func(fs *flag.FlagSet) { fs.Bool("raw", false, "print the raw message") },
		run:     quarantineShow,
	})
	register(&command{
		name: "quarantine retry", args: "ID... | --all",
		summary: "Run quarantined messages through the pipeline again (after a fix); what it now stores is released.",
		flags:   func(fs *flag.FlagSet) { fs.Bool("all", false, "retry every waiting entry") },
		run:     quarantineRetry,
	})
}

// pipelineConfig builds the pipeline's settings from guichet's.
func pipelineConfig(c config.Config) mailin.Config {
	mc := mailin.Config{
		SupportAddresses: append([]string(nil), c.SupportAddresses...),
		NoreplyAddress:   c.NoreplyAddress,
		Routes:           map[string]mailin.Route{},
		TagPrefix:        c.TagPrefix,
		Policy:           c.Policy(),
		MaxMessageSize:   int64(c.MaxMessageSize),
		FloodLimit:       c.FloodLimit,
		TrustedAuthServ:  c.TrustedAuthServ,
		AcceptDomains:    c.AcceptDomains,
	}
	for _, r := range c.Routes {
		addr := ticket.NormalizeAddress(r.Address)
		mc.Routes[addr] = mailin.Route{Address: addr, Type: r.Type, Priority: ticket.Priority(r.Priority), Group: r.Group, Lang: ticket.Lang(r.Lang)}
	}
	return mc
}

// signer returns the installation's signer: GUICHET_SECRET, else the secret kept in the
// database (created on first use when create is set). nil when there is none yet.
func (e *env) signer(s *store.Store, create bool) (*signed.Signer, error) {
	if e.cfg.Secret != "" {
		return signed.New([]byte(e.cfg.Secret))
	}
	if s == nil {
		return nil, nil
	}
	var key []byte
	var err error
	if create {
		key, err = s.Secret(e.ctx, signed.NewSecret)
	} else {
		var ok bool
		key, ok, err = s.ExistingSecret(e.ctx)
		if !ok && err == nil {
			return nil, nil
		}
	}
	if err != nil {
		return nil, err
	}
	return signed.New(key)
}

// existingStore opens the configured store only if it exists and is current, never creating it.
func (e *env) existingStore() *store.Store {
	if db := e.cfg.DB; !strings.HasPrefix(db, "postgres://") && !strings.HasPrefix(db, "postgresql://") {
		path := strings.TrimPrefix(strings.TrimPrefix(db, "sqlite://"), "sqlite:")
		if _, err := os.Stat(path); err != nil {
			return nil
		}
	}
	s, err := e.openStore()
	if err != nil {
		e.log.Debug("inspect without the database", "error", err)
		return nil
	}
	return s
}

func inspect(e *env, _ *flag.FlagSet, files []string) error {
	if len(files) == 0 {
		return usagef("want at least one file")
	}
	s := e.existingStore()
	var opts mailin.Options
	var sg *signed.Signer
	if s != nil {
		defer s.Close()
		opts.Store = s
		sg, _ = e.signer(s, false)
	} else if e.cfg.Secret != "" {
		sg, _ = e.signer(nil, false)
	}
	p := mailin.New(pipelineConfig(e.cfg), sg, &opts)
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	for _, f := range files {
		a := inspectOne(e, p, f)
		a.File = f
		if err := enc.Encode(a); err != nil {
			return err
		}
	}
	return nil
}

// inspectOne analyzes one file; whatever happens, it returns an analysis to print.
func inspectOne(e *env, p *mailin.Pipeline, file string) (a *mailin.Analysis) {
	defer func() {
		if r := recover(); r != nil {
			a = unreadable(fmt.Sprintf("internal error while reading the message: %v", r))
		}
	}()
	raw, err := os.ReadFile(file)
	if err != nil {
		return unreadable(err.Error())
	}
	a, err = p.Analyze(e.ctx, raw, &mailin.Envelope{Source: "inspect"})
	if err != nil {
		a.Warnings = append(a.Warnings, "threading skipped: "+err.Error())
	}
	return a
}

func unreadable(why string) *mailin.Analysis {
	return &mailin.Analysis{Kind: mailin.KindUnreadable, To: []mailin.Address{}, Cc: []mailin.Address{},
		Attachments: []mailin.Attachment{}, Commands: []mailin.Command{}, Bounces: []mailin.Bounce{}, Warnings: []string{why}}
}

// tempFail marks an error after which the MTA should keep the message and retry.
type tempFail struct{ err error }

func (t tempFail) Error() string { return t.err.Error() }
func (t tempFail) Unwrap() error { return store.ErrUnavailable }

func ingest(e *env, fs *flag.FlagSet, files []string) error {
	s, err := e.openStore()
	if err != nil {
		return tempFail{err} // a database that is down or not migrated yet: keep the mail, retry later
	}
	defer s.Close()
	sg, err := e.notifying(s)
	if err != nil {
		return tempFail{err}
	}
	p := mailin.New(pipelineConfig(e.cfg), sg, &mailin.Options{Store: s, Logger: e.log})
	src := flagString(fs, "source")
	if len(files) == 0 {
		raw, err := io.ReadAll(io.LimitReader(e.stdin, 1<<31))
		if err != nil {
			return tempFail{fmt.Errorf("reading standard input: %w", err)}
		}
		return ingestOne(e, p, "standard input", raw, src)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := ingestOne(e, p, f, raw, src); err != nil {
			return err
		}
	}
	return nil
}

func ingestOne(e *env, p *mailin.Pipeline, name string, raw []byte, src string) error {
	a, d, err := p.Ingest(e.ctx, raw, &mailin.Envelope{Source: src})
	if err != nil {
		return tempFail{fmt.Errorf("%s: not stored: %w", name, err)}
	}
	tag := func(n int64) string { return ticket.Tag(e.cfg.TagPrefix, n) }
	switch {
	case d.Duplicate:
		fmt.Fprintf(e.stdout, "%s: already stored\n", name)
	case d.Quarantine != 0:
		fmt.Fprintf(e.stdout, "%s: quarantined as entry %d (%s)\n", name, d.Quarantine, a.Kind)
	case d.FollowUp != 0:
		fmt.Fprintf(e.stdout, "%s: new ticket %s following a closed one\n", name, tag(d.FollowUp))
	case d.Created:
		fmt.Fprintf(e.stdout, "%s: new ticket %s\n", name, tag(d.Number))
	case d.Number != 0:
		fmt.Fprintf(e.stdout, "%s: %s on %s\n", name, a.Kind, tag(d.Number))
	default:
		fmt.Fprintf(e.stdout, "%s: %s kept without a ticket\n", name, a.Kind)
	}
	return nil
}

func quarantineList(e *env, fs *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("takes no arguments")
	}
	return withStore(e, func(s *store.Store) error {
		qs, err := s.QuarantineList(e.ctx, flagBool(fs, "all"))
		if err != nil {
			return err
		}
		if flagBool(fs, "json") {
			out := []map[string]any{}
			for _, q := range qs {
				out = append(out, map[string]any{"id": q.ID, "received": jsonTime(q.Received), "source": q.Source, "reason": q.Reason,
					"kind": q.Kind, "message_id": q.MessageID, "sender": q.Sender, "subject": q.Subject, "size": q.Size,
					"released": jsonTime(q.Released), "released_to": q.ReleasedTo})
			}
			return writeJSON(e.stdout, out)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tRECEIVED\tKIND\tSENDER\tSUBJECT\tREASON")
		for _, q := range qs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", q.ID, q.Received.Format("2006-01-02 15:04"), orDash(q.Kind), orDash(q.Sender),
				oneLine(q.Subject, 40), oneLine(q.Reason, 80))
		}
		return tw.Flush()
	})
}

func quarantineShow(e *env, fs *flag.FlagSet, args []string) error {
	if len(args) != 1 {
		return usagef("want one entry id")
	}
	id, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil {
		return usagef("entry id %q is not a number", args[0])
	}
	return withStore(e, func(s *store.Store) error {
		q, raw, err := s.QuarantineEntry(e.ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("quarantine entry %d does not exist", id)
		}
		if err != nil {
			return err
		}
		if flagBool(fs, "raw") {
			_, err := e.stdout.Write(raw)
			return err
		}
		fmt.Fprintf(e.stdout, "entry %d, received %s by %s, %d bytes\nreason: %s\n", q.ID, stamp(q.Received), orDash(q.Source), q.Size, q.Reason)
		if !q.Released.IsZero() {
			fmt.Fprintf(e.stdout, "released %s: %s\n", stamp(q.Released), q.ReleasedTo)
		}
		sg, _ := e.signer(s, false)
		p := mailin.New(pipelineConfig(e.cfg), sg, &mailin.Options{Store: s})
		a, err := p.Analyze(e.ctx, raw, &mailin.Envelope{Source: q.Source})
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "\nwhat the pipeline makes of it now:")
		return writeJSON(e.stdout, a)
	})
}

func quarantineRetry(e *env, fs *flag.FlagSet, args []string) error {
	all := flagBool(fs, "all")
	if all == (len(args) > 0) {
		return usagef("want entry ids or --all")
	}
	return withStore(e, func(s *store.Store) error {
		var ids []int64
		if all {
			qs, err := s.QuarantineList(e.ctx, false)
			if err != nil {
				return err
			}
			for _, q := range qs {
				ids = append(ids, q.ID)
			}
		}
		for _, a := range args {
			id, err := strconv.ParseInt(a, 10, 64)
			if err != nil {
				return usagef("entry id %q is not a number", a)
			}
			ids = append(ids, id)
		}
		sg, err := e.signer(s, true)
		if err != nil {
			return err
		}
		p := mailin.New(pipelineConfig(e.cfg), sg, &mailin.Options{Store: s, Logger: e.log})
		failed := 0
		for _, id := range ids {
			q, raw, err := s.QuarantineEntry(e.ctx, id)
			if err == nil && !q.Released.IsZero() {
				err = fmt.Errorf("already released (%s)", q.ReleasedTo)
			}
			var a *mailin.Analysis
			var in *ticket.Inbound
			if err == nil {
				a, in, err = p.Decide(e.ctx, raw, &mailin.Envelope{Source: q.Source})
			}
			var d ticket.Delivered
			if err == nil {
				d, err = s.Redeliver(e.ctx, id, in, e.cfg.Policy())
			}
			switch {
			case err != nil:
				failed++
				fmt.Fprintf(e.stderr, "entry %d: %v\n", id, notFoundEntry(err, id))
			case d.Quarantine != 0:
				fmt.Fprintf(e.stdout, "entry %d: still quarantined: %s\n", id, in.Quarantine)
			default:
				fmt.Fprintf(e.stdout, "entry %d: released: %s%s\n", id, a.Kind, ticketSuffix(e, d))
			}
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d entries could not be retried", failed, len(ids))
		}
		return nil
	})
}

func ticketSuffix(e *env, d ticket.Delivered) string {
	if d.Number == 0 {
		return ""
	}
	return " on " + ticket.Tag(e.cfg.TagPrefix, d.Number)
}

func notFoundEntry(err error, id int64) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("quarantine entry %d does not exist or is not waiting", id)
	}
	return err
}

func mailboxStatus(e *env, fs *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("takes no arguments")
	}
	return withStore(e, func(s *store.Store) error {
		sts, err := s.MailboxStatuses(e.ctx)
		if err != nil {
			return err
		}
		if flagBool(fs, "json") {
			out := []map[string]any{}
			for _, m := range sts {
				out = append(out, map[string]any{"name": m.Name, "uid_validity": m.UIDValidity, "last_uid": m.LastUID, "state": m.State,
					"last_error": m.LastError, "last_error_at": jsonTime(m.LastErrorAt), "last_success_at": jsonTime(m.LastSuccessAt),
					"processed": m.Processed, "updated": jsonTime(m.Updated)})
			}
			return writeJSON(e.stdout, out)
		}
		if len(sts) == 0 {
			fmt.Fprintln(e.stdout, "no mailbox has been read yet")
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MAILBOX\tSTATE\tLAST UID\tSTORED\tLAST SUCCESS\tLAST ERROR")
		for _, m := range sts {
			last := "-"
			if m.LastError != "" {
				last = stamp(m.LastErrorAt) + " " + oneLine(m.LastError, 80)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", m.Name, orDash(m.State), m.LastUID, m.Processed, stamp(m.LastSuccessAt), last)
		}
		return tw.Flush()
	})
}
