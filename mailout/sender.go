// Package mailout sends guichet's notifications: it plans them (the who-gets-what table, run by
// the store inside the transaction of each change), renders them from the templates, builds the
// MIME message and delivers the outbox rows through a relay, with retries, a rate limit that
// delays and merges, and the bounced-address block.
package mailout

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"math/rand/v2"
	"net/mail"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gomail "github.com/emersion/go-message/mail"

	"guichet/mailin/parse"
	"guichet/mailout/relay"
	"guichet/signed"
	"guichet/store"
	"guichet/templates"
	"guichet/ticket"
)

// Link lifetimes.
const (
	ViewLinkTTL   = 180 * 24 * time.Hour // the ticket's page, in every mail (as long as outbox rows are kept by default)
	ActionLinkTTL = 30 * 24 * time.Hour  // approve and refuse; they also stop once the solution is answered
)

// Brand is how mail is signed for one support address (a route) or by default.
type Brand struct {
	Name      string         // the From display name
	From      string         // the From address (the noreply address by default)
	Templates *templates.Set // nil: the default set
}

// Config is what the sender needs.
type Config struct {
	Store      *store.Store
	Transport  relay.Transport
	Signer     *signed.Signer
	Templates  *templates.Set
	Brand      Brand            // the default brand
	Brands     map[string]Brand // by support address (lower case)
	Support    string           // the default support address, base of reply addresses
	BaseURL    string           // of the web pages' links
	Types      ticket.Types
	TagPrefix  string        // "#" by default
	RetryFor   time.Duration // default 2 days
	RateLimit  int           // notifications per recipient and per ticket within RateWindow; default 10, <0 none
	RateWindow time.Duration // default 10 minutes
	MaxAttach  int64         // attachments above this total size are listed, not attached; default 10 MB
	Workers    int           // recipients served at once; default 8
	Poll       time.Duration // how often to look for rows written by other processes; default 1s
	Now        func() time.Time
	Logger     *slog.Logger
	Name       string // this sender's name in claims; default host:pid
}

// Sender delivers the outbox.
type Sender struct {
	c         Config
	lastClaim atomic.Int64 // when RunOnce last claimed rows from the database (Unix nanoseconds)
}

