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
	var args []any
	n := 0
	for id, ts := range byTicket {
		for _, tm := range ts {
			args = append(args, id, string(tm.Kind), s.tv(tm.Due))
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO timers (ticket_id, kind, due) VALUES `+values(n, 3)), args...); err != nil {
		return fmt.Errorf("timers: %w", err)
	}
	select {
	case s.timersChanged <- struct{}{}:
	default:
	}
	return nil
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

// DueTimersQuery is the scan of due timers, for the benchmark's query plan.
const DueTimersQuery = `SELECT ticket_id, kind, due FROM timers WHERE due <= ? ORDER BY due LIMIT ?`

// Fired is a timer that fired.
type Fired struct {
	Number int64
	Kind   ticket.TimerKind
	Due    time.Time
	What   string // what it did: "closed", "reminded", "escalated", or why it did nothing
}

// RunTimers fires up to limit timers due at now, in one transaction, each under its own
// savepoint: an automatic closing through the lifecycle, a reminder or an escalation recorded
// as an event with its notifications, and the timer deleted — all in the same transaction, so
// a rule fires exactly once whatever crashes or restarts. On PostgreSQL each ticket is locked
// with FOR UPDATE SKIP LOCKED: several instances share the due timers without waiting on each
// other or firing one twice; a ticket some other transaction holds is left for the next pass.
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
		var due []struct {
			TicketID int64  `db:"ticket_id"`
			Kind     string `db:"kind"`
			Due      dbTime `db:"due"`
		}
		if err := tx.SelectContext(ctx, &due, tx.Rebind(DueTimersQuery), s.tv(now), limit); err != nil {
			return err
		}
		lock := ""
		if s.dialect == Postgres {
			lock = " FOR UPDATE SKIP LOCKED"
		}
		for _, d := range due {
			if _, err := tx.ExecContext(ctx, "SAVEPOINT timer"); err != nil {
				return err
			}
			f, err := s.fire(ctx, tx, d.TicketID, ticket.TimerKind(d.Kind), now, p, *tp, lock)
			if err != nil {
				if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT timer"); rerr != nil {
					return rerr
				}
				if !isDomain(err) {
					return err
				}
				// The lifecycle refuses: the state moved on in a way the timer missed. Set the
				// timers afresh from the ticket's state rather than try again forever.
				s.log.Warn("timer refused by the lifecycle; timers recomputed", "ticket_id", d.TicketID, "kind", d.Kind, "error", err)
				if err := s.resetTimers(ctx, tx, d.TicketID); err != nil {
					return err
				}
				f = Fired{Kind: ticket.TimerKind(d.Kind), Due: d.Due.Time, What: "refused: " + err.Error()}
			}
			if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT timer"); err != nil {
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

func (s *Store) resetTimers(ctx context.Context, tx *sqlx.Tx, ticketID int64) error {
	var number int64
	if err := tx.GetContext(ctx, &number, tx.Rebind(`SELECT number FROM tickets WHERE id = ?`), ticketID); err != nil {
		return err
	}
	t, err := s.loadTicket(ctx, tx, number, "")
	if err != nil {
		return err
	}
	return s.setTimers(ctx, tx, t)
}

// fire runs one due timer; an empty What means another instance had it.
func (s *Store) fire(ctx context.Context, tx *sqlx.Tx, ticketID int64, kind ticket.TimerKind, now time.Time, p ticket.Policy, tp ticket.TimerPolicy, lock string) (Fired, error) {
	var number int64
	err := tx.GetContext(ctx, &number, tx.Rebind(`SELECT number FROM tickets WHERE id = ?`+lock), ticketID)
	if errors.Is(err, sql.ErrNoRows) {
		return Fired{}, nil // locked by another transaction (or gone): the next pass sees
	}
	if err != nil {
		return Fired{}, err
	}
	// Under the ticket's lock, the timer is still there (no other instance fired it) and still due.
	var due dbTime
	err = tx.GetContext(ctx, &due, tx.Rebind(`SELECT due FROM timers WHERE ticket_id = ? AND kind = ?`), ticketID, string(kind))
	if errors.Is(err, sql.ErrNoRows) || err == nil && due.After(now) {
		return Fired{}, nil
	}
	if err != nil {
		return Fired{}, err
	}
	t, err := s.loadTicket(ctx, tx, number, "")
	if err != nil {
		return Fired{}, err
	}
	f := Fired{Number: number, Kind: kind, Due: due.Time}
	switch kind {
	case ticket.TimerAutoClose:
		pp := p
		pp.AutoCloseAfter = tp.AutoCloseFor(t.SupportAddress)
		pp.PendingCloseAfter = tp.PendingCloseAfter
		if _, err := s.applyLocked(ctx, tx, t, ticket.Action{Kind: ticket.ActAutoClose}, ticket.System, nil, now, pp); err != nil {
			return f, err
		}
		f.What = "closed"
	case ticket.TimerRemind, ticket.TimerEscalate:
		ev := ticket.Event{Time: now.UTC(), Actor: ticket.System.ID(), Kind: ticket.EventReminded, To: t.Requester.Address,
			Reason: fmt.Sprintf("pending since %s", t.StatusSince.UTC().Format(time.RFC3339))}
		f.What = "reminded"
		var question *ticket.Message
		if kind == ticket.TimerEscalate {
			ev = ticket.Event{Time: now.UTC(), Actor: ticket.System.ID(), Kind: ticket.EventEscalated,
				Reason: fmt.Sprintf("new and unassigned since %s", t.Created.UTC().Format(time.RFC3339))}
			f.What = "escalated"
		} else if question, err = s.lastStaffMessage(ctx, tx, t.ID); err != nil {
			return f, err
		}
		if err := s.insertEvents(ctx, tx, t.ID, []ticket.Event{ev}); err != nil {
			return f, err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM timers WHERE ticket_id = ? AND kind = ?`), ticketID, string(kind)); err != nil {
			return f, err
		}
		if err := s.notify(ctx, tx, Notice{Ticket: t, Events: []ticket.Event{ev}, Actor: ticket.System, Message: question, Timer: kind}, now); err != nil {
			return f, err
		}
	default:
		return f, fmt.Errorf("%w: unknown timer %q", ticket.ErrInvalid, kind)
	}
	return f, nil
}

// lastStaffMessage is the latest public message of the team on a ticket: the question a
// pending ticket waits on.
func (s *Store) lastStaffMessage(ctx context.Context, q querier, ticketID int64) (*ticket.Message, error) {
	var r messageRow
	err := sqlx.GetContext(ctx, q, &r, q.Rebind(`SELECT id, ticket_id, time, author_role, author_address, author_name,
		visibility, text, html, message_id FROM messages WHERE ticket_id = ? AND visibility = 'public' AND author_role = 'agent'
		ORDER BY id DESC LIMIT 1`), ticketID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &ticket.Message{ID: r.ID, TicketID: r.TicketID, Time: r.Time.Time,
		Author:     ticket.Actor{Role: ticket.Role(r.AuthorRole), Address: r.AuthorAddress, Name: r.AuthorName},
		Visibility: ticket.Visibility(r.Visibility), Text: r.Text, HTML: r.HTML, MessageID: r.MessageID.String}, nil
}
