package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"guichet/ticket"
)

// Notice is a change about to be committed, as the notification planner sees it.
type Notice struct {
	Ticket   ticket.Ticket    // after the change, with its participants
	Events   []ticket.Event   // what the change recorded
	Message  *ticket.Message  // the message it added (ID set), if any
	Actor    ticket.Actor     // who made it
	Quiet    bool             // it answers mail that must not be answered (auto-reply, list) or that the requester has (our Sent folder)
	Agents   []Agent          // the registered agents
	Failures []Failure        // delivery failures to tell agents about
	Solution int64            // the waiting solution's message, when the change proposed one
	Timer    ticket.TimerKind // a timed rule fired: remind (the requester) or escalate (to the agents)
}

// Failure is a notification that could not be delivered.
type Failure struct {
	Address    string
	Status     string
	Diagnostic string
	Kind       string // the failed notification's kind, "" when a bounce did not say
}

// Notification is one mail the planner wants written into the outbox.
type Notification struct {
	Kind      string
	To        ticket.Person
	Role      ticket.Role
	Message   int64             // the message it carries, 0 for none
	Staff     bool              // a staff reply: never held back by the rate limit
	Data      map[string]string // what the templates need besides the ticket and the message
	MessageID string            // its Message-ID, without angle brackets
}

// Planner decides who is told about a change: the who-gets-what table. It must be pure.
type Planner func(Notice) []Notification

// SetPlanner installs the planner that every change consults, inside its own transaction.
// Without one, changes write no notifications.
func (s *Store) SetPlanner(p Planner) {
	s.mu.Lock()
	s.planner = p
	s.mu.Unlock()
}

type quietKey struct{}

// quiet marks ctx: the changes made under it answer mail that must not be answered.
func quiet(ctx context.Context) context.Context { return context.WithValue(ctx, quietKey{}, true) }

// notify plans the notifications of a change and writes them in tx.
func (s *Store) notify(ctx context.Context, tx *sqlx.Tx, n Notice, now time.Time) error {
	if n.Ticket.ID == 0 {
		return nil
	}
	ns, err := s.plan(ctx, tx, n)
	if err != nil {
		return err
	}
	return s.insertOutbox(ctx, tx, []planned{{n.Ticket.ID, ns}}, now)
}

// plan returns the planner's notifications for n, or nil without a planner. It completes the
// notice: quiet under a quiet ctx, the solution when the change proposed one, the agents.
func (s *Store) plan(ctx context.Context, tx querier, n Notice) ([]Notification, error) {
	s.mu.Lock()
	plan := s.planner
	s.mu.Unlock()
	if plan == nil {
		return nil, nil
	}
	n.Quiet = n.Quiet || ctx.Value(quietKey{}) != nil
	if n.Solution == 0 && n.Message != nil {
		for _, e := range n.Events {
			if e.Kind == ticket.EventSolutionProposed {
				n.Solution = n.Message.ID
			}
		}
	}
	agents, err := s.agentList(ctx, tx)
	if err != nil {
		return nil, err
	}
	n.Agents = agents
	return plan(n), nil
}

// planned are the notifications of one ticket.
type planned struct {
	ticketID int64
	ns       []Notification
}

func (s *Store) insertOutbox(ctx context.Context, tx *sqlx.Tx, ps []planned, now time.Time) error {
	in, err := s.outboxInsert(ps, now, "", time.Time{})
	if err != nil || len(in.args) == 0 {
		return err
	}
	st := in.values()
	if _, err := tx.ExecContext(ctx, tx.Rebind(st.query), st.args...); err != nil {
		return fmt.Errorf("insert outbox: %w", err)
	}
	s.wake()
	return nil
}

// outboxInsert is the insert of these notifications, without rows when there are none; with
// by, they are claimed by that sender until then.
func (s *Store) outboxInsert(ps []planned, now time.Time, by string, until time.Time) (insert, error) {
	var args []any
	for _, p := range ps {
		for _, n := range p.ns {
			if err := s.outboxArgs(&args, p.ticketID, n, now); err != nil {
				return insert{}, err
			}
			args = append(args, s.tv(until), by)
		}
	}
	return insert{outboxTable, args}, nil
}

