package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"guichet/ticket"
)

// SetTimerPolicy installs the timed rules' delays: from then on, every ticket this store
// writes gets the timers its state calls for (ticket.Timers). Without one, no timers are kept.
func (s *Store) SetTimerPolicy(p ticket.TimerPolicy) {
	s.mu.Lock()
	s.timerPolicy = &p
	s.mu.Unlock()
}

func (s *Store) timersOf(t ticket.Ticket) ([]ticket.Timer, bool) {
	s.mu.Lock()
	p := s.timerPolicy
	s.mu.Unlock()
	if p == nil {
		return nil, false
	}
	return ticket.Timers(t, *p), true
}

// TimersChanged receives a value after this process sets a timer, so that a scheduler waiting
// for a later one wakes up.
func (s *Store) TimersChanged() <-chan struct{} { return s.timersChanged }

// setTimers replaces t's timers with those its state calls for; tx holds t.
func (s *Store) setTimers(ctx context.Context, tx *sqlx.Tx, t ticket.Ticket) error {
	want, ok := s.timersOf(t)
	if !ok {
		return nil
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM timers WHERE ticket_id = ?`), t.ID); err != nil {
		return fmt.Errorf("timers: %w", err)
	}
	return s.insertTimers(ctx, tx, map[int64][]ticket.Timer{t.ID: want})
}

func (s *Store) insertTimers(ctx context.Context, tx *sqlx.Tx, byTicket map[int64][]ticket.Timer) error {
	in, first := s.timersInsert(byTicket)
	if len(in.args) == 0 {
		return nil
	}
	st := in.values()
	if _, err := tx.ExecContext(ctx, tx.Rebind(st.query), st.args...); err != nil {
		return fmt.Errorf("timers: %w", err)
	}
	s.timersSet(first)
	return nil
}

// timersInsert is the insert of these timers (without rows when there are none), and the
// soonest of them.
func (s *Store) timersInsert(byTicket map[int64][]ticket.Timer) (insert, time.Time) {
	var args []any
	var first time.Time
	n := 0
	for id, ts := range byTicket {
		for _, tm := range ts {
			args = append(args, id, string(tm.Kind), s.tv(tm.Due))
			if n == 0 || tm.Due.Before(first) {
				first = tm.Due
			}
			n++
		}
	}
	return insert{timersTable, args}, first
}

// timersSet tells the timer loop that a timer due at first (or later ones) was set.
func (s *Store) timersSet(first time.Time) {
	s.mu.Lock()
	if s.timerHint.IsZero() || first.Before(s.timerHint) {
		s.timerHint = first
	}
	s.mu.Unlock()
	select {
	case s.timersChanged <- struct{}{}:
	default:
	}
}

// TimersSet returns the soonest due time among the timers this process set since the last call
// (ok false when it set none): a scheduler woken by TimersChanged waits for it instead of asking
// the database, whose answer could predate the commit. A transaction that set timers and then
// rolled back counts too: waking early is harmless.
func (s *Store) TimersSet() (first time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first, s.timerHint = s.timerHint, time.Time{}
	return first, !first.IsZero()
}

// timersMoved reports whether a change touched what the timers depend on.
func timersMoved(before, after ticket.Ticket) bool {
	return before.Status != after.Status || !before.StatusSince.Equal(after.StatusSince) ||
		before.Assignee != after.Assignee || before.SupportAddress != after.SupportAddress
}

// Timers returns a ticket's pending timers, soonest first.
func (s *Store) Timers(ctx context.Context, ticketID int64) ([]ticket.Timer, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var rows []struct {
		Kind string `db:"kind"`
		Due  dbTime `db:"due"`
	}
	if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT kind, due FROM timers WHERE ticket_id = ? ORDER BY due, kind`), ticketID); err != nil {
		return nil, fmt.Errorf("store: timers: %w", s.classify(err))
	}
	out := make([]ticket.Timer, len(rows))
	for i, r := range rows {
		out[i] = ticket.Timer{Kind: ticket.TimerKind(r.Kind), Due: r.Due.Time}
	}
	return out, nil
}

