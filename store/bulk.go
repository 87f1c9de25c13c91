package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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

// deliverBulk writes a batch of plain new tickets in a transaction of its own, with one
// multi-row insert per table instead of a dozen statements per message: the group commit's way
// past the round trips. It reports false, with nothing written, when anything fails but the
// database being unavailable — the caller then takes the per-message path, which isolates the
// faulty message. Without a savepoint, a failure costs one rolled-back transaction, and
// success two round trips fewer.
func (s *Store) deliverBulk(ctx context.Context, ins []*ticket.Inbound, p ticket.Policy, ds []ticket.Delivered) (bool, error) {
	err := s.tx(ctx, fmt.Sprintf("deliver %d new tickets", len(ins)), func(tx *sqlx.Tx) error {
		return s.bulk(ctx, tx, ins, p, ds)
	})
	if err == nil {
		return true, nil
	}
	for i := range ds {
		ds[i] = ticket.Delivered{}
	}
	if errors.Is(err, ErrUnavailable) {
		return false, err
	}
	s.log.Warn("bulk delivery fell back to one message at a time", "error", err)
	return false, nil
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
	// 2. Numbers for the whole batch — the counter row is locked until commit; a rollback gives
	// them back — and the ids of the tickets and of their first messages, taken before the
	// inserts so that each insert can name them: on PostgreSQL the inserts are then one statement.
	first, tids, mids, err := s.reserve(ctx, tx, len(items))
	if err != nil {
		return err
	}
	var sts []stmt
	// 3. The raw messages, each content once.
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
	sts = append(sts, stmt{`INSERT INTO blobs (sha256, size, data) VALUES ` + values(len(blobs), 3) + ` ON CONFLICT (sha256) DO NOTHING`, blobArgs})
	// 4. The tickets, their participants, creation events and first messages.
	override := "" // ids are given: PostgreSQL's identity columns must be told
	if s.dialect == Postgres {
		override = " OVERRIDING SYSTEM VALUE"
	}
	var targs, pargs, eargs, margs []any
	var np, nm int
	msgOf := map[int64]int64{}
	for n, it := range items {
		t := &it.t
		t.ID, t.Number = tids[n], first+int64(n)
		targs = append(targs, t.ID, t.Number, t.Subject, t.Requester.Address, t.Requester.Name, string(t.Requester.Lang), t.Type,
			string(t.Priority), string(t.Status), t.Assignee, t.Group, t.SupportAddress, string(t.Channel), nil,
			s.tv(t.Created), s.tv(t.Updated), s.tv(t.StatusSince), nil, nil, nil)
		for _, pp := range t.Participants {
			pargs = append(pargs, t.ID, pp.Address, pp.Name, string(pp.Lang))
			np++
		}
		eargs = append(eargs, t.ID, s.tv(it.ev.Time), it.ev.Actor, string(it.ev.Kind), it.ev.From, it.ev.To, it.ev.Reason)
		a := it.in.Action
		if text := strings.TrimSpace(a.Text); text != "" || a.MessageID != "" {
			var mid any
			if a.MessageID != "" {
				mid = a.MessageID
			}
			msgOf[t.ID] = mids[n]
			margs = append(margs, mids[n], t.ID, s.tv(t.Created), string(ticket.RoleRequester), t.Requester.Address, t.Requester.Name,
				string(ticket.Public), text, a.HTML, mid)
			nm++
		}
	}
	sts = append(sts, stmt{`INSERT INTO tickets (id, number, subject, requester_address, requester_name,
		requester_lang, type, priority, status, assignee, grp, support_address, channel, linked_to, created, updated,
		status_since, first_response, solved, closed)` + override + ` VALUES ` + values(len(items), 20), targs})
	if np > 0 {
		sts = append(sts, stmt{`INSERT INTO participants (ticket_id, address, name, lang) VALUES ` + values(np, 4), pargs})
	}
	sts = append(sts, stmt{`INSERT INTO events (ticket_id, time, actor, kind, from_value, to_value, reason) VALUES ` +
		values(len(items), 7), eargs})
	if nm > 0 {
		sts = append(sts, stmt{`INSERT INTO messages (id, ticket_id, time, author_role, author_address,
			author_name, visibility, text, html, message_id)` + override + ` VALUES ` + values(nm, 10), margs})
	}
	// 5. The inbound records.
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
	sts = append(sts, stmt{`INSERT INTO inbound (received, source, dedup, message_id, raw_sha256, size,
		kind, thread_by, notify, ticket_id, message) VALUES ` + values(len(items), 11), iargs})
	// 6. Their timers (escalation of new tickets).
	timers := map[int64][]ticket.Timer{}
	for _, it := range items {
		if ts, ok := s.timersOf(it.t); ok && len(ts) > 0 {
			timers[it.t.ID] = ts
		}
	}
	tst, firstTimer, anyTimer := s.timersStmt(timers)
	if anyTimer {
		sts = append(sts, tst)
	}
	// 7. Their notifications.
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
	ost, anyNote, err := s.outboxStmt(ps, items[0].in.Received)
	if err != nil {
		return err
	}
	if anyNote {
		sts = append(sts, ost)
	}
	if err := s.execAll(ctx, tx, sts); err != nil {
		return err
	}
	if anyTimer {
		s.timersSet(firstTimer)
	}
	if anyNote {
		s.wake()
	}
	return nil
}

