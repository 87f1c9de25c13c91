package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"guichet/ticket"
)

// Deliver records one received message and everything the pipeline decided for it, in one
// transaction: the raw message, then the new ticket or the follow-up with its message,
// commands and notes, the delivery failures a bounce reports, or the quarantine entry.
// A message already stored (same Dedup key) writes nothing and reports Duplicate.
// When the lifecycle refuses the message itself, it goes to quarantine with the reason, so
// that nothing is lost.
func (s *Store) Deliver(ctx context.Context, in *ticket.Inbound, p ticket.Policy) (ticket.Delivered, error) {
	if in.Dedup == "" {
		sum := sha256.Sum256(in.Raw)
		in.Dedup = "sha256:" + hex.EncodeToString(sum[:])
	}
	var d ticket.Delivered
	err := s.tx(ctx, "deliver", func(tx *sqlx.Tx) error {
		var err error
		d, err = s.deliver(ctx, tx, in, p)
		return err
	})
	if err == nil || !isDomain(err) || in.Quarantine != "" {
		return d, err
	}
	q := *in
	q.Quarantine = "the lifecycle refused it: " + err.Error()
	err = s.tx(ctx, "deliver to quarantine", func(tx *sqlx.Tx) error {
		var err error
		d, err = s.deliver(ctx, tx, &q, p)
		return err
	})
	return d, err
}

// DeliverBatch records several messages in one transaction — a group commit: messages that
// arrive together share one fsync. Each message runs under its own savepoint, so one that the
// lifecycle refuses goes to quarantine and one that fails otherwise is rolled back alone (its
// error in errs; the caller retries it) without touching the others. When the commit itself
// fails, every message gets that error: none is stored.
func (s *Store) DeliverBatch(ctx context.Context, ins []*ticket.Inbound, p ticket.Policy) (ds []ticket.Delivered, errs []error) {
	ds, errs = make([]ticket.Delivered, len(ins)), make([]error, len(ins))
	for _, in := range ins {
		if in.Dedup == "" {
			sum := sha256.Sum256(in.Raw)
			in.Dedup = "sha256:" + hex.EncodeToString(sum[:])
		}
	}
	simple := true // a lone plain new ticket too: the bulk path is 6 statements, the other 14
	for _, in := range ins {
		simple = simple && bulkable(in)
	}
	if simple {
		ok, err := s.deliverBulk(ctx, ins, p, ds)
		if ok {
			return ds, errs
		}
		if err != nil { // the database is not there: every message gets that error
			for i := range errs {
				errs[i] = err
			}
			return ds, errs
		}
	}
	err := s.tx(ctx, fmt.Sprintf("deliver %d messages", len(ins)), func(tx *sqlx.Tx) error {
		for i, in := range ins {
			d, err := s.deliverSavepoint(ctx, tx, in, p)
			if err != nil && isDomain(err) && in.Quarantine == "" {
				q := *in
				q.Quarantine = "the lifecycle refused it: " + err.Error()
				d, err = s.deliverSavepoint(ctx, tx, &q, p)
			}
			ds[i], errs[i] = d, err
		}
		return nil
	})
	if err != nil {
		for i := range errs {
			ds[i], errs[i] = ticket.Delivered{}, err
		}
	}
	for i, e := range errs {
		if e != nil && !errors.Is(e, ErrUnavailable) {
			errs[i] = fmt.Errorf("store: deliver: %w", s.classify(e))
		}
	}
	return ds, errs
}

// deliverSavepoint runs deliver inside a savepoint of tx, rolled back on error.
func (s *Store) deliverSavepoint(ctx context.Context, tx *sqlx.Tx, in *ticket.Inbound, p ticket.Policy) (ticket.Delivered, error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT deliver_one"); err != nil {
		return ticket.Delivered{}, err
	}
	d, err := s.deliver(ctx, tx, in, p)
	if err != nil {
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT deliver_one"); rerr != nil {
			return ticket.Delivered{}, rerr
		}
	}
	if _, rerr := tx.ExecContext(ctx, "RELEASE SAVEPOINT deliver_one"); rerr != nil {
		return ticket.Delivered{}, rerr
	}
	return d, err
}

