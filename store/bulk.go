package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"guichet/ticket"
)

// bulkable reports whether an inbound message is a plain new ticket — no quarantine, commands,
// notes, forwarder, bounces or files — which deliverBulk can write with the others of its batch.
func bulkable(in *ticket.Inbound) bool {
	return in.Quarantine == "" && in.Create != nil && len(in.Commands) == 0 && len(in.Notes) == 0 &&
		in.ForwardedBy.Address == "" && len(in.Bounces) == 0 && len(in.Files) == 0 && len(in.Action.Attachments) == 0
}

// deliverBulk writes a batch of plain new tickets with one multi-row statement per table instead
// of a dozen statements per message: the group commit's way past the round trips. It runs in a
// savepoint of tx and reports false, with nothing written, when anything fails — the caller then
// takes the per-message path, which isolates the faulty message.
func (s *Store) deliverBulk(ctx context.Context, tx *sqlx.Tx, ins []*ticket.Inbound, p ticket.Policy, ds []ticket.Delivered) bool {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT deliver_bulk"); err != nil {
		return false
	}
	if err := s.bulk(ctx, tx, ins, p, ds); err != nil {
		s.log.Warn("bulk delivery fell back to one message at a time", "error", err)
		tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT deliver_bulk")
		tx.ExecContext(ctx, "RELEASE SAVEPOINT deliver_bulk")
		for i := range ds {
			ds[i] = ticket.Delivered{}
		}
		return false
	}
	_, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT deliver_bulk")
	return err == nil
}

// values builds "(?, ?, …), (?, ?, …)" for rows of n columns.
func values(rows, n int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
}

