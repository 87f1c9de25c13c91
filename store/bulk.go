package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"guichet/ticket"
)

// bulkable reports whether an inbound message is a plain new ticket — no quarantine, commands,
// notes, forwarder, bounces or files, and a raw message that fits in one blob part — which
// deliverBulk can write with the others of its batch.
func bulkable(in *ticket.Inbound) bool {
	return in.Quarantine == "" && in.Create != nil && len(in.Raw) <= blobPart && len(in.Commands) == 0 && len(in.Notes) == 0 &&
		in.ForwardedBy.Address == "" && len(in.Bounces) == 0 && len(in.Files) == 0 && len(in.Action.Attachments) == 0
}

// deliverBulk writes a batch of plain new tickets with one multi-row insert per table instead
// of a dozen statements per message: the group commit's way past the round trips. It reports
// false, with nothing written, when anything fails but the database being unavailable — the
// caller then takes the per-message path, which isolates the faulty message. Without a
// savepoint, a failure costs one rolled-back transaction, and success two round trips fewer.
func (s *Store) deliverBulk(ctx context.Context, ins []*ticket.Inbound, p ticket.Policy, ds []ticket.Delivered) (bool, error) {
	what := fmt.Sprintf("deliver %d new tickets", len(ins))
	var err error
	if s.dialect == Postgres {
		err = s.bulkPostgres(ctx, ins, p, ds)
		if err != nil {
			err = fmt.Errorf("store: %s: %w", what, s.classify(err))
		}
	} else {
		err = s.tx(ctx, what, func(tx *sqlx.Tx) error {
			return s.bulkSQLite(ctx, tx, ins, p, ds)
		})
	}
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

// bulkItem is a message of a bulk delivery that is not a duplicate, and its new ticket.
type bulkItem struct {
	i   int // its index in the batch
	in  *ticket.Inbound
	t   ticket.Ticket
	ev  ticket.Event
	sha string
	mid int64 // the id of its first message
}

// bulkItems opens the tickets of the messages that are neither stored (their dedup keys) nor
// earlier in the batch; the others are marked duplicates in ds.
func bulkItems(ins []*ticket.Inbound, p ticket.Policy, stored []string, ds []ticket.Delivered) ([]*bulkItem, error) {
	seen := map[string]bool{}
	for _, k := range stored {
		seen[k] = true
	}
	var items []*bulkItem
	for i, in := range ins {
		if seen[in.Dedup] {
			ds[i].Duplicate = true
			continue
		}
		seen[in.Dedup] = true
		t, ev, err := ticket.Open(*in.Create, p, ticket.Actor{Role: ticket.RoleRequester, Address: in.Create.Requester.Address, Name: in.Create.Requester.Name}, in.Received)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(in.Raw)
		items = append(items, &bulkItem{i: i, in: in, t: t, ev: ev, sha: hex.EncodeToString(sum[:])})
	}
	return items, nil
}

// bulkSQLite delivers a batch in tx: SQLite has one writer at a time, so the counter and the
// largest ids read inside tx stay ours until it commits.
func (s *Store) bulkSQLite(ctx context.Context, tx *sqlx.Tx, ins []*ticket.Inbound, p ticket.Policy, ds []ticket.Delivered) error {
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
	items, err := bulkItems(ins, p, stored, ds)
	if err != nil || len(items) == 0 {
		return err
	}
	var first int64
	if err = tx.GetContext(ctx, &first, `UPDATE counters SET next = (CASE WHEN next < ? THEN ? ELSE next END) + ?
		WHERE name = 'ticket' RETURNING next - ?`, s.start, s.start, len(items), len(items)); err != nil {
		return fmt.Errorf("numbers: %w", err)
	}
	// The next ids are the largest plus one, as SQLite would give them (the tables are not
	// AUTOINCREMENT).
	var t, m int64
	if err = tx.QueryRowxContext(ctx, `SELECT (SELECT COALESCE(MAX(id), 0) FROM tickets), (SELECT COALESCE(MAX(id), 0) FROM messages)`).Scan(&t, &m); err != nil {
		return fmt.Errorf("ids: %w", err)
	}
	for n, it := range items {
		it.t.ID, it.t.Number, it.mid = t+int64(n)+1, first+int64(n), m+int64(n)+1
	}
	sts, after, err := s.bulkStmts(ctx, tx, items, "?", ds)
	if err != nil {
		return err
	}
	if err := s.execAll(ctx, tx, sts); err != nil {
		return err
	}
	after()
	return nil
}

// bulkFirstQuery is bulkPostgres's first statement. Its text does not depend on the batch, so
// it is prepared once: parsed and planned by PostgreSQL once per connection, not per batch (its
// planning cost as much as its execution).
const bulkFirstQuery = `SELECT (SELECT next FROM counters WHERE name = 'ticket') AS next,
	ARRAY(SELECT dedup FROM inbound WHERE dedup = ANY($1) UNION SELECT dedup FROM quarantine WHERE dedup = ANY($1)) AS stored,
	ARRAY(SELECT nextval(pg_get_serial_sequence('tickets', 'id')) FROM generate_series(1, $2)) AS t,
	ARRAY(SELECT nextval(pg_get_serial_sequence('messages', 'id')) FROM generate_series(1, $2)) AS m`

// bulkPostgres delivers a batch, in one statement when it can (bulkOptimistic), else in two,
// each its own transaction, so that the counter row is locked only while the second one runs,
// not across round trips:
//
//  1. the duplicate check, the counter's value and the ids of the new rows (sequences, which
//     take no lock);
//  2. the counter's update and every insert, as one statement. The update holds only if the
//     counter still has the value the numbers were computed from; if another writer moved it
//     in between, the tickets' numbers come out NULL, the statement fails whole — the counter
//     is not moved, no number is lost — and it is tried again in a transaction that locks the
//     counter first.
//
// Numbers stay without gaps: they are taken in the statement that writes the tickets. The
// numbers are known before that statement (the notifications' Message-IDs carry them), so
// the second statements of concurrent batches are run one at a time (numMu), the counter's
// value following from the last one; the first statements run meanwhile.
func (s *Store) bulkPostgres(ctx context.Context, ins []*ticket.Inbound, p ticket.Policy, ds []ticket.Delivered) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	keys := make(pq.StringArray, len(ins))
	for i, in := range ins {
		keys[i] = in.Dedup
	}
	if done, err := s.bulkOptimistic(ctx, ins, keys, p, ds); done || err != nil {
		return err
	}
	var r struct {
		Next   int64          `db:"next"`
		Stored pq.StringArray `db:"stored"`
		T      pq.Int64Array  `db:"t"`
		M      pq.Int64Array  `db:"m"`
	}
	first, err := s.prepared(ctx, &s.bulkFirst, bulkFirstQuery)
	if err == nil {
		err = first.GetContext(ctx, &r, keys, len(ins))
	}
	if err != nil {
		return fmt.Errorf("duplicates and ids: %w", err)
	}
	items, err := bulkItems(ins, p, r.Stored, ds)
	if err != nil || len(items) == 0 {
		return err
	}
	for n, it := range items {
		it.t.ID, it.mid = r.T[n], r.M[n]
	}
	s.numMu.Lock()
	defer s.numMu.Unlock()
	prev := r.Next
	if s.numKnown {
		prev = s.numNext
	}
	after, next, err := s.bulkWrite(ctx, s.db, items, ds, prev, nil)
	if isNumberNull(err) {
		// Another writer took numbers: with it busy, trying again the same way could lose
		// again and again. Lock the counter, then write.
		var tx *sqlx.Tx
		if tx, err = s.db.BeginTxx(ctx, nil); err != nil {
			return err
		}
		defer tx.Rollback()
		if err = tx.GetContext(ctx, &prev, `SELECT next FROM counters WHERE name = 'ticket' FOR UPDATE`); err != nil {
			return fmt.Errorf("numbers: %w", err)
		}
		if after, next, err = s.bulkWrite(ctx, tx, items, ds, prev, nil); err == nil {
			err = tx.Commit()
		}
	}
	if err != nil {
		s.numKnown = false
		return err
	}
	s.numNext, s.numKnown = next, true
	after()
	return nil
}

