package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

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
	tables, done, err := s.bulkInserts(ctx, tx, items, ds)
	if err != nil {
		return err
	}
	for _, in := range tables {
		st := in.values()
		if _, err := tx.ExecContext(ctx, tx.Rebind(st.query), st.args...); err != nil {
			return fmt.Errorf("%s: %w", strings.Fields(in.into)[0], err)
		}
	}
	done(nil)
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
// delivery left it, and the counter's update holds only if none of the batch's messages is in
// quarantine. A message already stored (inbound's unique key), one in quarantine, or a counter
// that another writer moved makes the statement fail whole: it reports false, with
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
		if isNumberNull(err) || isStored(err) {
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
	ins, done, err := s.bulkInserts(ctx, q, items, ds)
	if err != nil {
		return nil, 0, err
	}
	next = first + int64(len(items))
	args, err := bulkArgs(ins)
	if err != nil {
		return nil, 0, err
	}
	st, err := s.prepared(ctx, &s.bulkStmt, bulkText())
	ids := map[string]int64{} // the outbox's, by Message-ID
	if err == nil {
		if tx, ok := q.(*sqlx.Tx); ok {
			st = tx.StmtxContext(ctx, st)
		}
		err = queryIDs(ctx, st, ids, append([]any{next, prev, keys}, args...)) // nil keys: NULL, no check
	}
	if err != nil {
		return nil, 0, fmt.Errorf("bulk insert: %w", err)
	}
	return func() { done(ids) }, next, nil
}

// queryIDs runs st and reads the id and Message-ID of each row it returns into ids.
func queryIDs(ctx context.Context, st *sqlx.Stmt, ids map[string]int64, args []any) error {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var mid string
		if err := rows.Scan(&id, &mid); err != nil {
			return err
		}
		ids[mid] = id
	}
	return rows.Err()
}

// isNumberNull reports whether err is a ticket inserted without a number: the counter's
// update in bulkWrite did not hold.
func isNumberNull(err error) bool {
	var pqe *pq.Error
	return err != nil && errors.As(err, &pqe) && pqe.Code == "23502" && pqe.Column == "number"
}

// isStored reports whether err is a message inserted into inbound twice: the batch holds a
// message already stored.
func isStored(err error) bool {
	var pqe *pq.Error
	return err != nil && errors.As(err, &pqe) && pqe.Code == "23505" && pqe.Constraint == "inbound_dedup_key"
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

// table is where an insert writes: the table and its columns, the columns' PostgreSQL types
// (pgTypes; "number" for the ticket number that the bulk statement's counter update gives),
// and what follows the rows.
type table struct {
	into, types, tail string
	ids               bool // the rows give their ids: PostgreSQL's identity column must be told
}

// The tables of a bulk delivery, in the order it writes them.
var (
	blobsTable   = &table{into: "blobs (sha256, size, data)", types: "text int8 bytea", tail: " ON CONFLICT (sha256) DO NOTHING"}
	ticketsTable = &table{into: `tickets (id, number, subject, requester_address, requester_name, requester_lang, type, priority,
		status, assignee, grp, support_address, channel, linked_to, created, updated, status_since, first_response, solved, closed)`,
		types: "int8 number text text text text text text text text text text text int8 timestamptz timestamptz timestamptz timestamptz timestamptz timestamptz",
		ids:   true}
	participantsTable = &table{into: "participants (ticket_id, address, name, lang)", types: "int8 text text text"}
	eventsTable       = &table{into: "events (ticket_id, time, actor, kind, from_value, to_value, reason)", types: "int8 timestamptz text text text text text"}
	messagesTable     = &table{into: "messages (id, ticket_id, time, author_role, author_address, author_name, visibility, text, html, message_id)",
		types: "int8 int8 timestamptz text text text text text text text", ids: true}
	inboundTable = &table{into: "inbound (received, source, dedup, message_id, raw_sha256, size, kind, thread_by, notify, ticket_id, message)",
		types: "timestamptz text text text text int8 text text bool int8 int8"}
	timersTable = &table{into: "timers (ticket_id, kind, due)", types: "int8 text timestamptz"}
	outboxTable = &table{into: `outbox (created, ticket_id, kind, recipient, recipient_name, role, lang, message, data, message_id,
		staff, next_attempt, retry_from, held, claimed_until, claimed_by)`,
		types: "timestamptz int8 text text text text text int8 text text bool timestamptz timestamptz bool timestamptz text"}

	bulkTables = []*table{blobsTable, ticketsTable, participantsTable, eventsTable, messagesTable, inboundTable, timersTable, outboxTable}
)

// insert is the rows that a delivery writes into one table, row after row.
type insert struct {
	*table
	args []any
}

// values is the insert as one statement with a row of placeholders per row (the one-at-a-time
// paths, and SQLite, which has no identity columns to override).
func (in insert) values() stmt {
	n := len(strings.Fields(in.types))
	return stmt{"INSERT INTO " + in.into + " VALUES " + values(len(in.args)/n, n) + in.tail, in.args}
}

// bulkText is the bulk delivery's statement on PostgreSQL: the counter's update ($1 the new
// value, $2 the one it must have, $3 the dedup keys none of which may be in quarantine, or
// NULL), then an insert into each of bulkTables, each a WITH clause but the last, its rows taken
// from one array a column (unnest). Its text does not depend on the batch, so it is prepared
// and planned once — with a row of placeholders a row, each batch size was a statement of its
// own, parsed and planned at every batch. One round trip, atomic without a transaction; a
// foreign key to a row that an earlier clause inserts holds, as its check runs at the end of
// the statement. A ticket's number is the one its row carries if the update held, else NULL,
// which the table refuses: then nothing is written. A message already stored is refused by
// inbound's unique dedup key, which the insert checks anyway (a query for it, planned once,
// was a sequential scan when its first run met a small table).
var bulkText = sync.OnceValue(func() string {
	var b strings.Builder
	b.WriteString(`WITH c AS (UPDATE counters SET next = $1 WHERE name = 'ticket' AND next = $2
		AND ($3::text[] IS NULL OR NOT EXISTS (SELECT 1 FROM quarantine WHERE dedup = ANY($3)))
		RETURNING next)`)
	param := 3
	for i, t := range bulkTables {
		if i == len(bulkTables)-1 {
			b.WriteString("\n")
		} else {
			fmt.Fprintf(&b, ",\ns%d AS (", i)
		}
		var sel, from, names []string
		for j, typ := range strings.Fields(t.types) {
			names = append(names, fmt.Sprintf("c%d", j))
			if typ == "number" {
				sel = append(sel, fmt.Sprintf("(SELECT u.c%d FROM c)", j))
				typ = "int8"
			} else {
				sel = append(sel, fmt.Sprintf("u.c%d", j))
			}
			param++
			from = append(from, fmt.Sprintf("$%d::%s[]", param, typ))
		}
		override := ""
		if t.ids {
			override = " OVERRIDING SYSTEM VALUE"
		}
		fmt.Fprintf(&b, "INSERT INTO %s%s SELECT %s FROM unnest(%s) AS u(%s)%s", t.into, override, strings.Join(sel, ", "),
			strings.Join(from, ", "), strings.Join(names, ", "), t.tail)
		if i < len(bulkTables)-1 {
			b.WriteString(")")
		}
	}
	b.WriteString(" RETURNING id, message_id") // the outbox's: the handoff needs the ids
	return b.String()
})

// bulkArgs are bulkText's arguments after the first three: each column of each insert as an
// array. ins must be an insert into each of bulkTables, in order.
func bulkArgs(ins []insert) ([]any, error) {
	if len(ins) != len(bulkTables) {
		return nil, fmt.Errorf("%d inserts for the %d tables of the bulk statement", len(ins), len(bulkTables))
	}
	var args []any
	for i, in := range ins {
		if in.table != bulkTables[i] {
			return nil, fmt.Errorf("insert %d is into %s, not %s", i, in.into, bulkTables[i].into)
		}
		types := strings.Fields(in.types)
		col := make([]any, 0, len(in.args)/len(types))
		for j, typ := range types {
			col = col[:0]
			for r := j; r < len(in.args); r += len(types) {
				col = append(col, in.args[r])
			}
			if typ == "number" {
				typ = "int8"
			}
			a, err := pgArray(typ, col)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", strings.Fields(in.into)[0], err)
			}
			args = append(args, a)
		}
	}
	return args, nil
}

