package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"guichet/ticket"
)

// change is one lifecycle action on a ticket that tx holds, for applyBatch.
type change struct {
	t      ticket.Ticket
	a      ticket.Action
	by     ticket.Actor
	p      ticket.Policy
	result ticket.Change
	err    error // a refusal of the lifecycle: nothing was written for it
}

// applyBatch runs the lifecycle on several locked tickets and writes the results with a few
// statements for all of them instead of a handful each: tickets that changed the same columns
// to the same values share one UPDATE, and events, timers and notifications go in one
// multi-row statement per table. It is what lets one pass of the scheduler close thousands of
// tickets in seconds. A change the lifecycle refuses gets its error and writes nothing.
func (s *Store) applyBatch(ctx context.Context, tx *sqlx.Tx, cs []*change, now time.Time) error {
	type set struct {
		cols string
		args []any
	}
	type group struct {
		set set
		ids []any
	}
	groups := map[string]*group{}
	var order []string
	var evArgs []any
	evRows := 0
	timers := map[int64][]ticket.Timer{}
	var moved []any
	var notes []planned
	for _, c := range cs {
		res, err := ticket.Apply(c.t, c.a, c.by, now, c.p)
		if err == nil && res.FollowUp {
			err = fmt.Errorf("%w: a follow-up ticket cannot be opened in a batch", ticket.ErrInvalid)
		}
		if err != nil {
			c.err = err
			continue
		}
		c.result = res
		after := res.Ticket
		if res.Message != nil {
			if _, err := s.insertMessage(ctx, tx, res.Message, nil); err != nil {
				return err
			}
		}
		cols, args := changedColumns(s, c.t, after)
		if len(cols) > 0 {
			key := fmt.Sprint(cols, args)
			g, ok := groups[key]
			if !ok {
				g = &group{set: set{strings.Join(cols, ", "), args}}
				groups[key] = g
				order = append(order, key)
			}
			g.ids = append(g.ids, after.ID)
		}
		for _, e := range res.Events {
			evArgs = append(evArgs, after.ID, s.tv(e.Time), e.Actor, string(e.Kind), e.From, e.To, e.Reason)
			evRows++
		}
		if timersMoved(c.t, after) {
			if ts, ok := s.timersOf(after); ok {
				moved = append(moved, after.ID)
				if len(ts) > 0 {
					timers[after.ID] = ts
				}
			}
		}
		ns, err := s.plan(ctx, tx, Notice{Ticket: after, Events: res.Events, Message: res.Message, Actor: c.by})
		if err != nil {
			return err
		}
		notes = append(notes, planned{after.ID, ns})
	}
	for _, key := range order {
		g := groups[key]
		q, args, err := sqlx.In(`UPDATE tickets SET `+g.set.cols+` WHERE id IN (?)`, append(append([]any(nil), g.set.args...), g.ids)...)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), args...); err != nil {
			return fmt.Errorf("update tickets: %w", err)
		}
	}
	if evRows > 0 {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO events (ticket_id, time, actor, kind, from_value, to_value, reason) VALUES `+
			values(evRows, 7)), evArgs...); err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
	}
	if len(moved) > 0 {
		q, args, err := sqlx.In(`DELETE FROM timers WHERE ticket_id IN (?)`, moved)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), args...); err != nil {
			return fmt.Errorf("timers: %w", err)
		}
		if err := s.insertTimers(ctx, tx, timers); err != nil {
			return err
		}
	}
	return s.insertOutbox(ctx, tx, notes, now)
}

// changedColumns lists the ticket columns a change set, as "col = ?" with their values.
func changedColumns(s *Store, before, after ticket.Ticket) ([]string, []any) {
	var cols []string
	var args []any
	add := func(differ bool, col string, v any) {
		if differ {
			cols = append(cols, col+" = ?")
			args = append(args, v)
		}
	}
	add(before.Subject != after.Subject, "subject", after.Subject)
	add(before.Type != after.Type, "type", after.Type)
	add(before.Priority != after.Priority, "priority", string(after.Priority))
	add(before.Status != after.Status, "status", string(after.Status))
	add(before.Assignee != after.Assignee, "assignee", after.Assignee)
	add(before.Group != after.Group, "grp", after.Group)
	add(!before.Updated.Equal(after.Updated), "updated", s.tv(after.Updated))
	add(!before.StatusSince.Equal(after.StatusSince), "status_since", s.tv(after.StatusSince))
	add(!before.FirstResponse.Equal(after.FirstResponse), "first_response", s.tv(after.FirstResponse))
	add(!before.Solved.Equal(after.Solved), "solved", s.tv(after.Solved))
	add(!before.Closed.Equal(after.Closed), "closed", s.tv(after.Closed))
	return cols, args
}