// NextTimer returns when the soonest timer is due; ok is false when there is none.
func (s *Store) NextTimer(ctx context.Context) (due time.Time, ok bool, err error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var d dbTime
	if err := s.db.GetContext(ctx, &d, `SELECT MIN(due) FROM timers`); err != nil {
		return time.Time{}, false, fmt.Errorf("store: next timer: %w", s.classify(err))
	}
	return d.Time, !d.IsZero(), nil
}

// DueTimersQuery is the scan of due timers (with FOR UPDATE SKIP LOCKED on PostgreSQL), for the
// benchmark's query plan.
const DueTimersQuery = `SELECT ticket_id, kind, due FROM timers WHERE due <= ? ORDER BY due LIMIT ?`

// Fired is a timer that fired.
type Fired struct {
	Number int64
	Kind   ticket.TimerKind
	Due    time.Time
	What   string // what it did: "closed", "reminded", "escalated", or why it did nothing
}

// RunTimers fires up to limit timers due at now, in one transaction: an automatic closing
// through the lifecycle, a reminder or an escalation recorded as an event with its
// notifications, and the timer deleted — all in the same transaction, so a rule fires exactly
// once whatever crashes or restarts. On PostgreSQL the due timers and their tickets are taken
// FOR UPDATE SKIP LOCKED: several passes (in this instance or others) share the due timers
// without waiting on each other or firing one twice; a ticket that another transaction holds is
// left for the next pass. A timer the lifecycle refuses (the state moved on in a way the timer
// missed) is recomputed from the ticket's state.
func (s *Store) RunTimers(ctx context.Context, now time.Time, p ticket.Policy, limit int) ([]Fired, error) {
	s.mu.Lock()
	tp := s.timerPolicy
	s.mu.Unlock()
	if tp == nil {
		return nil, nil
	}
	var fired []Fired
	err := s.tx(ctx, "run timers", func(tx *sqlx.Tx) error {
		fired = nil
		lock := ""
		if s.dialect == Postgres {
			lock = " FOR UPDATE SKIP LOCKED"
		}
		var due []struct {
			TicketID int64  `db:"ticket_id"`
			Kind     string `db:"kind"`
			Due      dbTime `db:"due"`
		}
		if err := tx.SelectContext(ctx, &due, tx.Rebind(DueTimersQuery+lock), s.tv(now), limit); err != nil {
			return err
		}
		// Automatic closings, the bulk of the work, go through the lifecycle together.
		closing := map[int64]time.Time{}
		var ids []int64
		for _, d := range due {
			if ticket.TimerKind(d.Kind) == ticket.TimerAutoClose {
				closing[d.TicketID] = d.Due.Time
				ids = append(ids, d.TicketID)
			}
		}
		if len(ids) > 0 {
			ts, err := s.lockTickets(ctx, tx, ids, lock)
			if err != nil {
				return err
			}
			var cs []*change
			for _, t := range ts {
				pp := p
				pp.AutoCloseAfter = tp.AutoCloseFor(t.SupportAddress)
				pp.PendingCloseAfter = tp.PendingCloseAfter
				cs = append(cs, &change{t: t, a: ticket.Action{Kind: ticket.ActAutoClose}, by: ticket.System, p: pp})
			}
			if err := s.applyBatch(ctx, tx, cs, now); err != nil {
				return err
			}
			for _, c := range cs {
				f := Fired{Number: c.t.Number, Kind: ticket.TimerAutoClose, Due: closing[c.t.ID], What: "closed"}
				if c.err != nil {
					if !isDomain(c.err) {
						return c.err
					}
					s.log.Warn("timer refused by the lifecycle; timers recomputed", "ticket", c.t.Number, "error", c.err)
					if err := s.setTimers(ctx, tx, c.t); err != nil {
						return err
					}
					f.What = "refused: " + c.err.Error()
				}
				fired = append(fired, f)
			}
		}
		for _, d := range due {
			if ticket.TimerKind(d.Kind) == ticket.TimerAutoClose {
				continue
			}
			f, err := s.fire(ctx, tx, d.TicketID, ticket.TimerKind(d.Kind), d.Due.Time, now, lock)
			if err != nil {
				return err
			}
			if f.What != "" {
				fired = append(fired, f)
			}
		}
		return nil
	})
	return fired, err
}

