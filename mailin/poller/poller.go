// Package poller reads mailboxes over IMAP and hands every message to a Deliverer, which stores
// it as a ticket, a follow-up or a quarantine entry. The guarantee: a message a mailbox handed
// to guichet is stored exactly once, or is still where it was.
//
// The protocols: IMAP4rev2 and IMAP4rev1 (RFC 9051, RFC 3501), IDLE (RFC 2177), MOVE (RFC 6851)
// and UID EXPUNGE from UIDPLUS (RFC 4315), through github.com/emersion/go-imap/v2.
//
// Each configured mailbox gets a goroutine (and its Sent folder, when configured, another one,
// with its own connection). It takes the mailbox's Locker, connects, logs in, selects the folder
// and drains it: it lists the UIDs to read, fetches their bodies with BODY.PEEK[] in batches
// (one FETCH per batch, so nothing is marked read before it is stored), delivers them in UID
// order, saves the last UID it stored, and only then moves the stored messages to MoveTo (or
// flags them \Seen). Then it waits in IDLE, or for the next tick of its schedule.
//
// Why exactly once: a message leaves its folder only after Deliver said it is stored, and the
// state never names a UID whose message is not stored. A crash in between (stored, not yet
// moved) means the message is fetched and delivered again on the next run, and the Deliverer
// answers that it is a duplicate of what it stored (nil) — so it is stored once, and moved
// then. With After=move every message still in the folder is read on every drain, whatever the
// saved UID says: a message there has not been moved, so it may not have been stored either.
//
// The Deliverer, State and Locker are declared here, by their consumer, and are called from
// several goroutines at once (one per mailbox folder).
package poller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
)

// Options tunes a Poller; nil or zero fields take their defaults.
type Options struct {
	Logger *slog.Logger     // default: discard
	Now    func() time.Time // default time.Now; for the times in Status

	// Reconnection after an error waits between MinBackoff and MaxBackoff, doubling on each
	// failure in a row, with jitter (defaults 1s and 5m).
	MinBackoff, MaxBackoff time.Duration

	DialTimeout    time.Duration // TCP connect, TLS handshake, greeting and login (default 30s)
	CommandTimeout time.Duration // any one IMAP command, a whole batch FETCH included (default 5m)
	IdleRestart    time.Duration // IDLE is re-issued this often, before servers drop it (default 25m)

	LockRetry  time.Duration // how often to try again for a mailbox another process holds (default 15s)
	BatchBytes int64         // a batch also stops at this many bytes of messages (default 32 MiB)
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&r.MinBackoff, time.Second)
	def(&r.MaxBackoff, 5*time.Minute)
	if r.MaxBackoff < r.MinBackoff {
		r.MaxBackoff = r.MinBackoff
	}
	def(&r.DialTimeout, 30*time.Second)
	def(&r.CommandTimeout, 5*time.Minute)
	def(&r.IdleRestart, 25*time.Minute)
	def(&r.LockRetry, 15*time.Second)
	if r.BatchBytes <= 0 {
		r.BatchBytes = 32 << 20
	}
	return r
}

// Poller reads a set of mailboxes. Create it with New, start it with Run.
type Poller struct {
	o       Options
	log     *slog.Logger
	d       Deliverer
	st      State
	lk      Locker
	workers []*worker
	running atomic.Bool
	noIdle  bool // tests: poll on the schedule even when the server has IDLE

	mu     sync.Mutex
	status map[string]Status
}

// New checks the mailboxes (URL, authentication, unique names, schedule) and returns a Poller
// for them. The Deliverer and the State are required; a nil Locker means no locking between
// processes (one guichet process only).
func New(boxes []Mailbox, d Deliverer, st State, lk Locker, o *Options) (*Poller, error) {
	if d == nil || st == nil {
		return nil, errors.New("poller: a Deliverer and a State are required")
	}
	p := &Poller{o: o.withDefaults(), d: d, st: st, lk: lk, status: map[string]Status{}}
	p.log = p.o.Logger
	keys := map[string]bool{}
	for i := range boxes {
		b, ep, err := boxes[i].resolve()
		if err != nil {
			return nil, fmt.Errorf("poller: %w", err)
		}
		ws := []*worker{newWorker(p, b, ep, false)}
		if b.SentFolder != "" {
			ws = append(ws, newWorker(p, b, ep, true))
		}
		for _, w := range ws {
			if keys[w.key] {
				return nil, fmt.Errorf("poller: mailbox %q: the name %q is used twice", b.Name, w.key)
			}
			keys[w.key] = true
			p.workers = append(p.workers, w)
			p.status[w.key] = Status{State: "stopped"}
		}
	}
	return p, nil
}

// Run reads every mailbox until ctx is done, then closes the connections and returns nil. A
// mailbox that fails (wrong password, server down) is retried with backoff and never stops the
// others. Run may be called again after it returned, not twice at once.
func (p *Poller) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("poller: already running")
	}
	defer p.running.Store(false)

	sched := cron.New(cron.WithLogger(cron.DiscardLogger))
	for _, w := range p.workers {
		if _, err := sched.AddFunc(w.box.Schedule, w.wake); err != nil {
			return fmt.Errorf("poller: mailbox %q: schedule: %w", w.box.Name, err) // checked by New
		}
	}
	sched.Start()

	var wg sync.WaitGroup
	for _, w := range p.workers {
		wg.Go(func() { w.run(ctx) })
	}
	wg.Wait()
	<-sched.Stop().Done()
	return nil
}

// Status returns the current status of each mailbox, keyed by Mailbox.Name, and by Name+"/sent"
// for its Sent folder. It is kept in memory; every change is also written through
// State.SetStatus.
func (p *Poller) Status() map[string]Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[string]Status, len(p.status))
	for k, v := range p.status {
		m[k] = v
	}
	return m
}