// bulkInserts returns the inserts of a batch of new tickets whose ids and numbers are set, and
// what to do once they are committed, given the ids of the outbox rows by Message-ID (PostgreSQL;
// nil otherwise). It sets the results in ds. On PostgreSQL every table has its insert, even
// with no rows, so that the statement's text stays the same.
func (s *Store) bulkInserts(ctx context.Context, q querier, items []*bulkItem, ds []ticket.Delivered) ([]insert, func(ids map[string]int64), error) {
	var ins []insert
	add := func(in insert) {
		if len(in.args) > 0 || s.dialect == Postgres {
			ins = append(ins, in)
		}
	}
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
	add(insert{blobsTable, blobArgs})
	// The tickets, their participants, creation events and first messages.
	var targs, pargs, eargs, margs []any
	msgOf := map[int64]int64{}
	for _, it := range items {
		t := &it.t
		targs = append(targs, t.ID, t.Number, t.Subject, t.Requester.Address, t.Requester.Name, string(t.Requester.Lang), t.Type,
			string(t.Priority), string(t.Status), t.Assignee, t.Group, t.SupportAddress, string(t.Channel), nil,
			s.tv(t.Created), s.tv(t.Updated), s.tv(t.StatusSince), nil, nil, nil)
		for _, pp := range t.Participants {
			pargs = append(pargs, t.ID, pp.Address, pp.Name, string(pp.Lang))
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
		}
	}
	add(insert{ticketsTable, targs})
	add(insert{participantsTable, pargs})
	add(insert{eventsTable, eargs})
	add(insert{messagesTable, margs})
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
	add(insert{inboundTable, iargs})
	// Their timers (escalation of new tickets).
	timers := map[int64][]ticket.Timer{}
	for _, it := range items {
		if ts, ok := s.timersOf(it.t); ok && len(ts) > 0 {
			timers[it.t.ID] = ts
		}
	}
	tin, firstTimer := s.timersInsert(timers)
	add(tin)
	// Their notifications, handed to this process's sender if it takes them.
	now := items[0].in.Received
	by, until := "", time.Time{}
	if s.dialect == Postgres {
		by, until = s.handing(now)
	}
	var ps []planned
	var hs []Handed
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
		if by != "" {
			hs = append(hs, s.handedOf(it.t, n.Message, ns, now, until)...)
		}
	}
	oin, err := s.outboxInsert(ps, now, by, until)
	if err != nil {
		return nil, nil, err
	}
	add(oin)
	anyTimer, anyNote := len(tin.args) > 0, len(oin.args) > 0
	return ins, func(ids map[string]int64) {
		if anyTimer {
			s.timersSet(firstTimer)
		}
		switch {
		case anyNote && by != "":
			s.queueHanded(by, hs, ids)
			s.wakeHanded()
		case anyNote:
			s.wake()
		}
	}, nil
}

// stmt is one SQL statement, with ? placeholders, and its arguments.
type stmt struct {
	query string
	args  []any
}