// bulkOptimistic writes the batch in one statement, the common case of a busy instance: the
// ids come from the process's pool (takeIDs), the numbers follow the counter as the last bulk
// delivery left it, and the duplicate check is part of the counter's update, which then holds
// only if none of the batch's messages is stored. A duplicate, or a counter that another
// writer moved, makes the numbers NULL and the statement fail whole: it reports false, with
// nothing written and ds as it was, and the two-statement path finds out which it was. It also
// reports false when the counter's value is not known.
func (s *Store) bulkOptimistic(ctx context.Context, ins []*ticket.Inbound, keys pq.StringArray, p ticket.Policy, ds []ticket.Delivered) (bool, error) {
	s.numMu.Lock()
	known := s.numKnown
	s.numMu.Unlock()
	if !known {
		return false, nil
	}
	tids, mids, err := s.takeIDs(ctx, len(ins))
	if err != nil {
		return true, fmt.Errorf("ids: %w", err)
	}
	reset := func() {
		for i := range ds {
			ds[i] = ticket.Delivered{}
		}
	}
	items, err := bulkItems(ins, p, nil, ds)
	if err != nil || len(items) == 0 {
		reset() // the two-statement path decides, as without this one
		return false, nil
	}
	for n, it := range items {
		it.t.ID, it.mid = tids[n], mids[n]
	}
	s.numMu.Lock()
	defer s.numMu.Unlock()
	if !s.numKnown {
		reset()
		return false, nil
	}
	after, next, err := s.bulkWrite(ctx, s.db, items, ds, s.numNext, keys)
	if err != nil {
		s.numKnown = false
		reset()
		if isNumberNull(err) {
			return false, nil
		}
		return true, err
	}
	s.numNext = next
	s.oneStatement.Add(1)
	after()
	return true, nil
}

