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

// Quarantined is a message kept aside, with why.
type Quarantined struct {
	ID         int64
	Received   time.Time
	Source     string
	Reason     string
	Kind       string
	MessageID  string
	Sender     string
	Subject    string
	Size       int64
	Released   time.Time // zero while it waits
	ReleasedTo string
	RawSHA256  string
}

type quarantineRow struct {
	ID         int64  `db:"id"`
	Received   dbTime `db:"received"`
	Source     string `db:"source"`
	Reason     string `db:"reason"`
	Kind       string `db:"kind"`
	MessageID  string `db:"message_id"`
	Sender     string `db:"sender"`
	Subject    string `db:"subject"`
	Size       int64  `db:"size"`
	Released   dbTime `db:"released"`
	ReleasedTo string `db:"released_to"`
	RawSHA256  string `db:"raw_sha256"`
}

func (r quarantineRow) entry() Quarantined {
	return Quarantined{ID: r.ID, Received: r.Received.Time, Source: r.Source, Reason: r.Reason, Kind: r.Kind,
		MessageID: r.MessageID, Sender: r.Sender, Subject: r.Subject, Size: r.Size, Released: r.Released.Time,
		ReleasedTo: r.ReleasedTo, RawSHA256: r.RawSHA256}
}

const quarantineColumns = `id, received, source, reason, kind, message_id, sender, subject, size, released, released_to, raw_sha256`

// QuarantineList lists the quarantine, newest first; released entries only when all is set.
func (s *Store) QuarantineList(ctx context.Context, all bool) ([]Quarantined, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	q := `SELECT ` + quarantineColumns + ` FROM quarantine`
	if !all {
		q += ` WHERE released IS NULL`
	}
	var rows []quarantineRow
	if err := s.db.SelectContext(ctx, &rows, q+` ORDER BY id DESC`); err != nil {
		return nil, fmt.Errorf("store: quarantine: %w", s.classify(err))
	}
	out := make([]Quarantined, len(rows))
	for i, r := range rows {
		out[i] = r.entry()
	}
	return out, nil
}

// QuarantineEntry returns one quarantined message and its raw bytes.
func (s *Store) QuarantineEntry(ctx context.Context, id int64) (Quarantined, []byte, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var r quarantineRow
	err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT `+quarantineColumns+` FROM quarantine WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return Quarantined{}, nil, fmt.Errorf("store: quarantine entry %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Quarantined{}, nil, fmt.Errorf("store: quarantine entry %d: %w", id, s.classify(err))
	}
	raw, err := s.Blob(ctx, r.RawSHA256)
	return r.entry(), raw, err
}

// Redeliver retries a quarantined message: in one transaction, the entry is released and the
// message stored as in decides. When in still says quarantine, the entry stays, with the new reason.
func (s *Store) Redeliver(ctx context.Context, id int64, in *ticket.Inbound, p ticket.Policy) (ticket.Delivered, error) {
	var d ticket.Delivered
	err := s.tx(ctx, fmt.Sprintf("retry quarantine entry %d", id), func(tx *sqlx.Tx) error {
		var n int
		if err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT COUNT(*) FROM quarantine WHERE id = ? AND released IS NULL`), id); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("store: quarantine entry %d (not waiting): %w", id, ErrNotFound)
		}
		if in.Quarantine != "" {
			d.Quarantine = id
			_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE quarantine SET reason = ? WHERE id = ?`), in.Quarantine, id)
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE quarantine SET released = ?,
			dedup = dedup || ':released:' || CAST(id AS TEXT) WHERE id = ?`), s.tv(in.Received), id); err != nil {
			return err
		}
		var err error
		if d, err = s.deliver(ctx, tx, in, p); err != nil {
			return err
		}
		to := "duplicate of a stored message"
		switch {
		case d.Created:
			to = fmt.Sprintf("new ticket %d", d.Number)
		case d.Number != 0:
			to = fmt.Sprintf("ticket %d", d.Number)
		case !d.Duplicate:
			to = "kept without a ticket"
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(`UPDATE quarantine SET released_to = ? WHERE id = ?`), to, id)
		return err
	})
	return d, err
}
