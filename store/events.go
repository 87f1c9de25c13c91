package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"guichet/ticket"
)

func (s *Store) insertEvents(ctx context.Context, tx *sqlx.Tx, ticketID int64, evs []ticket.Event) error {
	for _, e := range evs {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO events (ticket_id, time, actor, kind, from_value, to_value, reason)
			VALUES (?, ?, ?, ?, ?, ?, ?)`), ticketID, s.tv(e.Time), e.Actor, string(e.Kind), e.From, e.To, e.Reason); err != nil {
			return fmt.Errorf("insert event %s: %w", e.Kind, err)
		}
	}
	return nil
}

// Events returns a ticket's events in order.
func (s *Store) Events(ctx context.Context, ticketID int64) ([]ticket.Event, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var rows []struct {
		ID       int64  `db:"id"`
		TicketID int64  `db:"ticket_id"`
		Time     dbTime `db:"time"`
		Actor    string `db:"actor"`
		Kind     string `db:"kind"`
		From     string `db:"from_value"`
		To       string `db:"to_value"`
		Reason   string `db:"reason"`
	}
	if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT id, ticket_id, time, actor, kind, from_value, to_value, reason
		FROM events WHERE ticket_id = ? ORDER BY id`), ticketID); err != nil {
		return nil, fmt.Errorf("store: events: %w", s.classify(err))
	}
	evs := make([]ticket.Event, len(rows))
	for i, r := range rows {
		evs[i] = ticket.Event{ID: r.ID, TicketID: r.TicketID, Time: r.Time.Time, Actor: r.Actor,
			Kind: ticket.EventKind(r.Kind), From: r.From, To: r.To, Reason: r.Reason}
	}
	return evs, nil
}