// bulkWrite runs the counter's update and the batch's inserts as one statement, numbering the
// tickets from prev (or the first number, if greater). With keys, the update also requires
// that none of those dedup keys is stored.
func (s *Store) bulkWrite(ctx context.Context, q querier, items []*bulkItem, ds []ticket.Delivered, prev int64, keys pq.StringArray) (after func(), next int64, err error) {
	first := max(prev, s.start)
	for n, it := range items {
		it.t.Number = first + int64(n)
	}
	sts, after, err := s.bulkStmts(ctx, q, items, "(SELECT ?::bigint FROM c)", ds)
	if err != nil {
		return nil, 0, err
	}
	next = first + int64(len(items))
	counter := stmt{`UPDATE counters SET next = ? WHERE name = 'ticket' AND next = ? RETURNING next`, []any{next, prev}}
	if keys != nil {
		counter = stmt{`UPDATE counters SET next = ? WHERE name = 'ticket' AND next = ?
			AND NOT EXISTS (SELECT 1 FROM inbound WHERE dedup = ANY(?)) AND NOT EXISTS (SELECT 1 FROM quarantine WHERE dedup = ANY(?))
			RETURNING next`, []any{next, prev, keys, keys}}
	}
	return after, next, s.execOne(ctx, q, append([]stmt{counter}, sts...), "c")
}

// isNumberNull reports whether err is a ticket inserted without a number: the counter's
// update in bulkWrite did not hold.
func isNumberNull(err error) bool {
	var pqe *pq.Error
	return err != nil && errors.As(err, &pqe) && pqe.Code == "23502" && pqe.Column == "number"
}

// idBlock is how many ticket and message ids the process takes from the sequences at once.
const idBlock = 256

const idsQuery = `SELECT ARRAY(SELECT nextval(pg_get_serial_sequence('tickets', 'id')) FROM generate_series(1, $1)) AS t,
	ARRAY(SELECT nextval(pg_get_serial_sequence('messages', 'id')) FROM generate_series(1, $1)) AS m`

// takeIDs returns n new ticket ids and n new message ids, from a pool filled idBlock at a time
// (sequences: ids are never given twice, and the ones a crash leaves unused are only a gap).
// The ids of a ticket's first message come from the pool, the later messages' from the
// sequence, which is past the whole pool: a ticket's messages stay in the order of their ids.
func (s *Store) takeIDs(ctx context.Context, n int) (t, m []int64, err error) {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	if len(s.idT) < n {
		var r struct {
			T pq.Int64Array `db:"t"`
			M pq.Int64Array `db:"m"`
		}
		st, err := s.prepared(ctx, &s.idsStmt, idsQuery)
		if err == nil {
			err = st.GetContext(ctx, &r, max(n, idBlock))
		}
		if err != nil {
			return nil, nil, err
		}
		s.idT, s.idM = append(s.idT, r.T...), append(s.idM, r.M...)
	}
	t, m = s.idT[:n:n], s.idM[:n:n]
	s.idT, s.idM = s.idT[n:], s.idM[n:]
	return t, m, nil
}

