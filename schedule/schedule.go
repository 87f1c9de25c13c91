// Package schedule runs guichet's timed rules inside `guichet serve`: automatic closing of
// solved (and, when configured, pending) tickets, reminders, escalation of unassigned tickets,
// and housekeeping.
//
// The timers are state in the database (store.RunTimers), not in memory: the scheduler only
// decides when to look. It wakes for the next due timer — at most Poll late, and at once when
// this process sets an earlier one — so a rule fires within a second or two of its due time, and
// after a restart or days of downtime the next pass catches up. Housekeeping runs on a cron
// schedule (robfig/cron).
package schedule

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"guichet/store"
	"guichet/ticket"
)

// Config is what the scheduler needs.
type Config struct {
	Store     *store.Store
	Policy    ticket.Policy
	Retention store.Retention
	// Housekeeping is a cron spec ("@daily", "0 3 * * *", "@every 6h"); "" or "off" for none.
	Housekeeping string
	Poll         time.Duration // how often to look for timers set by other processes; default 1s
	Batch        int           // timers per transaction; default 200
	Workers      int           // transactions at once; default 4 on PostgreSQL (they skip each other's rows), 1 on SQLite
	Now          func() time.Time
	Logger       *slog.Logger
}

// Scheduler fires due timers.
type Scheduler struct {
	c    Config
	cron cron.Schedule
}

// New checks the configuration.
func New(c Config) (*Scheduler, error) {
	if c.Store == nil {
		return nil, errors.New("schedule: no store")
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Batch <= 0 {
		c.Batch = 200
	}
	if c.Workers <= 0 {
		c.Workers = 1
		if c.Store.Dialect() == store.Postgres {
			c.Workers = 4
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{c: c}
	if c.Housekeeping != "" && c.Housekeeping != "off" {
		sched, err := cron.ParseStandard(c.Housekeeping)
		if err != nil {
			return nil, errors.New("schedule: housekeeping schedule " + c.Housekeeping + ": " + err.Error())
		}
		s.cron = sched
	}
	return s, nil
}

// RunOnce fires every timer due now, batch after batch, in Workers transactions at once, and
// returns them.
func (s *Scheduler) RunOnce(ctx context.Context) ([]store.Fired, error) {
	var (
		mu    sync.Mutex
		all   []store.Fired
		first error
		wg    sync.WaitGroup
	)
	for range s.c.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				fired, err := s.c.Store.RunTimers(ctx, s.c.Now(), s.c.Policy, s.c.Batch)
				for _, f := range fired {
					s.c.Logger.Info("timer fired", "ticket", f.Number, "kind", string(f.Kind), "due", f.Due,
						"late", s.c.Now().Sub(f.Due).Round(time.Millisecond), "did", f.What)
				}
				mu.Lock()
				all = append(all, fired...)
				if err != nil && first == nil {
					first = err
				}
				mu.Unlock()
				if err != nil || len(fired) < s.c.Batch {
					return
				}
			}
		}()
	}
	wg.Wait()
	return all, first
}

// Run fires timers as they fall due, and housekeeps on its schedule, until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	var nextSweep time.Time
	if s.cron != nil {
		nextSweep = s.cron.Next(s.c.Now())
	}
	var due time.Time
	var ok bool
	look := true
	for {
		// Look first: most wake-ups (a new ticket's escalation set for hours from now) have
		// nothing due, and a pass is a transaction per worker.
		if look {
			var err error
			due, ok, err = s.c.Store.NextTimer(ctx)
			if err != nil && ctx.Err() == nil {
				s.c.Logger.Warn("timers: cannot read the next due time", "error", err)
			}
		}
		look = true
		if ok && !due.After(s.c.Now()) {
			if _, err := s.RunOnce(ctx); err != nil && ctx.Err() == nil {
				s.c.Logger.Warn("timers: pass failed; retrying", "error", err)
			}
			var err error
			if due, ok, err = s.c.Store.NextTimer(ctx); err != nil {
				ok = false
			}
		}
		if s.cron != nil && !s.c.Now().Before(nextSweep) {
			s.Housekeep(ctx)
			nextSweep = s.cron.Next(s.c.Now())
		}
		wait := s.c.Poll
		if ok {
			if d := due.Sub(s.c.Now()); d < wait {
				wait = max(d, 10*time.Millisecond)
			}
		}
		if s.cron != nil {
			wait = min(wait, max(nextSweep.Sub(s.c.Now()), 10*time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-s.c.Store.TimersChanged():
			t.Stop()
			// This process set timers, the soonest due at first: wait for it or for the one
			// awaited, whichever comes first, without asking the database — its answer could
			// predate the commit that the signal comes from (sent before it), and under load
			// it would be a query per group commit. A timer whose transaction rolled back
			// makes a pass that finds nothing; other processes' timers are found by the poll.
			if first, set := s.c.Store.TimersSet(); set {
				if !ok || first.Before(due) {
					due, ok = first, true
				}
				look = false
			}
		}
	}
}

// Housekeep runs one housekeeping pass and logs what it removed.
func (s *Scheduler) Housekeep(ctx context.Context) (store.Swept, error) {
	sw, err := s.c.Store.Housekeep(ctx, s.c.Now(), s.c.Retention)
	if err != nil {
		s.c.Logger.Warn("housekeeping failed", "error", err)
		return sw, err
	}
	s.c.Logger.Info("housekeeping", "raw", sw.Raw, "outbox", sw.Outbox, "quarantine", sw.Quarantine, "blobs", sw.Blobs)
	return sw, nil
}