// fire runs one due reminder or escalation; an empty What means it is not to fire: the ticket
// is held by another transaction (the next pass sees), or the timer went with a change made
// earlier in this pass.
func (s *Store) fire(ctx context.Context, tx *sqlx.Tx, ticketID int64, kind ticket.TimerKind, dueAt, now time.Time, lock string) (Fired, error) {
	ts, err := s.lockTickets(ctx, tx, []int64{ticketID}, lock)
	if err != nil || len(ts) == 0 {
		return Fired{}, err
	}
	t := ts[0]
	var n int
	if err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT COUNT(*) FROM timers WHERE ticket_id = ? AND kind = ?`), ticketID, string(kind)); err != nil || n == 0 {
		return Fired{}, err
	}
	f := Fired{Number: t.Number, Kind: kind, Due: dueAt}
	var ev ticket.Event
	var question *ticket.Message
	switch kind {
	case ticket.TimerRemind:
		ev = ticket.Event{Time: now.UTC(), Actor: ticket.System.ID(), Kind: ticket.EventReminded, To: t.Requester.Address,
			Reason: fmt.Sprintf("pending since %s", t.StatusSince.UTC().Format(time.RFC3339))}
		f.What = "reminded"
		if question, err = s.lastStaffMessage(ctx, tx, t.ID); err != nil {
			return f, err
		}
	case ticket.TimerEscalate:
		ev = ticket.Event{Time: now.UTC(), Actor: ticket.System.ID(), Kind: ticket.EventEscalated,
			Reason: fmt.Sprintf("new and unassigned since %s", t.Created.UTC().Format(time.RFC3339))}
		f.What = "escalated"
	default:
		return f, fmt.Errorf("%w: unknown timer %q", ticket.ErrInvalid, kind)
	}
	if err := s.insertEvents(ctx, tx, t.ID, []ticket.Event{ev}); err != nil {
		return f, err
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM timers WHERE ticket_id = ? AND kind = ?`), ticketID, string(kind)); err != nil {
		return f, err
	}
	return f, s.notify(ctx, tx, Notice{Ticket: t, Events: []ticket.Event{ev}, Actor: ticket.System, Message: question, Timer: kind}, now)
}

// lockTickets loads the tickets with these ids, with their participants, locked by tx (those
// another transaction holds are left out on PostgreSQL, where lock is FOR UPDATE SKIP LOCKED).
func (s *Store) lockTickets(ctx context.Context, tx *sqlx.Tx, ids []int64, lock string) ([]ticket.Ticket, error) {
	q, args, err := sqlx.In(`SELECT `+ticketColumns+` FROM tickets WHERE id IN (?) ORDER BY id`+lock, ids)
	if err != nil {
		return nil, err
	}
	var rows []ticketRow
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(q), args...); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	ts := make([]ticket.Ticket, len(rows))
	ptrs := make([]*ticket.Ticket, len(rows))
	for i, r := range rows {
		ts[i] = r.ticket()
		ptrs[i] = &ts[i]
	}
	if err := s.loadParticipants(ctx, tx, ptrs...); err != nil {
		return nil, err
	}
	return ts, nil
}

// lastStaffMessage is the latest public message of the team on a ticket: the question a
// pending ticket waits on.
func (s *Store) lastStaffMessage(ctx context.Context, q querier, ticketID int64) (*ticket.Message, error) {
	var r messageRow
	err := sqlx.GetContext(ctx, q, &r, q.Rebind(`SELECT `+messageColumns+` FROM messages
		WHERE ticket_id = ? AND visibility = 'public' AND author_role = 'agent' ORDER BY id DESC LIMIT 1`), ticketID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m := r.message(nil)
	return &m, nil
}