// bulkStmts returns the inserts of a batch of new tickets whose ids and numbers are set,
// number being the placeholder of the ticket number's column, and what to do once they are
// committed. It sets the results in ds.
func (s *Store) bulkStmts(ctx context.Context, q querier, items []*bulkItem, number string, ds []ticket.Delivered) ([]stmt, func(), error) {
	var sts []stmt
	// The raw messages, each content once.
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
	// The tickets, their participants, creation events and first messages.
	override := "" // ids are given: PostgreSQL's identity columns must be told
	if s.dialect == Postgres {
		override = " OVERRIDING SYSTEM VALUE"
	}
	var targs, pargs, eargs, margs []any
	var np, nm int
	msgOf := map[int64]int64{}
	for _, it := range items {
		t := &it.t
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
			msgOf[t.ID] = it.mid
			margs = append(margs, it.mid, t.ID, s.tv(t.Created), string(ticket.RoleRequester), t.Requester.Address, t.Requester.Name,
				string(ticket.Public), text, a.HTML, mid)
			nm++
		}
	}
	ticketRow := "(?, " + number + strings.Repeat(", ?", 18) + ")"
	sts = append(sts, stmt{`INSERT INTO tickets (id, number, subject, requester_address, requester_name,
		requester_lang, type, priority, status, assignee, grp, support_address, channel, linked_to, created, updated,
		status_since, first_response, solved, closed)` + override + ` VALUES ` + strings.TrimSuffix(strings.Repeat(ticketRow+", ", len(items)), ", "), targs})
	if np > 0 {
		sts = append(sts, stmt{`INSERT INTO participants (ticket_id, address, name, lang) VALUES ` + values(np, 4), pargs})
	}
	sts = append(sts, stmt{`INSERT INTO events (ticket_id, time, actor, kind, from_value, to_value, reason) VALUES ` +
		values(len(items), 7), eargs})
	if nm > 0 {
		sts = append(sts, stmt{`INSERT INTO messages (id, ticket_id, time, author_role, author_address,
			author_name, visibility, text, html, message_id)` + override + ` VALUES ` + values(nm, 10), margs})
	}
	// The inbound records.
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
	// Their timers (escalation of new tickets).
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
	// Their notifications.
	var ps []planned
	for _, it := range items {
		n := Notice{Ticket: it.t, Events: []ticket.Event{it.ev}, Quiet: !it.in.Notify,
			Actor: ticket.Actor{Role: ticket.RoleRequester, Address: it.t.Requester.Address, Name: it.t.Requester.Name}}
		if id, ok := msgOf[it.t.ID]; ok {
			a := it.in.Action
			n.Message = &ticket.Message{ID: id, TicketID: it.t.ID, Time: it.t.Created, Author: n.Actor, Visibility: ticket.Public,
				Text: strings.TrimSpace(a.Text), HTML: a.HTML, MessageID: a.MessageID}
		}
		ns, err := s.plan(ctx, q, n)
		if err != nil {
			return nil, nil, err
		}
		ps = append(ps, planned{it.t.ID, ns})
	}
	ost, anyNote, err := s.outboxStmt(ps, items[0].in.Received)
	if err != nil {
		return nil, nil, err
	}
	if anyNote {
		sts = append(sts, ost)
	}
	return sts, func() {
		if anyTimer {
			s.timersSet(firstTimer)
		}
		if anyNote {
			s.wake()
		}
	}, nil
}

// stmt is one SQL statement, with ? placeholders, and its arguments.
type stmt struct {
	query string
	args  []any
}

// maxParams is how many parameters PostgreSQL takes in one statement.
const maxParams = 65535

// execAll runs the statements in order. On PostgreSQL they go as one statement (oneStatement)
// when they fit in one.
func (s *Store) execAll(ctx context.Context, tx *sqlx.Tx, sts []stmt) error {
	if s.dialect == Postgres && len(sts) > 1 {
		if err := s.execOne(ctx, tx, sts, ""); !errors.Is(err, errTooManyParams) {
			return err
		}
	}
	for _, st := range sts {
		if _, err := tx.ExecContext(ctx, tx.Rebind(st.query), st.args...); err != nil {
			return fmt.Errorf("%s: %w", strings.Fields(st.query)[2], err)
		}
	}
	return nil
}

var errTooManyParams = errors.New("too many parameters for one statement")

// execOne runs the statements as one (PostgreSQL), each in a WITH clause but the last — one
// round trip, one parse, instead of one each, and atomic without a transaction; a foreign key
// to a row that an earlier clause inserts holds, as its check runs at the end of the
// statement. The first clause is named first, when a later one reads what it returns; the
// others s1, s2, ….
func (s *Store) execOne(ctx context.Context, q querier, sts []stmt, first string) error {
	n := 0
	for _, st := range sts {
		n += len(st.args)
	}
	if n > maxParams {
		return errTooManyParams
	}
	var b strings.Builder
	args := make([]any, 0, n)
	for i, st := range sts {
		switch {
		case i == len(sts)-1:
			b.WriteString(" " + st.query)
		default:
			if i == 0 {
				b.WriteString("WITH ")
			} else {
				b.WriteString(", ")
			}
			name := fmt.Sprintf("s%d", i)
			if i == 0 && first != "" {
				name = first
			}
			fmt.Fprintf(&b, "%s AS (%s)", name, st.query)
		}
		args = append(args, st.args...)
	}
	if _, err := q.ExecContext(ctx, q.Rebind(b.String()), args...); err != nil {
		return fmt.Errorf("bulk insert: %w", err)
	}
	return nil
}