func (s *Store) outboxArgs(args *[]any, ticketID int64, n Notification, now time.Time) error {
	{
		data, err := json.Marshal(n.Data)
		if err != nil {
			return err
		}
		if n.Data == nil {
			data = []byte("{}")
		}
		var msg any
		if n.Message != 0 {
			msg = n.Message
		}
		lang := n.To.Lang
		if lang == "" {
			lang = ticket.English
		}
		*args = append(*args, s.tv(now), ticketID, n.Kind, ticket.NormalizeAddress(n.To.Address), n.To.Name, string(n.Role),
			string(lang), msg, string(data), n.MessageID, n.Staff, s.tv(now), s.tv(now), false)
	}
	return nil
}

// Outboxed returns a channel that receives a value after this process writes notifications, so
// that the sender does not wait for its next poll. Other processes' rows are found by polling.
func (s *Store) Outboxed() <-chan struct{} { return s.outboxed }

// Unclaimed reports whether this process wrote notifications that are not handed to its sender
// (HandOff) since the last call: a sender that has handed ones to send claims those too.
func (s *Store) Unclaimed() bool { return s.unclaimed.Swap(false) }

// wake tells the sender about notifications written for it to claim.
func (s *Store) wake() {
	s.unclaimed.Store(true)
	s.wakeHanded()
}

// wakeHanded tells the sender about notifications handed to it.
func (s *Store) wakeHanded() {
	select {
	case s.outboxed <- struct{}{}:
	default:
	}
}

// agentList returns the registered agents, cached for a few seconds: every change consults it.
func (s *Store) agentList(ctx context.Context, q querier) ([]Agent, error) {
	list, _, err := s.agentCache(ctx, q)
	return list, err
}

// agentSet returns the registered agents' addresses, from the same cache.
func (s *Store) agentSet(ctx context.Context) (map[string]bool, error) {
	_, set, err := s.agentCache(ctx, s.db)
	return set, err
}