func (s *Store) deliver(ctx context.Context, tx *sqlx.Tx, in *ticket.Inbound, p ticket.Policy) (ticket.Delivered, error) {
	var d ticket.Delivered
	if !in.Notify {
		ctx = quiet(ctx)
	}
	seen, err := s.seen(ctx, tx, in.Dedup)
	if err != nil || seen {
		d.Duplicate = seen
		return d, err
	}
	rawSHA, err := s.putBlob(ctx, tx, in.Raw)
	if err != nil {
		return d, err
	}
	if in.Quarantine != "" {
		err := tx.GetContext(ctx, &d.Quarantine, tx.Rebind(`INSERT INTO quarantine (received, source, dedup, reason, kind,
			message_id, sender, subject, raw_sha256, size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			s.tv(in.Received), in.Source, in.Dedup, in.Quarantine, in.Kind, in.MessageID, in.Sender, clip(in.Subject, 500), rawSHA, len(in.Raw))
		if err != nil {
			return d, fmt.Errorf("insert quarantine: %w", err)
		}
		return d, nil
	}
	var t ticket.Ticket
	var msgID int64
	switch {
	case in.Create != nil:
		t, msgID, err = s.deliverNew(ctx, tx, in, p)
		d.Created = true
	case in.Number != 0:
		t, msgID, d.FollowUp, err = s.deliverFollowUp(ctx, tx, in, p)
	}
	if err != nil {
		return d, err
	}
	d.Number = t.Number
	var ticketID any
	if t.ID != 0 {
		ticketID = t.ID
	}
	var message any
	if msgID != 0 {
		message = msgID
	}
	var inboundID int64
	if err := tx.GetContext(ctx, &inboundID, tx.Rebind(`INSERT INTO inbound (received, source, dedup, message_id, raw_sha256, size,
		kind, thread_by, notify, ticket_id, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		s.tv(in.Received), in.Source, in.Dedup, in.MessageID, rawSHA, len(in.Raw), in.Kind, in.ThreadBy, in.Notify, ticketID, message); err != nil {
		return d, fmt.Errorf("insert inbound: %w", err)
	}
	for _, b := range in.Bounces {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO delivery_failures (time, address, status, permanent, diagnostic,
			ticket_id, inbound_id) VALUES (?, ?, ?, ?, ?, ?, ?)`), s.tv(in.Received), ticket.NormalizeAddress(b.Recipient),
			b.Status, b.Permanent, clip(b.Diagnostic, 1000), ticketID, inboundID); err != nil {
			return d, fmt.Errorf("insert delivery failure: %w", err)
		}
		if t.ID != 0 {
			f := Failure{Address: ticket.NormalizeAddress(b.Recipient), Status: b.Status, Diagnostic: b.Diagnostic}
			if err := s.notify(ctx, tx, Notice{Ticket: t, Actor: ticket.System, Failures: []Failure{f}}, in.Received); err != nil {
				return d, err
			}
		}
	}
	return d, nil
}

// deliverNew opens the ticket an inbound message starts.
func (s *Store) deliverNew(ctx context.Context, tx *sqlx.Tx, in *ticket.Inbound, p ticket.Policy) (ticket.Ticket, int64, error) {
	opener := in.Actor
	if in.ForwardedBy.Address != "" {
		opener = in.ForwardedBy
	}
	if opener.Role == "" {
		opener.Role = ticket.RoleRequester
	}
	t, ev, err := ticket.Open(*in.Create, p, opener, in.Received)
	if err != nil {
		return t, 0, err
	}
	if in.ForwardedBy.Address != "" {
		ev.Reason = "forwarded by " + in.ForwardedBy.Address
	}
	if t, err = s.insertTicket(ctx, tx, t, ev); err != nil {
		return t, 0, err
	}
	author := ticket.Actor{Role: ticket.RoleRequester, Address: t.Requester.Address, Name: t.Requester.Name}
	var msgID int64
	var m *ticket.Message
	a := in.Action
	if strings.TrimSpace(a.Text) != "" || len(in.Files) > 0 || a.MessageID != "" {
		m = &ticket.Message{TicketID: t.ID, Time: t.Created, Author: author, Visibility: ticket.Public,
			Text: strings.TrimSpace(a.Text), HTML: a.HTML, MessageID: a.MessageID, Attachments: describe(in.Files)}
		if msgID, err = s.insertMessage(ctx, tx, m, in.Files); err != nil {
			return t, 0, err
		}
	}
	if err := s.notify(ctx, tx, Notice{Ticket: t, Events: []ticket.Event{ev}, Message: m, Actor: opener}, in.Received); err != nil {
		return t, 0, err
	}
	by := opener
	if by.Role == ticket.RoleRequester {
		by = author
	}
	t, err = s.runCommands(ctx, tx, t, in, by, p)
	return t, msgID, err
}

// deliverFollowUp adds an inbound message to its ticket.
func (s *Store) deliverFollowUp(ctx context.Context, tx *sqlx.Tx, in *ticket.Inbound, p ticket.Policy) (ticket.Ticket, int64, int64, error) {
	t, err := s.loadTicket(ctx, tx, in.Number, s.forUpdate())
	if err != nil {
		return t, 0, 0, err
	}
	by, err := s.resolveActor(ctx, tx, t, in.Actor)
	if err != nil {
		return t, 0, 0, err
	}
	if by.Role == ticket.RoleStranger && in.AddParticipant && ticket.ValidAddress(by.Address) {
		t.Participants = append(t.Participants, ticket.Person{Address: by.Address, Name: by.Name, Lang: t.Requester.Lang})
		if err := s.saveParticipants(ctx, tx, t); err != nil {
			return t, 0, 0, err
		}
		ev := ticket.Event{Time: in.Received.UTC(), Actor: by.Address, Kind: ticket.EventParticipantAdded, To: by.Address,
			Reason: "wrote through " + in.ThreadBy}
		if err := s.insertEvents(ctx, tx, t.ID, []ticket.Event{ev}); err != nil {
			return t, 0, 0, err
		}
		by.Role = ticket.RoleParticipant
	}
	if err := s.checkNewMessageID(ctx, tx, in.Action.MessageID); err != nil {
		return t, 0, 0, err
	}
	a := in.Action
	a.Attachments = append(a.Attachments, describe(in.Files)...)
	res, err := s.applyLocked(ctx, tx, t, a, by, in.Files, in.Received, p)
	if err != nil {
		return t, 0, 0, err
	}
	var msgID, followUp int64
	if res.Message != nil {
		msgID = res.Message.ID
	}
	if res.FollowUp != nil {
		followUp = res.FollowUp.Number
		t = *res.FollowUp
	} else {
		t = res.Ticket
	}
	t, err = s.runCommands(ctx, tx, t, in, by, p)
	return t, msgID, followUp, err
}

// runCommands applies the message's commands and notes to t, which tx holds.
// A command the lifecycle refuses does not fail the delivery: it becomes a note saying why.
func (s *Store) runCommands(ctx context.Context, tx *sqlx.Tx, t ticket.Ticket, in *ticket.Inbound, by ticket.Actor, p ticket.Policy) (ticket.Ticket, error) {
	notes := append([]string(nil), in.Notes...)
	for _, a := range in.Commands {
		res, err := s.applyLocked(ctx, tx, t, a, by, nil, in.Received, p)
		switch {
		case err == nil:
			t = res.Ticket
		case isDomain(err):
			notes = append(notes, fmt.Sprintf("command %s from %s not applied: %v", a.Kind, by.ID(), err))
		default:
			return t, err
		}
	}
	for _, n := range notes {
		res, err := s.applyLocked(ctx, tx, t, ticket.Action{Kind: ticket.ActMessage, Visibility: ticket.Internal, Text: n}, ticket.System, nil, in.Received, p)
		if err != nil {
			return t, err
		}
		t = res.Ticket
	}
	return t, nil
}

func (s *Store) seen(ctx context.Context, q querier, dedup string) (bool, error) {
	var n int
	err := sqlxGet(ctx, q, &n, `SELECT (SELECT COUNT(*) FROM inbound WHERE dedup = ?) + (SELECT COUNT(*) FROM quarantine WHERE dedup = ?)`, dedup, dedup)
	return n > 0, err
}

// Seen reports whether a message with this dedup key is already stored or quarantined.
func (s *Store) Seen(ctx context.Context, dedup string) (bool, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	ok, err := s.seen(ctx, s.db, dedup)
	if err != nil {
		return false, fmt.Errorf("store: seen: %w", s.classify(err))
	}
	return ok, nil
}

func (s *Store) putBlob(ctx context.Context, tx *sqlx.Tx, data []byte) (string, error) {
	if data == nil {
		data = []byte{}
	}
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	return sha, s.insertBlob(ctx, tx, sha, data)
}

// blobPart is the size of the parts a blob is stored in: the most that is bound to a statement
// at once. Binding a 25 MB value costs copies of it outside the Go heap (modernc's SQLite):
// guichet's peak for one 25 MB message went from 134–136 MB above idle with the blobs whole to
// 86–87 MB with parts of 256 KiB (89–90 MB with parts of 1 MiB; TestBenchMemory).
const blobPart = 256 << 10

// insertBlob stores data under its SHA-256 unless a blob with it is stored already. A blob
// larger than blobPart goes in parts: its first in blobs, the others in blob_parts.
func (s *Store) insertBlob(ctx context.Context, tx *sqlx.Tx, sha string, data []byte) error {
	if data == nil {
		data = []byte{} // an empty file is still a file
	}
	res, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO blobs (sha256, size, data) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING`),
		sha, len(data), data[:min(len(data), blobPart)])
	if err != nil {
		return fmt.Errorf("insert blob: %w", err)
	}
	if len(data) <= blobPart {
		return nil
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err // stored already, with its parts
	}
	for seq, off := 1, blobPart; off < len(data); seq, off = seq+1, off+blobPart {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO blob_parts (sha256, seq, data) VALUES (?, ?, ?)`),
			sha, seq, data[off:min(len(data), off+blobPart)]); err != nil {
			return fmt.Errorf("insert blob part %d: %w", seq, err)
		}
	}
	return nil
}

// TicketByMessageID returns the number of the ticket holding a message with one of these
// Message-IDs, the latest given first; 0 when none does.
func (s *Store) TicketByMessageID(ctx context.Context, ids []string) (int64, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	for i := len(ids) - 1; i >= 0; i-- {
		if ids[i] == "" {
			continue
		}
		var n int64
		err := s.db.GetContext(ctx, &n, s.db.Rebind(`SELECT t.number FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE m.message_id = ?`), ids[i])
		if err == nil {
			return n, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("store: ticket by Message-ID: %w", s.classify(err))
		}
	}
	return 0, nil
}

// IsAgent reports whether address is a registered agent's. It answers from the agent list the
// store keeps for a few seconds (agentList), so that a stream of mail from distinct senders
// costs one query per refresh, not one per message; an agent added or removed in another
// process counts within those seconds, in this one at once.
func (s *Store) IsAgent(ctx context.Context, address string) (bool, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	set, err := s.agentSet(ctx)
	if err != nil {
		return false, fmt.Errorf("store: %w", s.classify(err))
	}
	return set[ticket.NormalizeAddress(address)], nil
}

// TicketsOpenedSince counts the tickets a requester opened since the given time (for flood control).
func (s *Store) TicketsOpenedSince(ctx context.Context, requester string, since time.Time) (int, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var n int
	err := s.db.GetContext(ctx, &n, s.db.Rebind(`SELECT COUNT(*) FROM tickets WHERE requester_address = ? AND created >= ?`),
		ticket.NormalizeAddress(requester), s.tv(since))
	if err != nil {
		return 0, fmt.Errorf("store: count tickets: %w", s.classify(err))
	}
	return n, nil
}

// Secret returns the installation's signing secret, creating it on first use.
func (s *Store) Secret(ctx context.Context, fresh func() []byte) ([]byte, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO settings (name, value) VALUES ('secret', ?) ON CONFLICT (name) DO NOTHING`),
		hex.EncodeToString(fresh())); err != nil {
		return nil, fmt.Errorf("store: secret: %w", s.classify(err))
	}
	var v string
	if err := s.db.GetContext(ctx, &v, `SELECT value FROM settings WHERE name = 'secret'`); err != nil {
		return nil, fmt.Errorf("store: secret: %w", s.classify(err))
	}
	return hex.DecodeString(v)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// ExistingSecret returns the signing secret if the installation has one, without creating it.
func (s *Store) ExistingSecret(ctx context.Context) ([]byte, bool, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var v string
	err := s.db.GetContext(ctx, &v, `SELECT value FROM settings WHERE name = 'secret'`)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: secret: %w", s.classify(err))
	}
	b, err := hex.DecodeString(v)
	return b, err == nil, err
}
