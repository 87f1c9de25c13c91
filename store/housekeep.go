package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Retention says how long what piles up is kept; zero keeps it forever.
type Retention struct {
	Raw        time.Duration // the raw bytes of received messages (the tickets keep their text and files)
	Outbox     time.Duration // delivered notifications (a ticket link works while its notification is kept)
	Quarantine time.Duration // quarantined messages, released or not
}

// Swept is what a housekeeping pass removed.
type Swept struct {
	Raw        int64 `json:"raw"`
	Outbox     int64 `json:"outbox"`
	Quarantine int64 `json:"quarantine"`
	Blobs      int64 `json:"blobs"`
}

var emptySHA = func() string { s := sha256.Sum256(nil); return hex.EncodeToString(s[:]) }()

// Housekeep removes what is older than its retention at now: raw messages (their inbound
// records stay, for duplicate detection, pointing at the empty blob), delivered, merged and
// suppressed notifications, quarantine entries, then the blobs nothing refers to any more.
// It is idempotent; instances running it at once do the same work.
func (s *Store) Housekeep(ctx context.Context, now time.Time, r Retention) (Swept, error) {
	var sw Swept
	err := s.tx(ctx, "housekeeping", func(tx *sqlx.Tx) error {
		var freed []string
		if r.Raw > 0 {
			var shas []string
			if err := tx.SelectContext(ctx, &shas, tx.Rebind(`SELECT DISTINCT raw_sha256 FROM inbound WHERE received < ? AND raw_sha256 <> ?`),
				s.tv(now.Add(-r.Raw)), emptySHA); err != nil {
				return err
			}
			if len(shas) > 0 {
				if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO blobs (sha256, size, data) VALUES (?, 0, ?) ON CONFLICT (sha256) DO NOTHING`),
					emptySHA, []byte{}); err != nil {
					return err
				}
				res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE inbound SET raw_sha256 = ? WHERE received < ? AND raw_sha256 <> ?`),
					emptySHA, s.tv(now.Add(-r.Raw)), emptySHA)
				if err != nil {
					return err
				}
				sw.Raw, _ = res.RowsAffected()
				freed = append(freed, shas...)
			}
		}
		if r.Quarantine > 0 {
			var shas []string
			if err := tx.SelectContext(ctx, &shas, tx.Rebind(`SELECT DISTINCT raw_sha256 FROM quarantine WHERE received < ?`),
				s.tv(now.Add(-r.Quarantine))); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM quarantine WHERE received < ?`), s.tv(now.Add(-r.Quarantine)))
			if err != nil {
				return err
			}
			sw.Quarantine, _ = res.RowsAffected()
			freed = append(freed, shas...)
		}
		if r.Outbox > 0 {
			cut := s.tv(now.Add(-r.Outbox))
			res, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM outbox WHERE state IN ('merged', 'suppressed') AND created < ?`), cut)
			if err != nil {
				return err
			}
			n1, _ := res.RowsAffected()
			res, err = tx.ExecContext(ctx, tx.Rebind(`DELETE FROM outbox WHERE state = 'sent' AND sent < ?
				AND NOT EXISTS (SELECT 1 FROM outbox m WHERE m.merged_into = outbox.id)`), cut)
			if err != nil {
				return err
			}
			n2, _ := res.RowsAffected()
			sw.Outbox = n1 + n2
		}
		for len(freed) > 0 {
			chunk := freed[:min(len(freed), 500)]
			freed = freed[len(chunk):]
			q, args, err := sqlx.In(`DELETE FROM blobs WHERE sha256 IN (?) AND sha256 <> ?
				AND NOT EXISTS (SELECT 1 FROM inbound i WHERE i.raw_sha256 = blobs.sha256)
				AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.raw_sha256 = blobs.sha256)
				AND NOT EXISTS (SELECT 1 FROM attachments a WHERE a.sha256 = blobs.sha256)`, chunk, emptySHA)
			if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, tx.Rebind(q), args...)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			sw.Blobs += n
		}
		return nil
	})
	if err != nil {
		return Swept{}, fmt.Errorf("store: housekeeping: %w", err)
	}
	return sw, nil
}