// agentCache returns the agents, as a list and as a set of addresses, read at most every 2 s.
func (s *Store) agentCache(ctx context.Context, q querier) ([]Agent, map[string]bool, error) {
	s.mu.Lock()
	if time.Since(s.agentsAt) < 2*time.Second {
		list, set := s.agents, s.agentByAddr
		s.mu.Unlock()
		return list, set, nil
	}
	s.mu.Unlock()
	var rows []Agent
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT address, name FROM agents ORDER BY address`); err != nil {
		return nil, nil, fmt.Errorf("agents: %w", err)
	}
	set := make(map[string]bool, len(rows))
	for _, a := range rows {
		set[a.Address] = true
	}
	s.mu.Lock()
	s.agents, s.agentByAddr, s.agentsAt = rows, set, time.Now()
	s.mu.Unlock()
	return rows, set, nil
}

func (s *Store) forgetAgents() {
	s.mu.Lock()
	s.agentsAt = time.Time{}
	s.mu.Unlock()
}

// Outbox states.
const (
	OutboxPending    = "pending"
	OutboxSent       = "sent"
	OutboxFailed     = "failed"
	OutboxMerged     = "merged"
	OutboxSuppressed = "suppressed"
)

// OutboxRow is one notification in the outbox.
type OutboxRow struct {
	ID            int64             `json:"id"`
	Created       time.Time         `json:"created"`
	TicketID      int64             `json:"-"`
	Number        int64             `json:"ticket"`
	Kind          string            `json:"kind"`
	Recipient     string            `json:"recipient"`
	RecipientName string            `json:"recipient_name,omitempty"`
	Role          ticket.Role       `json:"role"`
	Lang          ticket.Lang       `json:"lang"`
	Message       int64             `json:"message,omitempty"`
	Data          map[string]string `json:"data,omitempty"`
	MessageID     string            `json:"message_id"`
	Staff         bool              `json:"staff,omitempty"`
	State         string            `json:"state"`
	Attempts      int               `json:"attempts"`
	RetryFrom     time.Time         `json:"-"`
	NextAttempt   time.Time         `json:"next_attempt"`
	Held          bool              `json:"held,omitempty"`
	LastError     string            `json:"last_error,omitempty"`
	Sent          time.Time         `json:"sent,omitzero"`
	MergedInto    int64             `json:"merged_into,omitempty"`
}

const outboxColumns = `o.id, o.created, o.ticket_id, t.number, o.kind, o.recipient, o.recipient_name, o.role, o.lang,
	o.message, o.data, o.message_id, o.staff, o.state, o.attempts, o.retry_from, o.next_attempt, o.held, o.last_error,
	o.sent, o.merged_into`

type outboxRow struct {
	ID            int64         `db:"id"`
	Created       dbTime        `db:"created"`
	TicketID      sql.NullInt64 `db:"ticket_id"`
	Number        sql.NullInt64 `db:"number"`
	Kind          string        `db:"kind"`
	Recipient     string        `db:"recipient"`
	RecipientName string        `db:"recipient_name"`
	Role          string        `db:"role"`
	Lang          string        `db:"lang"`
	Message       sql.NullInt64 `db:"message"`
	Data          string        `db:"data"`
	MessageID     string        `db:"message_id"`
	Staff         bool          `db:"staff"`
	State         string        `db:"state"`
	Attempts      int           `db:"attempts"`
	RetryFrom     dbTime        `db:"retry_from"`
	NextAttempt   dbTime        `db:"next_attempt"`
	Held          bool          `db:"held"`
	LastError     string        `db:"last_error"`
	Sent          dbTime        `db:"sent"`
	MergedInto    sql.NullInt64 `db:"merged_into"`
}

func (r outboxRow) row() OutboxRow {
	o := OutboxRow{ID: r.ID, Created: r.Created.Time, TicketID: r.TicketID.Int64, Number: r.Number.Int64, Kind: r.Kind,
		Recipient: r.Recipient, RecipientName: r.RecipientName, Role: ticket.Role(r.Role), Lang: ticket.Lang(r.Lang),
		Message: r.Message.Int64, MessageID: r.MessageID, Staff: r.Staff, State: r.State, Attempts: r.Attempts,
		RetryFrom: r.RetryFrom.Time, NextAttempt: r.NextAttempt.Time, Held: r.Held, LastError: r.LastError,
		Sent: r.Sent.Time, MergedInto: r.MergedInto.Int64}
	json.Unmarshal([]byte(r.Data), &o.Data)
	return o
}

func (s *Store) outboxRows(ctx context.Context, q querier, where string, args ...any) ([]OutboxRow, error) {
	var rows []outboxRow
	if err := sqlx.SelectContext(ctx, q, &rows, q.Rebind(`SELECT `+outboxColumns+` FROM outbox o
		LEFT JOIN tickets t ON t.id = o.ticket_id `+where), args...); err != nil {
		return nil, err
	}
	return outboxRowsOf(rows), nil
}

func outboxRowsOf(rows []outboxRow) []OutboxRow {
	out := make([]OutboxRow, len(rows))
	for i, r := range rows {
		out[i] = r.row()
	}
	return out
}

// ClaimOutbox takes up to limit notifications that are due, for worker, until now+lease: another
// sender (in this process or another instance) does not take them before the lease ends.
// On PostgreSQL the rows are picked with FOR UPDATE SKIP LOCKED, so concurrent senders never
// claim the same row; SQLite's write lock serialises the claims.
func (s *Store) ClaimOutbox(ctx context.Context, worker string, now time.Time, lease time.Duration, limit int) ([]OutboxRow, error) {
	if s.dialect == Postgres {
		return s.claimPostgres(ctx, worker, now, lease, limit)
	}
	var claimed []OutboxRow
	err := s.relaxedTx(ctx, "claim outbox", func(tx *sqlx.Tx) error {
		var ids []int64
		if err := tx.SelectContext(ctx, &ids, tx.Rebind(`SELECT id FROM outbox WHERE state = 'pending' AND next_attempt <= ?
			AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY next_attempt, id LIMIT ?`),
			s.tv(now), s.tv(now), limit); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		q, args, err := sqlx.In(`UPDATE outbox SET claimed_until = ?, claimed_by = ? WHERE id IN (?)`, s.tv(now.Add(lease)), worker, ids)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), args...); err != nil {
			return err
		}
		q, args, err = sqlx.In(`WHERE o.id IN (?) ORDER BY o.id`, ids)
		if err != nil {
			return err
		}
		claimed, err = s.outboxRows(ctx, tx, q, args...)
		return err
	})
	return claimed, err
}

// claimQuery picks the due rows (FOR UPDATE SKIP LOCKED: concurrent senders never claim the
// same row), claims them and returns them with their tickets' numbers, in one statement, which
// is atomic on its own — three statements in a transaction took five round trips.
const claimQuery = `WITH picked AS (
		SELECT id FROM outbox WHERE state = 'pending' AND next_attempt <= $1 AND (claimed_until IS NULL OR claimed_until < $1)
		ORDER BY next_attempt, id LIMIT $2 FOR UPDATE SKIP LOCKED),
	o AS (UPDATE outbox SET claimed_until = $3, claimed_by = $4 FROM picked WHERE outbox.id = picked.id RETURNING outbox.*)
	SELECT ` + outboxColumns + ` FROM o LEFT JOIN tickets t ON t.id = o.ticket_id ORDER BY o.id`

func (s *Store) claimPostgres(ctx context.Context, worker string, now time.Time, lease time.Duration, limit int) ([]OutboxRow, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	st, err := s.prepared(ctx, &s.claim, claimQuery)
	var rows []outboxRow
	if err == nil {
		err = st.SelectContext(ctx, &rows, now, limit, now.Add(lease), worker)
	}
	if err != nil {
		return nil, fmt.Errorf("store: claim outbox: %w", s.classify(err))
	}
	return outboxRowsOf(rows), nil
}

// OutboxDone records the outcome of one claimed notification. A row whose lease another
// worker took over is left alone.
type OutboxDone struct {
	ID     int64
	Worker string
	State  string    // OutboxSent, OutboxPending (try again at Next), OutboxFailed, OutboxSuppressed, or OutboxMerged
	Next   time.Time // OutboxPending
	Held   bool      // OutboxPending: delayed by the rate limit
	Error  string
	Into   int64 // OutboxMerged
	Event  *ticket.Event
	// Failure, with a permanent failure, tells the agents (through the planner) and, when Bounced,
	// records the address as bouncing so that nothing more is sent to it until an agent clears it.
	Failure *Failure
	Bounced bool
}

// FinishOutbox records what became of claimed notifications, each with its event on its ticket.
func (s *Store) FinishOutbox(ctx context.Context, now time.Time, done ...OutboxDone) error {
	return s.relaxedTx(ctx, "finish outbox", func(tx *sqlx.Tx) error {
		// Plain successes, the common case, in one statement per worker.
		sent := map[string][]int64{}
		var rest []OutboxDone
		for _, d := range done {
			if d.State == OutboxSent && d.Event == nil && d.Failure == nil && d.Into == 0 {
				sent[d.Worker] = append(sent[d.Worker], d.ID)
			} else {
				rest = append(rest, d)
			}
		}
		for worker, ids := range sent {
			q, args, err := sqlx.In(`UPDATE outbox SET state = 'sent', sent = ?, held = ?, last_error = '', claimed_until = NULL,
				claimed_by = '' WHERE id IN (?) AND claimed_by = ?`, s.tv(now), false, ids, worker)
			if err != nil {
				return err
			}
			r, err := tx.ExecContext(ctx, tx.Rebind(q), args...)
			if err != nil {
				return fmt.Errorf("outbox: %w", err)
			}
			if n, _ := r.RowsAffected(); int(n) != len(ids) {
				s.log.Warn("outbox rows were taken over by another sender", "sent", len(ids), "recorded", n, "worker", worker)
			}
		}
		for _, d := range rest {
			var sent, into any
			if d.State == OutboxSent {
				sent = s.tv(now)
			}
			if d.Into != 0 {
				into = d.Into
			}
			next := d.Next
			if next.IsZero() {
				next = now
			}
			r, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE outbox SET state = ?, next_attempt = ?, held = ?, last_error = ?,
				sent = ?, merged_into = ?, claimed_until = NULL, claimed_by = '',
				attempts = attempts + (CASE WHEN ? THEN 1 ELSE 0 END)
				WHERE id = ? AND claimed_by = ?`),
				d.State, s.tv(next), d.Held, clip(d.Error, 2000), sent, into, d.Error != "" && !d.Held, d.ID, d.Worker)
			if err != nil {
				return fmt.Errorf("outbox %d: %w", d.ID, err)
			}
			if n, _ := r.RowsAffected(); n == 0 {
				s.log.Warn("outbox row was taken over by another sender", "id", d.ID, "worker", d.Worker)
				continue
			}
			if d.Event == nil && d.Failure == nil {
				continue
			}
			var ticketID sql.NullInt64
			if err := tx.GetContext(ctx, &ticketID, tx.Rebind(`SELECT ticket_id FROM outbox WHERE id = ?`), d.ID); err != nil {
				return err
			}
			if d.Event != nil && ticketID.Valid {
				if err := s.insertEvents(ctx, tx, ticketID.Int64, []ticket.Event{*d.Event}); err != nil {
					return err
				}
			}
			if d.Failure == nil {
				continue
			}
			if d.Bounced {
				if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO delivery_failures (time, address, status, permanent,
					diagnostic, ticket_id) VALUES (?, ?, ?, ?, ?, ?)`), s.tv(now), d.Failure.Address, d.Failure.Status, true,
					clip(d.Failure.Diagnostic, 1000), ticketID); err != nil {
					return fmt.Errorf("insert delivery failure: %w", err)
				}
			}
			if ticketID.Valid {
				if err := s.notifyFailure(ctx, tx, ticketID.Int64, *d.Failure, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// notifyFailure tells the planner about a delivery failure on a ticket.
func (s *Store) notifyFailure(ctx context.Context, tx *sqlx.Tx, ticketID int64, f Failure, now time.Time) error {
	var number int64
	if err := tx.GetContext(ctx, &number, tx.Rebind(`SELECT number FROM tickets WHERE id = ?`), ticketID); err != nil {
		return err
	}
	t, err := s.loadTicket(ctx, tx, number, "")
	if err != nil {
		return err
	}
	return s.notify(ctx, tx, Notice{Ticket: t, Actor: ticket.System, Failures: []Failure{f}}, now)
}

// HeldOutbox returns the other pending notifications held for the same recipient and ticket,
// claiming them for worker so that they go merged into one.
func (s *Store) HeldOutbox(ctx context.Context, worker string, r OutboxRow, now time.Time, lease time.Duration) ([]OutboxRow, error) {
	var rows []OutboxRow
	err := s.tx(ctx, "held outbox", func(tx *sqlx.Tx) error {
		var err error
		rows, err = s.outboxRows(ctx, tx, `WHERE o.state = 'pending' AND o.held = ? AND o.recipient = ? AND o.ticket_id = ?
			AND o.id <> ? AND (o.claimed_until IS NULL OR o.claimed_until < ? OR o.claimed_by = ?) ORDER BY o.id`,
			true, r.Recipient, r.TicketID, r.ID, s.tv(now), worker)
		if err != nil || len(rows) == 0 {
			return err
		}
		ids := make([]int64, len(rows))
		for i, x := range rows {
			ids[i] = x.ID
		}
		q, args, err := sqlx.In(`UPDATE outbox SET claimed_until = ?, claimed_by = ? WHERE id IN (?)`, s.tv(now.Add(lease)), worker, ids)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(q), args...)
		return err
	})
	return rows, err
}

// OutboxByID returns one notification.
func (s *Store) OutboxByID(ctx context.Context, id int64) (OutboxRow, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	rows, err := s.outboxRows(ctx, s.db, `WHERE o.id = ?`, id)
	if err != nil {
		return OutboxRow{}, fmt.Errorf("store: outbox %d: %w", id, s.classify(err))
	}
	if len(rows) == 0 {
		return OutboxRow{}, fmt.Errorf("store: outbox %d: %w", id, ErrNotFound)
	}
	return rows[0], nil
}

// OutboxByMessageID returns the notification sent with one of these Message-IDs (latest first).
func (s *Store) OutboxByMessageID(ctx context.Context, ids []string) (OutboxRow, bool, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	for i := len(ids) - 1; i >= 0; i-- {
		id := strings.Trim(ids[i], "<> ")
		if id == "" {
			continue
		}
		rows, err := s.outboxRows(ctx, s.db, `WHERE o.message_id = ?`, id)
		if err != nil {
			return OutboxRow{}, false, fmt.Errorf("store: outbox by Message-ID: %w", s.classify(err))
		}
		if len(rows) > 0 {
			return rows[0], true, nil
		}
	}
	return OutboxRow{}, false, nil
}

// OutboxList lists notifications, newest first: all, or only the failed ones.
func (s *Store) OutboxList(ctx context.Context, failedOnly bool, limit int) ([]OutboxRow, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	where := ``
	if failedOnly {
		where = `WHERE o.state = 'failed' `
	}
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.outboxRows(ctx, s.db, where+fmt.Sprintf(`ORDER BY o.id DESC LIMIT %d`, limit))
	if err != nil {
		return nil, fmt.Errorf("store: outbox: %w", s.classify(err))
	}
	return rows, nil
}

// RetryOutbox puts failed notifications back in the queue, due now, with a fresh retry period:
// one (id > 0) or all of them (id == 0). It returns how many.
func (s *Store) RetryOutbox(ctx context.Context, id int64, now time.Time) (int, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	q := `UPDATE outbox SET state = 'pending', next_attempt = ?, retry_from = ?, attempts = 0, claimed_until = NULL,
		claimed_by = '' WHERE state = 'failed'`
	args := []any{s.tv(now), s.tv(now)}
	if id > 0 {
		q += ` AND id = ?`
		args = append(args, id)
	}
	r, err := s.db.ExecContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		return 0, fmt.Errorf("store: retry outbox: %w", s.classify(err))
	}
	n, _ := r.RowsAffected()
	if n == 0 && id > 0 {
		if _, err := s.OutboxByID(ctx, id); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("store: outbox %d: %w: only a failed notification can be retried", id, ticket.ErrInvalid)
	}
	if n > 0 {
		s.wake()
	}
	return int(n), nil
}

// Bounced reports whether mail to address failed permanently and no agent cleared it since.
func (s *Store) Bounced(ctx context.Context, address string) (bool, error) {
	a := ticket.NormalizeAddress(address)
	m, err := s.BouncedAmong(ctx, []string{a})
	return m[a], err
}

// BouncedAddress is an address that no mail goes to.
type BouncedAddress struct {
	Address    string    `json:"address" db:"address"`
	Failures   int       `json:"failures" db:"failures"`
	Last       time.Time `json:"last" db:"-"`
	Status     string    `json:"status" db:"status"`
	Diagnostic string    `json:"diagnostic" db:"diagnostic"`
}

// BouncedAddresses lists the addresses blocked by a permanent failure.
func (s *Store) BouncedAddresses(ctx context.Context) ([]BouncedAddress, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var rows []struct {
		BouncedAddress
		Last dbTime `db:"last"`
	}
	err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT f.address, COUNT(*) AS failures, MAX(f.time) AS last,
		MAX(f.status) AS status, MAX(f.diagnostic) AS diagnostic
		FROM delivery_failures f WHERE f.permanent = ? AND f.cleared IS NULL GROUP BY f.address ORDER BY f.address`), true)
	if err != nil {
		return nil, fmt.Errorf("store: bounced addresses: %w", s.classify(err))
	}
	out := make([]BouncedAddress, len(rows))
	for i, r := range rows {
		out[i] = r.BouncedAddress
		out[i].Last = r.Last.Time
	}
	return out, nil
}