func (s *Store) bulk(ctx context.Context, tx *sqlx.Tx, ins []*ticket.Inbound, p ticket.Policy, ds []ticket.Delivered) error {
	// 1. What is stored already, or twice in this batch, is a duplicate.
	keys := make([]any, len(ins))
	for i, in := range ins {
		keys[i] = in.Dedup
	}
	q, args, err := sqlx.In(`SELECT dedup FROM inbound WHERE dedup IN (?) UNION SELECT dedup FROM quarantine WHERE dedup IN (?)`, keys, keys)
	if err != nil {
		return err
	}
	var stored []string
	if err := tx.SelectContext(ctx, &stored, tx.Rebind(q), args...); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, k := range stored {
		seen[k] = true
	}
	type item struct {
		i   int
		in  *ticket.Inbound
		t   ticket.Ticket
		ev  ticket.Event
		sha string
	}
	var items []*item
	for i, in := range ins {
		if seen[in.Dedup] {
			ds[i].Duplicate = true
			continue
		}
		seen[in.Dedup] = true
		t, ev, err := ticket.Open(*in.Create, p, ticket.Actor{Role: ticket.RoleRequester, Address: in.Create.Requester.Address, Name: in.Create.Requester.Name}, in.Received)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(in.Raw)
		items = append(items, &item{i: i, in: in, t: t, ev: ev, sha: hex.EncodeToString(sum[:])})
	}
	if len(items) == 0 {
		return nil
	}
	// 2. The raw messages, each content once.
	var blobArgs []any
	blobs := map[string]bool{}
	for _, it := range items {
		if !blobs[it.sha] {
			blobs[it.sha] = true
			raw := it.in.Raw
			if raw == nil {
				raw = []byte{}
			}
			blobArgs = append(blobArgs, it.sha, len(raw), raw)
		}
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO blobs (sha256, size, data) VALUES `+values(len(blobs), 3)+
		` ON CONFLICT (sha256) DO NOTHING`), blobArgs...); err != nil {
		return fmt.Errorf("blobs: %w", err)
	}
	// 3. Numbers for the whole batch: the counter row is locked until commit; a rollback gives them back.
	var first int64
	if err := tx.GetContext(ctx, &first, tx.Rebind(`UPDATE counters SET next = (CASE WHEN next < ? THEN ? ELSE next END) + ?
		WHERE name = 'ticket' RETURNING next - ?`), s.start, s.start, len(items), len(items)); err != nil {
		return fmt.Errorf("numbers: %w", err)
	}
	// 4. The tickets.
	var targs []any
	for n, it := range items {
		t := &it.t
		t.Number = first + int64(n)
		targs = append(targs, t.Number, t.Subject, t.Requester.Address, t.Requester.Name, string(t.Requester.Lang), t.Type,
			string(t.Priority), string(t.Status), t.Assignee, t.Group, t.SupportAddress, string(t.Channel), nil,
			s.tv(t.Created), s.tv(t.Updated), s.tv(t.StatusSince), nil, nil, nil)
	}
	var ids []struct {
		ID     int64 `db:"id"`
		Number int64 `db:"number"`
	}
	if err := tx.SelectContext(ctx, &ids, tx.Rebind(`INSERT INTO tickets (number, subject, requester_address, requester_name,
		requester_lang, type, priority, status, assignee, grp, support_address, channel, linked_to, created, updated,
		status_since, first_response, solved, closed) VALUES `+values(len(items), 19)+` RETURNING id, number`), targs...); err != nil {
		return fmt.Errorf("tickets: %w", err)
	}
	byNumber := map[int64]int64{}
	for _, r := range ids {
		byNumber[r.Number] = r.ID
	}
	var pargs, eargs, margs []any
	var np, nm int
	for _, it := range items {
		it.t.ID = byNumber[it.t.Number]
		if it.t.ID == 0 {
			return fmt.Errorf("tickets: no id returned for number %d", it.t.Number)
		}
		for _, pp := range it.t.Participants {
			pargs = append(pargs, it.t.ID, pp.Address, pp.Name, string(pp.Lang))
			np++
		}
		eargs = append(eargs, it.t.ID, s.tv(it.ev.Time), it.ev.Actor, string(it.ev.Kind), it.ev.From, it.ev.To, it.ev.Reason)
		a := it.in.Action
		if text := strings.TrimSpace(a.Text); text != "" || a.MessageID != "" {
			var mid any
			if a.MessageID != "" {
				mid = a.MessageID
			}
			margs = append(margs, it.t.ID, s.tv(it.t.Created), string(ticket.RoleRequester), it.t.Requester.Address, it.t.Requester.Name,
				string(ticket.Public), text, a.HTML, mid)
			nm++
		}
	}
	// 5. Participants, creation events, first messages.
	if np > 0 {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO participants (ticket_id, address, name, lang) VALUES `+values(np, 4)), pargs...); err != nil {
			return fmt.Errorf("participants: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO events (ticket_id, time, actor, kind, from_value, to_value, reason) VALUES `+
		values(len(items), 7)), eargs...); err != nil {
		return fmt.Errorf("events: %w", err)
	}
	msgOf := map[int64]int64{}
	if nm > 0 {
		var rows []struct {
			ID       int64 `db:"id"`
			TicketID int64 `db:"ticket_id"`
		}
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(`INSERT INTO messages (ticket_id, time, author_role, author_address,
			author_name, visibility, text, html, message_id) VALUES `+values(nm, 9)+` RETURNING id, ticket_id`), margs...); err != nil {
			return fmt.Errorf("messages: %w", err)
		}
		for _, r := range rows {
			msgOf[r.TicketID] = r.ID
		}
	}
	// 6. The inbound records.
	var iargs []any
	for _, it := range items {
		var msg any
		if id, ok := msgOf[it.t.ID]; ok {
			msg = id
		}
		in := it.in
		iargs = append(iargs, s.tv(in.Received), in.Source, in.Dedup, in.MessageID, it.sha, len(in.Raw), in.Kind, in.ThreadBy, in.Notify, it.t.ID, msg)
		ds[it.i] = ticket.Delivered{Number: it.t.Number, Created: true}
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO inbound (received, source, dedup, message_id, raw_sha256, size,
		kind, thread_by, notify, ticket_id, message) VALUES `+values(len(items), 11)), iargs...); err != nil {
		return fmt.Errorf("inbound: %w", err)
	}
	// 7. Their timers (escalation of new tickets), in one statement.
	timers := map[int64][]ticket.Timer{}
	for _, it := range items {
		if ts, ok := s.timersOf(it.t); ok && len(ts) > 0 {
			timers[it.t.ID] = ts
		}
	}
	if err := s.insertTimers(ctx, tx, timers); err != nil {
		return err
	}
	// 8. Their notifications, in one statement.
	var ps []planned
	for _, it := range items {
		n := Notice{Ticket: it.t, Events: []ticket.Event{it.ev}, Quiet: !it.in.Notify,
			Actor: ticket.Actor{Role: ticket.RoleRequester, Address: it.t.Requester.Address, Name: it.t.Requester.Name}}
		if id, ok := msgOf[it.t.ID]; ok {
			a := it.in.Action
			n.Message = &ticket.Message{ID: id, TicketID: it.t.ID, Time: it.t.Created, Author: n.Actor, Visibility: ticket.Public,
				Text: strings.TrimSpace(a.Text), HTML: a.HTML, MessageID: a.MessageID}
		}
		ns, err := s.plan(ctx, tx, n)
		if err != nil {
			return err
		}
		ps = append(ps, planned{it.t.ID, ns})
	}
	return s.insertOutbox(ctx, tx, ps, items[0].in.Received)
}