// NewSender checks the configuration and returns a sender.
func NewSender(c Config) (*Sender, error) {
	if c.Store == nil || c.Transport == nil || c.Signer == nil || c.Templates == nil {
		return nil, errors.New("mailout: the sender needs a store, a transport, a signer and templates")
	}
	if c.RetryFor <= 0 {
		c.RetryFor = 48 * time.Hour
	}
	if c.RateLimit == 0 {
		c.RateLimit = 10
	}
	if c.RateWindow <= 0 {
		c.RateWindow = 10 * time.Minute
	}
	if c.MaxAttach <= 0 {
		c.MaxAttach = 10 << 20
	}
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Name == "" {
		host, _ := os.Hostname()
		c.Name = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if c.Brand.From == "" {
		c.Brand.From = "noreply@localhost"
	}
	if c.Brand.Templates == nil {
		c.Brand.Templates = c.Templates
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	return &Sender{c: c}, nil
}

// lease is how long a claimed row stays with this sender: longer than any send takes.
const lease = 5 * time.Minute

// claimSize is the most rows one claim takes; gather is how long the sender waits, once told of
// new rows, for more to join them. A notification waits at most that long more.
const (
	claimSize = 64
	gather    = 50 * time.Millisecond
)

// Run delivers due rows until ctx ends: at once when this process writes rows, else every Poll.
// While it runs, the store hands it the acknowledgements of new tickets in memory (HandOff);
// when it stops, it gives back the ones it did not send.
func (s *Sender) Run(ctx context.Context) error {
	tick := time.NewTicker(s.c.Poll)
	defer tick.Stop()
	s.c.Store.HandOff(s.c.Name, lease)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.c.Store.StopHandOff(ctx, s.c.Name); err != nil {
			s.c.Logger.Warn("outbox: notifications handed to the sender stay claimed until their lease ends", "error", err)
		}
	}()
	for {
		for {
			n, err := s.RunOnce(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				s.c.Logger.Warn("outbox: cannot claim notifications", "error", err)
				break
			}
			if n < claimSize {
				break // the backlog is drained: gather what comes next instead of claiming it one by one
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-s.c.Store.Outboxed():
			// Let the rows of the commits landing now join this batch: under load one claim
			// takes dozens instead of one each, and a claim with its bookkeeping is ten statements.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(gather):
			}
		}
	}
}

// RunOnce claims one batch of due rows and delivers them; it returns how many it claimed.
// What became of the batch is recorded in one transaction at the end (a crash before it may
// send those rows again, with the same Message-IDs: delivery is at least once).
func (s *Sender) RunOnce(ctx context.Context) (int, error) {
	now := s.c.Now()
	rows, handed, err := s.take(ctx, now)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	b, err := s.newBatch(ctx, rows, handed, now)
	if err != nil {
		return 0, err
	}
	// One recipient's mail goes in order; recipients in parallel.
	byRcpt := map[string][]store.OutboxRow{}
	var order []string
	for _, r := range rows {
		if _, ok := byRcpt[r.Recipient]; !ok {
			order = append(order, r.Recipient)
		}
		byRcpt[r.Recipient] = append(byRcpt[r.Recipient], r)
	}
	// A transport that sends batches gets the whole claim at once, rendered first; the others
	// get one Send a notification, in the workers.
	bt, batched := s.c.Transport.(relay.BatchTransport)
	sem := make(chan struct{}, s.c.Workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var done []store.OutboxDone
	ready := make([][]*outgoing, len(order)) // batched: each recipient's, in order
	for i, rcpt := range order {
		sem <- struct{}{}
		wg.Add(1)
		go func(rs []store.OutboxRow) {
			defer func() { <-sem; wg.Done() }()
			merged := map[int64]bool{}
			for _, r := range rs {
				if merged[r.ID] {
					continue
				}
				var d []store.OutboxDone
				var ids []int64
				if batched {
					var o *outgoing
					if o, d = s.prepare(ctx, r, b); o != nil {
						ready[i] = append(ready[i], o)
						ids = o.mergedIDs()
					}
				} else {
					d, ids = s.deliver(ctx, r, b)
				}
				for _, id := range ids {
					merged[id] = true
				}
				mu.Lock()
				done = append(done, d...)
				mu.Unlock()
			}
		}(byRcpt[rcpt])
	}
	wg.Wait()
	if batched {
		var outs []*outgoing
		var es []relay.Envelope
		for _, rs := range ready {
			for _, o := range rs {
				outs = append(outs, o)
				es = append(es, relay.Envelope{From: o.from, To: []string{o.r.Recipient}, Msg: o.msg})
			}
		}
		if len(es) > 0 {
			for i, err := range bt.SendBatch(ctx, es) {
				done = append(done, s.outcome(outs[i], err)...)
			}
		}
	}
	if err := s.c.Store.FinishOutbox(ctx, s.c.Now(), done...); err != nil {
		s.c.Logger.Error("outbox: cannot record what was sent; those rows go again when their lease ends", "rows", len(done), "error", err)
		return len(rows), err
	}
	return len(rows), nil
}

// batch is what the rows of one claim share: which recipients bounced, and the rate limit's
// counts, kept up to date as the batch is sent.
type batch struct {
	mu       sync.Mutex
	bounced  map[string]bool
	rcpt     map[string]store.RateCount
	ticket   map[int64]store.RateCount
	changes  map[int64]map[time.Time]bool // the changes each ticket had notified in this batch
	disabled bool                         // no rate limit
	tickets  map[int64]ticket.Ticket      // the batch's tickets, by internal id
	messages map[int64][]ticket.Message   // and their messages
}

// take returns the rows to send now: the ones handed over in memory (by row id), and rows claimed from the database when none were handed, when this process wrote
// rows it did not hand over, or once a Poll since the last claim — so that under a flood of new
// tickets, rows of other processes and retries still go within a Poll. A handed row whose lease
// is half gone is left for a claim to take once it ends.
func (s *Sender) take(ctx context.Context, now time.Time) ([]store.OutboxRow, map[int64]store.Handed, error) {
	var rows []store.OutboxRow
	handed := map[int64]store.Handed{}
	for _, h := range s.c.Store.Handed(s.c.Name, claimSize) {
		if h.Until.Sub(now) > lease/2 {
			rows = append(rows, h.Row)
			handed[h.Row.ID] = h
		}
	}
	if len(rows) > 0 && !s.c.Store.Unclaimed() && now.Sub(time.Unix(0, s.lastClaim.Load())) < s.c.Poll {
		return rows, handed, nil
	}
	claimed, err := s.c.Store.ClaimOutbox(ctx, s.c.Name, now, lease, max(claimSize-len(rows), claimSize/4))
	if err != nil {
		if len(rows) > 0 {
			s.c.Logger.Warn("outbox: cannot claim notifications", "error", err)
			return rows, handed, nil
		}
		return nil, nil, err
	}
	s.lastClaim.Store(now.UnixNano())
	return append(rows, claimed...), handed, nil
}

func (s *Sender) newBatch(ctx context.Context, rows []store.OutboxRow, handed map[int64]store.Handed, now time.Time) (*batch, error) {
	var rcpts []string
	var tickets []int64
	seenR, seenT := map[string]bool{}, map[int64]bool{}
	for _, r := range rows {
		if !seenR[r.Recipient] {
			seenR[r.Recipient] = true
			rcpts = append(rcpts, r.Recipient)
		}
		if _, ok := handed[r.ID]; !seenT[r.TicketID] && !ok {
			seenT[r.TicketID] = true
			tickets = append(tickets, r.TicketID)
		}
	}
	b := &batch{changes: map[int64]map[time.Time]bool{}, disabled: s.c.RateLimit <= 0}
	var err error
	if b.tickets, b.messages, err = s.c.Store.TicketsWithMessages(ctx, tickets); err != nil {
		return nil, err
	}
	// A handed row's ticket as committed with it, unless a claimed row of the same ticket — a
	// later change — had it read: that reading is the fresher.
	for _, h := range handed {
		if _, ok := b.tickets[h.Row.TicketID]; !ok {
			b.tickets[h.Row.TicketID], b.messages[h.Row.TicketID] = h.Ticket, h.Messages
		}
	}
	if b.bounced, err = s.c.Store.BouncedAmong(ctx, rcpts); err != nil {
		return nil, err
	}
	if !b.disabled {
		if b.rcpt, b.ticket, err = s.c.Store.SentCounts(ctx, rcpts, tickets, now.Add(-s.c.RateWindow)); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// over reports whether r is over the rate limit, and until when.
func (b *batch) over(r store.OutboxRow, limit int, window time.Duration, now time.Time) (bool, time.Time) {
	if b.disabled || r.Staff {
		return false, time.Time{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	rc, tc := b.rcpt[r.Recipient], b.ticket[r.TicketID]
	if rc.N < limit && (tc.N < limit || b.changes[r.TicketID][r.Created]) {
		return false, time.Time{}
	}
	oldest := rc.Oldest
	if rc.N < limit || !tc.Oldest.IsZero() && tc.Oldest.After(oldest) && tc.N >= limit {
		oldest = tc.Oldest
	}
	until := oldest.Add(window).Add(time.Second)
	if !until.After(now) {
		until = now.Add(time.Second)
	}
	return true, until
}

// sent counts r against the rate limit before it is sent, so that the rows after it see it;
// undo takes it back if the send fails.
func (b *batch) sent(r store.OutboxRow, now time.Time) (undo func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.disabled {
		return func() {}
	}
	rc0 := b.rcpt[r.Recipient]
	rc := rc0
	if rc.N == 0 {
		rc.Oldest = now
	}
	rc.N++
	b.rcpt[r.Recipient] = rc
	if b.changes[r.TicketID] == nil {
		b.changes[r.TicketID] = map[time.Time]bool{}
	}
	newChange := !b.changes[r.TicketID][r.Created]
	tc0 := b.ticket[r.TicketID]
	if newChange {
		b.changes[r.TicketID][r.Created] = true
		tc := tc0
		if tc.N == 0 {
			tc.Oldest = now
		}
		tc.N++
		b.ticket[r.TicketID] = tc
	}
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if rc := b.rcpt[r.Recipient]; rc.N > 0 {
			rc.N--
			if rc.N == 0 {
				rc.Oldest = rc0.Oldest
			}
			b.rcpt[r.Recipient] = rc
		}
		if newChange {
			delete(b.changes[r.TicketID], r.Created)
			if tc := b.ticket[r.TicketID]; tc.N > 0 {
				tc.N--
				if tc.N == 0 {
					tc.Oldest = tc0.Oldest
				}
				b.ticket[r.TicketID] = tc
			}
		}
	}
}

// outgoing is a notification ready to go: its row, the held rows merged into it, and the
// message, counted against the rate limit until undo.
type outgoing struct {
	r      store.OutboxRow
	merged []store.OutboxRow
	from   string
	msg    []byte
	undo   func()
}

// mergedIDs are the ids of the rows merged into o's.
func (o *outgoing) mergedIDs() []int64 {
	ids := make([]int64, len(o.merged))
	for i, m := range o.merged {
		ids[i] = m.ID
	}
	return ids
}

// deliver sends one row (and the held rows merged into it) and returns what became of them,
// and the ids of the rows merged into it.
func (s *Sender) deliver(ctx context.Context, r store.OutboxRow, b *batch) ([]store.OutboxDone, []int64) {
	o, done := s.prepare(ctx, r, b)
	if o == nil {
		return done, nil
	}
	return s.outcome(o, s.c.Transport.Send(ctx, o.from, []string{r.Recipient}, o.msg)), o.mergedIDs()
}

// prepare renders r, with the held rows merged into it, unless it does not go now: then it
// returns what became of it (the address bounced, the rate limit holds it, it cannot render).
func (s *Sender) prepare(ctx context.Context, r store.OutboxRow, b *batch) (*outgoing, []store.OutboxDone) {
	now := s.c.Now()
	log := s.c.Logger.With("outbox", r.ID, "ticket", r.Number, "kind", r.Kind, "to", r.Recipient)
	if b.bounced[r.Recipient] {
		log.Info("outbox: not sent, the address bounced permanently")
		return nil, []store.OutboxDone{{ID: r.ID, Worker: s.c.Name, State: store.OutboxSuppressed, Error: "the address bounced permanently",
			Event: &ticket.Event{Time: now, Actor: ticket.System.ID(), Kind: ticket.EventNotifyFailed, To: r.Recipient,
				Reason: r.Kind + " notification not sent: mail to this address failed permanently before; an agent can clear it with `guichet bounced clear`"}}}
	}
	if over, until := b.over(r, s.c.RateLimit, s.c.RateWindow, now); over {
		log.Info("outbox: rate limit reached, notification delayed", "until", until)
		d := store.OutboxDone{ID: r.ID, Worker: s.c.Name, State: store.OutboxPending, Next: until, Held: true}
		if !r.Held {
			d.Event = &ticket.Event{Time: now, Actor: ticket.System.ID(), Kind: ticket.EventNotifyDelayed, To: r.Recipient,
				Reason: fmt.Sprintf("%s notification delayed until %s by the rate limit; it will go merged with the others", r.Kind, until.UTC().Format(time.RFC3339))}
		}
		return nil, []store.OutboxDone{d}
	}
	var merged []store.OutboxRow
	if r.Held {
		var err error
		if merged, err = s.c.Store.HeldOutbox(ctx, s.c.Name, r, now, lease); err != nil {
			return nil, []store.OutboxDone{s.retry(r, now, err)}
		}
	}
	msg, err := s.render(ctx, r, merged, b)
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return nil, []store.OutboxDone{s.retry(r, now, err)}
		}
		log.Error("outbox: cannot render the notification", "error", err)
		return nil, []store.OutboxDone{s.failed(r, now, "cannot render: "+err.Error(), nil, false)}
	}
	return &outgoing{r: r, merged: merged, from: s.c.Signer.ReturnAddress(s.c.Brand.From, r.ID), msg: msg, undo: b.sent(r, now)}, nil
}

// outcome is what the send's err makes of o's row and of the rows merged into it.
func (s *Sender) outcome(o *outgoing, err error) []store.OutboxDone {
	r, merged, now := o.r, o.merged, s.c.Now()
	log := s.c.Logger.With("outbox", r.ID, "ticket", r.Number, "kind", r.Kind, "to", r.Recipient)
	if err != nil {
		o.undo()
	}
	var done []store.OutboxDone
	switch {
	case err == nil:
		log.Debug("outbox: sent", "merged", len(merged))
		done = append(done, store.OutboxDone{ID: r.ID, Worker: s.c.Name, State: store.OutboxSent})
		for _, m := range merged {
			done = append(done, store.OutboxDone{ID: m.ID, Worker: s.c.Name, State: store.OutboxMerged, Into: r.ID})
		}
	case relay.IsPermanent(err):
		log.Warn("outbox: the relay refused the notification for good", "error", err)
		var re *relay.Error
		f := &store.Failure{Address: r.Recipient, Diagnostic: err.Error(), Kind: r.Kind}
		bounce := false
		if errors.As(err, &re) {
			f.Status = re.Enhanced
			bounce = strings.HasPrefix(re.Enhanced, "5.1.") || re.Enhanced == "" && (re.Code == 550 || re.Code == 551 || re.Code == 553)
		}
		done = append(done, s.failed(r, now, err.Error(), f, bounce))
		for _, m := range merged {
			done = append(done, store.OutboxDone{ID: m.ID, Worker: s.c.Name, State: store.OutboxFailed, Error: "merged into " + strconv.FormatInt(r.ID, 10) + ": " + err.Error()})
		}
	default:
		log.Info("outbox: delivery failed, will retry", "error", err, "attempts", r.Attempts+1)
		done = append(done, s.retry(r, now, err))
		for _, m := range merged { // they go back with the row they were merged into
			done = append(done, store.OutboxDone{ID: m.ID, Worker: s.c.Name, State: store.OutboxPending, Held: true, Next: done[0].Next})
		}
	}
	return done
}

// retry schedules another try with exponential backoff and jitter, or gives up after RetryFor.
func (s *Sender) retry(r store.OutboxRow, now time.Time, err error) store.OutboxDone {
	if now.Sub(r.RetryFrom) >= s.c.RetryFor {
		return s.failed(r, now, fmt.Sprintf("gave up after %d tries over %s: %v", r.Attempts+1, s.c.RetryFor, err),
			&store.Failure{Address: r.Recipient, Diagnostic: err.Error(), Kind: r.Kind}, false)
	}
	return store.OutboxDone{ID: r.ID, Worker: s.c.Name, State: store.OutboxPending, Next: now.Add(Backoff(r.Attempts)), Error: err.Error()}
}

// Backoff is the wait before try attempts+2: 30 s doubling up to an hour, ±25 % jitter.
func Backoff(attempts int) time.Duration {
	d := 30 * time.Second
	for i := 0; i < attempts && d < time.Hour; i++ {
		d *= 2
	}
	d = min(d, time.Hour)
	return d + time.Duration((rand.Float64()-0.5)*0.5*float64(d))
}

func (s *Sender) failed(r store.OutboxRow, now time.Time, why string, f *store.Failure, bounced bool) store.OutboxDone {
	return store.OutboxDone{ID: r.ID, Worker: s.c.Name, State: store.OutboxFailed, Error: why, Failure: f, Bounced: bounced,
		Event: &ticket.Event{Time: now, Actor: ticket.System.ID(), Kind: ticket.EventNotifyFailed, To: r.Recipient,
			Reason: r.Kind + " notification failed: " + why}}
}

// brand returns the brand of the ticket's support address.
func (s *Sender) brand(t ticket.Ticket) Brand {
	b, ok := s.c.Brands[strings.ToLower(t.SupportAddress)]
	if !ok {
		return s.c.Brand
	}
	if b.From == "" {
		b.From = s.c.Brand.From
	}
	if b.Name == "" {
		b.Name = s.c.Brand.Name
	}
	if b.Templates == nil {
		b.Templates = s.c.Templates
	}
	return b
}

// render builds the row's message (a digest when rows were merged into it).
func (s *Sender) render(ctx context.Context, r store.OutboxRow, merged []store.OutboxRow, bt *batch) ([]byte, error) {
	t, ok := bt.tickets[r.TicketID]
	msgs := bt.messages[r.TicketID]
	if !ok || len(merged) > 0 {
		// Not loaded with the batch, or a digest that may need messages written since: read afresh.
		var err error
		if t, err = s.c.Store.Ticket(ctx, r.Number); err != nil {
			return nil, err
		}
		if msgs, err = s.c.Store.Messages(ctx, t.ID); err != nil {
			return nil, err
		}
	}
	var err error
	b := s.brand(t)
	lang := string(r.Lang)
	if lang != "fr" {
		lang = "en"
	}
	m := templates.Mail{Kind: r.Kind, Lang: lang, Brand: b.Name, Role: string(r.Role),
		Recipient: templates.Person{Name: r.RecipientName, Address: r.Recipient},
		Ticket:    TicketView(t, ticket.Lang(lang), s.c.Types, s.c.TagPrefix), Marker: signed.Marker,
		Reason: r.Data[keyReason], Closing: r.Data[keyClosing], ToCode: r.Data[keyTo]}
	m.Days, _ = strconv.Atoi(r.Data[keyDays])
	m.Hours, _ = strconv.Atoi(r.Data[keyHours])
	if to := r.Data[keyTo]; to != "" {
		m.To = statusName(to, ticket.Lang(lang))
		m.From = statusName(r.Data[keyFrom], ticket.Lang(lang))
	}
	if r.Data[keyFailAddr] != "" {
		m.Failure = &templates.Failure{Address: r.Data[keyFailAddr], Status: r.Data[keyFailStatus],
			Diagnostic: r.Data[keyFailDiag], Kind: r.Data[keyFailKind]}
	}
	var carried *ticket.Message
	var files []File
	if r.Message != 0 {
		for i := range msgs {
			if msgs[i].ID == r.Message {
				carried = &msgs[i]
			}
		}
	}
	if carried != nil {
		m.Message = MessageView(*carried, ticket.Lang(lang), nil)
		if ticket.NormalizeAddress(carried.Author.Address) != r.Recipient {
			files, err = s.files(ctx, *carried)
			if err != nil {
				return nil, err
			}
		}
	}
	if r.Role != ticket.RoleAgent {
		m.Links.Ticket = s.link(signed.LinkView, t.Number, 0, r.ID, ViewLinkTTL)
	}
	if r.Kind == templates.Solved && r.Role == ticket.RoleRequester {
		if sol, _ := strconv.ParseInt(r.Data[keySolution], 10, 64); sol > 0 {
			m.Links.Approve = s.link(signed.LinkApprove, t.Number, sol, r.ID, ActionLinkTTL)
			m.Links.Refuse = s.link(signed.LinkRefuse, t.Number, sol, r.ID, ActionLinkTTL)
		}
	}
	if len(merged) > 0 {
		m.Kind = templates.Digest
		for _, x := range append([]store.OutboxRow{r}, merged...) {
			m.Updates = append(m.Updates, templates.Update{Kind: x.Kind, Time: formatTime(x.Created, ticket.Lang(lang)),
				Summary: s.summary(x, msgs, ticket.Lang(lang))})
		}
		m.Message, files = nil, nil
	}
	out, err := b.Templates.Mail(m)
	if err != nil {
		return nil, err
	}
	// Threading: a root id per ticket that every notification refers to, the message that
	// started the ticket, and the message this one answers.
	domain := DomainOf(b.From)
	root := s.c.Signer.MessageID(t.Number, "root", domain)
	var first, answered string
	if len(msgs) > 0 {
		first = msgs[0].MessageID
	}
	if carried != nil {
		answered = carried.MessageID
	}
	refs := references(root, first, answered)
	inReplyTo := refs[len(refs)-1]
	name := b.Name
	if r.Role == ticket.RoleAgent && carried != nil && !carried.Author.Staff() {
		// Agents see who wrote: "Alice Martin via Support".
		if who := carried.Author.Name; who != "" {
			name = who + " via " + b.Name
		}
	}
	if err := checkAddress(r.Recipient); err != nil {
		return nil, err
	}
	return Build(Message{
		From:        gomail.Address{Name: name, Address: b.From},
		To:          gomail.Address{Name: r.RecipientName, Address: r.Recipient},
		ReplyTo:     s.c.Signer.ReplyAddress(s.supportOf(t), t.Number),
		Subject:     out.Subject,
		Date:        s.c.Now(),
		MessageID:   r.MessageID,
		InReplyTo:   inReplyTo,
		References:  refs,
		ThreadTopic: t.Subject,
		ThreadIndex: ThreadIndex(root, t.Created, s.c.Now()),
		Loop:        s.c.Signer.LoopValue(),
		Lang:        lang,
		Text:        out.Text,
		HTML:        out.HTML,
		Files:       files,
	})
}

func checkAddress(a string) error {
	if _, err := mail.ParseAddress(a); err != nil {
		return fmt.Errorf("recipient %q: %w", a, err)
	}
	return nil
}

func (s *Sender) supportOf(t ticket.Ticket) string {
	if t.SupportAddress != "" {
		return t.SupportAddress
	}
	return s.c.Support
}

// DomainOf is the domain of an address, lower-cased; "localhost" when it has none.
func DomainOf(addr string) string {
	if _, d, ok := strings.Cut(addr, "@"); ok && d != "" {
		return strings.ToLower(d)
	}
	return "localhost"
}

// link makes a signed web link.
func (s *Sender) link(action string, number, solution, outbox int64, ttl time.Duration) string {
	tok := s.c.Signer.LinkToken(signed.Link{Action: action, Number: number, Solution: solution, Outbox: outbox,
		Expires: s.c.Now().Add(ttl)})
	path := "/t/"
	switch action {
	case signed.LinkApprove:
		path = "/approve/"
	case signed.LinkRefuse:
		path = "/refuse/"
	}
	return s.c.BaseURL + path + tok
}

// files loads a message's attachments, or none when together they are too large to attach.
func (s *Sender) files(ctx context.Context, m ticket.Message) ([]File, error) {
	var total int64
	for _, a := range m.Attachments {
		total += a.Size
	}
	if total > s.c.MaxAttach {
		return nil, nil
	}
	var out []File
	for _, a := range m.Attachments {
		data, err := s.c.Store.Blob(ctx, a.SHA256)
		if err != nil {
			return nil, err
		}
		out = append(out, File{Name: a.Filename, ContentType: a.ContentType, Data: data})
	}
	return out, nil
}

// TicketView is what mails and pages show of a ticket, in a language.
func TicketView(t ticket.Ticket, lang ticket.Lang, types ticket.Types, tagPrefix string) templates.Ticket {
	if tagPrefix == "" {
		tagPrefix = "#"
	}
	return templates.Ticket{Number: t.Number, Tag: ticket.Tag(tagPrefix, t.Number), Subject: t.Subject, Status: string(t.Status),
		StatusName: t.Status.Name(lang), Priority: t.Priority.Name(lang), Type: types.Name(t.Type, lang),
		Requester: templates.Person{Name: t.Requester.Name, Address: t.Requester.Address}, Assignee: t.Assignee,
		Created: formatTime(t.Created, lang)}
}

// MessageView is what mails and pages show of a message; fileURL(i), when given, links its attachments.
func MessageView(m ticket.Message, lang ticket.Lang, fileURL func(int) string) *templates.Message {
	v := &templates.Message{Author: templates.Person{Name: m.Author.Name, Address: m.Author.Address},
		Staff: m.Author.Staff(), Time: formatTime(m.Time, lang), Text: m.Text}
	if m.Author.Role == ticket.RoleSystem {
		v.Author.Name = "guichet"
	}
	if m.HTML != "" {
		v.HTML = template.HTML(parse.Sanitize(m.HTML)) // sanitized on the way in, and again on the way out
	}
	for i, a := range m.Attachments {
		av := templates.Attachment{Name: a.Filename, Size: sizeOf(a.Size)}
		if fileURL != nil {
			av.URL = fileURL(i)
		}
		v.Attachments = append(v.Attachments, av)
	}
	return v
}

func statusName(code string, lang ticket.Lang) string {
	if code == "reopened" {
		if lang == ticket.French {
			return "rouvert"
		}
		return "reopened"
	}
	return ticket.Status(code).Name(lang)
}

func formatTime(t time.Time, lang ticket.Lang) string {
	if t.IsZero() {
		return ""
	}
	if lang == ticket.French {
		return t.UTC().Format("02/01/2006 15:04 UTC")
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

// summary is one line about a merged notification.
func (s *Sender) summary(r store.OutboxRow, msgs []ticket.Message, lang ticket.Lang) string {
	var parts []string
	if to := r.Data[keyTo]; to != "" {
		parts = append(parts, statusName(to, lang))
	}
	if reason := r.Data[keyReason]; reason != "" {
		parts = append(parts, firstLine(reason))
	}
	for _, m := range msgs {
		if m.ID == r.Message && r.Message != 0 {
			parts = append(parts, firstLine(m.Text))
		}
	}
	return strings.Join(parts, " — ")
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i]) + " …"
	}
	if len([]rune(s)) > 120 {
		s = string([]rune(s)[:120]) + "…"
	}
	return s
}