// ClearBounced lets mail go to address again.
func (s *Store) ClearBounced(ctx context.Context, address string, now time.Time) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	address = ticket.NormalizeAddress(address)
	r, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE delivery_failures SET cleared = ? WHERE address = ? AND cleared IS NULL AND permanent = ?`),
		s.tv(now), address, true)
	if err != nil {
		return fmt.Errorf("store: clear %s: %w", address, s.classify(err))
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("store: %s has no permanent delivery failure: %w", address, ErrNotFound)
	}
	return nil
}

// Solution returns the message that proposed the ticket's waiting solution, and whether one waits.
func (s *Store) Solution(ctx context.Context, t ticket.Ticket) (ticket.Message, bool, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	id, err := s.solutionID(ctx, s.db, t)
	if err != nil || id == 0 {
		return ticket.Message{}, false, err
	}
	ms, err := s.Messages(ctx, t.ID)
	if err != nil {
		return ticket.Message{}, false, err
	}
	for _, m := range ms {
		if m.ID == id {
			return m, true, nil
		}
	}
	return ticket.Message{}, false, nil
}

// solutionID finds the message that proposed the waiting solution: the one stored with the
// time the ticket was solved. 0 when the ticket is not solved.
func (s *Store) solutionID(ctx context.Context, q querier, t ticket.Ticket) (int64, error) {
	if t.Status != ticket.StatusSolved || t.Solved.IsZero() {
		return 0, nil
	}
	var id int64
	err := sqlx.GetContext(ctx, q, &id, q.Rebind(`SELECT id FROM messages WHERE ticket_id = ? AND time = ? AND author_role = 'agent'
		AND visibility = 'public' ORDER BY id DESC LIMIT 1`), t.ID, s.tv(t.Solved))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// useToken records a single-use link as used, in the transaction of the action it does.
func (s *Store) useToken(ctx context.Context, tx *sqlx.Tx, token string, now time.Time) error {
	sum := sha256.Sum256([]byte(token))
	_, err := tx.ExecContext(ctx, "SAVEPOINT use_token")
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, tx.Rebind(`INSERT INTO used_tokens (hash, used) VALUES (?, ?)`), hex.EncodeToString(sum[:]), s.tv(now))
	if isUniqueViolation(err) {
		tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT use_token")
		return fmt.Errorf("store: %w", ErrUsed)
	}
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "RELEASE SAVEPOINT use_token")
	return err
}

// TokenUsed reports whether a single-use link was used.
func (s *Store) TokenUsed(ctx context.Context, token string) (bool, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	sum := sha256.Sum256([]byte(token))
	var n int
	if err := s.db.GetContext(ctx, &n, s.db.Rebind(`SELECT COUNT(*) FROM used_tokens WHERE hash = ?`), hex.EncodeToString(sum[:])); err != nil {
		return false, fmt.Errorf("store: token: %w", s.classify(err))
	}
	return n > 0, nil
}

// NotificationKind returns the ticket and kind of the notification sent with one of these
// Message-IDs (latest first); kind "" when none was.
func (s *Store) NotificationKind(ctx context.Context, ids []string) (int64, string, error) {
	r, ok, err := s.OutboxByMessageID(ctx, ids)
	if err != nil || !ok {
		return 0, "", err
	}
	return r.Number, r.Kind, nil
}

// RateCount is how many notifications counted within a window, and the oldest of them.
type RateCount struct {
	N      int
	Oldest time.Time
}

// SentCounts is SentSince for many recipients and tickets at once: notifications sent to each
// recipient since a time, and changes notified on each ticket.
func (s *Store) SentCounts(ctx context.Context, recipients []string, ticketIDs []int64, since time.Time) (map[string]RateCount, map[int64]RateCount, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	byRcpt, byTicket := map[string]RateCount{}, map[int64]RateCount{}
	if len(recipients) > 0 {
		var rows []struct {
			Recipient string `db:"recipient"`
			N         int    `db:"n"`
			Oldest    dbTime `db:"oldest"`
		}
		q, args, err := sqlx.In(`SELECT recipient, COUNT(*) AS n, MIN(sent) AS oldest FROM outbox
			WHERE recipient IN (?) AND sent >= ? GROUP BY recipient`, recipients, s.tv(since))
		if err == nil {
			err = s.db.SelectContext(ctx, &rows, s.db.Rebind(q), args...)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("store: rate: %w", s.classify(err))
		}
		for _, r := range rows {
			byRcpt[r.Recipient] = RateCount{r.N, r.Oldest.Time}
		}
	}
	if len(ticketIDs) > 0 {
		var rows []struct {
			TicketID int64  `db:"ticket_id"`
			N        int    `db:"n"`
			Oldest   dbTime `db:"oldest"`
		}
		q, args, err := sqlx.In(`SELECT ticket_id, COUNT(DISTINCT created) AS n, MIN(sent) AS oldest FROM outbox
			WHERE ticket_id IN (?) AND sent >= ? GROUP BY ticket_id`, ticketIDs, s.tv(since))
		if err == nil {
			err = s.db.SelectContext(ctx, &rows, s.db.Rebind(q), args...)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("store: rate: %w", s.classify(err))
		}
		for _, r := range rows {
			byTicket[r.TicketID] = RateCount{r.N, r.Oldest.Time}
		}
	}
	return byRcpt, byTicket, nil
}

// BouncedAmong returns which of these addresses failed permanently and were not cleared.
func (s *Store) BouncedAmong(ctx context.Context, addresses []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(addresses) == 0 {
		return out, nil
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	q, args, err := sqlx.In(`SELECT DISTINCT address FROM delivery_failures WHERE address IN (?) AND permanent = ? AND cleared IS NULL`, addresses, true)
	var list []string
	if err == nil {
		err = s.db.SelectContext(ctx, &list, s.db.Rebind(q), args...)
	}
	if err != nil {
		return nil, fmt.Errorf("store: bounced: %w", s.classify(err))
	}
	for _, a := range list {
		out[a] = true
	}
	return out, nil
}

// NotificationTicket returns the ticket of the notification with this outbox id; 0 when none.
func (s *Store) NotificationTicket(ctx context.Context, outboxID int64) (int64, error) {
	r, err := s.OutboxByID(ctx, outboxID)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	return r.Number, err
}
