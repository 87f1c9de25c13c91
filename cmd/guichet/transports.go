package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"guichet/mailin"
	"guichet/mailin/poller"
	"guichet/mailin/smtpd"
	"guichet/mailout"
	"guichet/store"
)

// transports are the mail listeners of `guichet serve`, all feeding one pipeline through one
// group commit.
type transports struct {
	batcher *mailin.Batcher
	smtp    *smtpd.Server
	poller  *poller.Poller
	pollCtx context.CancelFunc
	done    chan struct{}
}

// startTransports starts the SMTP/LMTP receiver and the IMAP poller as configured.
func startTransports(e *env, s *store.Store) (*transports, error) {
	sg, err := e.notifying(s)
	if err != nil {
		return nil, err
	}
	cfg := pipelineConfig(e.cfg)
	t := &transports{batcher: mailin.NewBatcher(s, cfg.Policy, 256), done: make(chan struct{})}
	p := mailin.New(cfg, sg, &mailin.Options{Store: mailin.Batched(s, t.batcher), Logger: e.log})

	if e.cfg.SMTPAddr != "off" || e.cfg.LMTPAddr != "" {
		o := &smtpd.Options{Addr: e.cfg.SMTPAddr, LMTPAddr: e.cfg.LMTPAddr, MaxMessageSize: int64(e.cfg.MaxMessageSize),
			AcceptRecipient: p.AcceptsRecipient, Logger: e.log, Domain: mailout.DomainOf(e.cfg.NoreplyAddress)}
		if e.cfg.SMTPAddr == "off" {
			o.Addr = "-"
		}
		if e.cfg.TLSCert != "" {
			cert, err := tls.LoadX509KeyPair(e.cfg.TLSCert, e.cfg.TLSKey)
			if err != nil {
				t.batcher.Close()
				return nil, fmt.Errorf("serve: TLS certificate: %w", err)
			}
			o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
		for _, n := range e.cfg.SMTPAllow {
			pfx, _ := netip.ParsePrefix(n) // validated with the configuration
			o.AllowNets = append(o.AllowNets, pfx)
		}
		o.TrustedNets = []netip.Prefix{}
		for _, n := range e.cfg.SMTPTrusted {
			pfx, _ := netip.ParsePrefix(n)
			o.TrustedNets = append(o.TrustedNets, pfx)
		}
		o.MaxMsgsPerIPPerMinute = e.cfg.SMTPRatePerIP
		if o.MaxMsgsPerIPPerMinute == 0 {
			o.MaxMsgsPerIPPerMinute = -1 // no limit
		}
		t.smtp, err = smtpd.New(smtpDeliverer{p}, o)
		if err != nil {
			t.batcher.Close()
			return nil, err
		}
		if err := t.smtp.Listen(); err != nil { // bound before serve reports itself ready
			t.batcher.Close()
			return nil, fmt.Errorf("serve: %w", err)
		}
		go func() {
			if err := t.smtp.ListenAndServe(); err != nil {
				e.log.Error("smtp stopped", "error", err)
			}
		}()
	}

	var boxes []poller.Mailbox
	agents := map[string]string{}
	for _, m := range e.cfg.Mailboxes {
		boxes = append(boxes, poller.Mailbox{Name: m.Name, URL: m.URL, Insecure: m.Insecure, After: m.After, MoveTo: m.MoveTo,
			FailedTo: m.FailedTo, SentFolder: m.SentFolder, Schedule: m.Schedule})
		agents[m.Name] = m.Agent
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(e.ctx))
	t.pollCtx = cancel
	if len(boxes) == 0 {
		close(t.done)
		return t, nil
	}
	t.poller, err = poller.New(boxes, imapDeliverer{p: p, agents: agents}, mailboxState{s}, mailboxLocker{s}, &poller.Options{Logger: e.log})
	if err != nil {
		t.stop(context.Background(), e)
		return nil, err
	}
	go func() {
		defer close(t.done)
		if err := t.poller.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			e.log.Error("imap poller stopped", "error", err)
		}
	}()
	return t, nil
}

// stop takes no more mail (SMTP first, then the poller), lets what is in flight commit, and
// closes the group commit.
func (t *transports) stop(ctx context.Context, e *env) {
	if t.smtp != nil {
		if err := t.smtp.Shutdown(ctx); err != nil {
			e.log.Warn("smtp shutdown", "error", err)
		}
	}
	if t.pollCtx != nil {
		t.pollCtx()
	}
	select {
	case <-t.done:
	case <-ctx.Done():
	}
	t.batcher.Close()
	if st := t.batcher.Stats(); st.Batches > 0 {
		e.log.Info("group commit", "batches", st.Batches, "messages", st.Messages,
			"per_batch", fmt.Sprintf("%.2f", float64(st.Messages)/float64(st.Batches)),
			"commit_ms", fmt.Sprintf("%.2f", st.Busy.Seconds()*1000/float64(st.Batches)), "busy", st.Busy.Round(time.Millisecond), "up", st.Up.Round(time.Second))
	}
}

// smtpDeliverer feeds SMTP and LMTP deliveries to the pipeline: nil only once stored.
type smtpDeliverer struct{ p *mailin.Pipeline }

func (d smtpDeliverer) Deliver(ctx context.Context, raw []byte, env smtpd.Envelope) error {
	_, _, err := d.p.Ingest(ctx, raw, &mailin.Envelope{From: env.From, To: env.To, Source: env.Proto})
	return err
}

// imapDeliverer feeds the poller's messages to the pipeline.
type imapDeliverer struct {
	p      *mailin.Pipeline
	agents map[string]string
}

func (d imapDeliverer) Deliver(ctx context.Context, raw []byte, m poller.Meta) (bool, error) {
	_, res, err := d.p.Ingest(ctx, raw, &mailin.Envelope{Source: "imap:" + m.Mailbox, Sent: m.Sent, Agent: d.agents[m.Mailbox]})
	return res.Quarantine != 0, err
}

// mailboxState keeps the poller's state in the store.
type mailboxState struct{ s *store.Store }

func (m mailboxState) Load(ctx context.Context, key string) (uint32, uint32, error) {
	return m.s.MailboxState(ctx, key)
}

func (m mailboxState) Save(ctx context.Context, key string, uidValidity, lastUID uint32) error {
	return m.s.SaveMailboxState(ctx, key, uidValidity, lastUID, time.Now())
}

func (m mailboxState) SetStatus(ctx context.Context, key string, st poller.Status) error {
	return m.s.SetMailboxStatus(ctx, store.MailboxStatus{Name: key, State: st.State, LastError: st.LastError,
		LastErrorAt: st.LastErrorAt, LastSuccessAt: st.LastSuccessAt, Processed: st.Processed, Updated: time.Now()})
}

// mailboxLocker gives one guichet instance a mailbox at a time.
type mailboxLocker struct{ s *store.Store }

func (m mailboxLocker) Acquire(ctx context.Context, key string) (poller.Lock, bool, error) {
	l, ok, err := m.s.AcquireMailbox(ctx, key)
	return poller.Lock{Lost: l.Lost, Release: l.Release}, ok, err
}