// stmt is one SQL statement, with ? placeholders, and its arguments.
type stmt struct {
	query string
	args  []any
}

// maxParams is how many parameters PostgreSQL takes in one statement.
const maxParams = 65535

// execAll runs the statements in order. On PostgreSQL they go as one statement, each in a WITH
// clause but the last — one round trip, one parse, instead of one each; a foreign key to a row
// that an earlier clause inserts holds, as its check runs at the end of the statement.
func (s *Store) execAll(ctx context.Context, tx *sqlx.Tx, sts []stmt) error {
	n := 0
	for _, st := range sts {
		n += len(st.args)
	}
	if s.dialect == Postgres && len(sts) > 1 && n <= maxParams {
		var q strings.Builder
		args := make([]any, 0, n)
		for i, st := range sts {
			switch {
			case i == 0:
				q.WriteString("WITH ")
			case i < len(sts)-1:
				q.WriteString(", ")
			}
			if i < len(sts)-1 {
				fmt.Fprintf(&q, "s%d AS (%s)", i, st.query)
			} else {
				q.WriteString(" " + st.query)
			}
			args = append(args, st.args...)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(q.String()), args...); err != nil {
			return fmt.Errorf("bulk insert: %w", err)
		}
		return nil
	}
	for _, st := range sts {
		if _, err := tx.ExecContext(ctx, tx.Rebind(st.query), st.args...); err != nil {
			return fmt.Errorf("%s: %w", strings.Fields(st.query)[2], err)
		}
	}
	return nil
}

// reserve takes n ticket numbers from the counter, and n ids for tickets and n for messages.
func (s *Store) reserve(ctx context.Context, tx *sqlx.Tx, n int) (first int64, tids, mids []int64, err error) {
	tids, mids = make([]int64, n), make([]int64, n)
	if s.dialect == Postgres {
		// One round trip: the counter's update and the identities' sequences.
		var rows []struct {
			First int64 `db:"first"`
			T     int64 `db:"t"`
			M     int64 `db:"m"`
		}
		err = tx.SelectContext(ctx, &rows, `WITH c AS (UPDATE counters SET next = (CASE WHEN next < $1 THEN $1 ELSE next END) + $2
			WHERE name = 'ticket' RETURNING next - $2 AS first)
			SELECT c.first, nextval(pg_get_serial_sequence('tickets', 'id')) AS t, nextval(pg_get_serial_sequence('messages', 'id')) AS m
			FROM c, generate_series(1, $2)`, s.start, n)
		if err == nil && len(rows) != n {
			err = fmt.Errorf("%d ids for %d tickets", len(rows), n)
		}
		if err != nil {
			return 0, nil, nil, fmt.Errorf("numbers: %w", err)
		}
		for i, r := range rows {
			first, tids[i], mids[i] = r.First, r.T, r.M
		}
		return first, tids, mids, nil
	}
	// SQLite: one writer at a time, so the next ids are the largest plus one, as SQLite would
	// give them (the tables are not AUTOINCREMENT).
	if err = tx.GetContext(ctx, &first, `UPDATE counters SET next = (CASE WHEN next < ? THEN ? ELSE next END) + ?
		WHERE name = 'ticket' RETURNING next - ?`, s.start, s.start, n, n); err != nil {
		return 0, nil, nil, fmt.Errorf("numbers: %w", err)
	}
	var t, m int64
	if err = tx.QueryRowxContext(ctx, `SELECT (SELECT COALESCE(MAX(id), 0) FROM tickets), (SELECT COALESCE(MAX(id), 0) FROM messages)`).Scan(&t, &m); err != nil {
		return 0, nil, nil, fmt.Errorf("ids: %w", err)
	}
	for i := range n {
		tids[i], mids[i] = t+int64(i)+1, m+int64(i)+1
	}
	return first, tids, mids, nil
}
