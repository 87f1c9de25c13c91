package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// MailboxStatus is where one IMAP mailbox stands, as `guichet mailbox status` shows it.
type MailboxStatus struct {
	Name          string
	UIDValidity   uint32
	LastUID       uint32
	State         string
	LastError     string
	LastErrorAt   time.Time
	LastSuccessAt time.Time
	Processed     int64
	Updated       time.Time
}

// MailboxState returns a mailbox's UIDVALIDITY and last processed UID; zeros when unknown.
func (s *Store) MailboxState(ctx context.Context, name string) (uidValidity, lastUID uint32, err error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var row struct {
		V int64 `db:"uid_validity"`
		U int64 `db:"last_uid"`
	}
	err = s.db.GetContext(ctx, &row, s.db.Rebind(`SELECT uid_validity, last_uid FROM mailboxes WHERE name = ?`), name)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("store: mailbox %s: %w", name, s.classify(err))
	}
	return uint32(row.V), uint32(row.U), nil
}

// SaveMailboxState records a mailbox's UIDVALIDITY and last processed UID.
func (s *Store) SaveMailboxState(ctx context.Context, name string, uidValidity, lastUID uint32, now time.Time) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO mailboxes (name, uid_validity, last_uid, updated) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET uid_validity = excluded.uid_validity, last_uid = excluded.last_uid, updated = excluded.updated`),
		name, int64(uidValidity), int64(lastUID), s.tv(now))
	if err != nil {
		return fmt.Errorf("store: mailbox %s: %w", name, s.classify(err))
	}
	return nil
}

// SetMailboxStatus records a mailbox's state and last error, for `guichet mailbox status`.
func (s *Store) SetMailboxStatus(ctx context.Context, st MailboxStatus) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO mailboxes (name, state, last_error, last_error_at, last_success_at, processed, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET state = excluded.state, last_error = excluded.last_error, last_error_at = excluded.last_error_at,
		last_success_at = excluded.last_success_at, processed = excluded.processed, updated = excluded.updated`),
		st.Name, st.State, clip(st.LastError, 1000), s.tv(st.LastErrorAt), s.tv(st.LastSuccessAt), st.Processed, s.tv(st.Updated))
	if err != nil {
		return fmt.Errorf("store: mailbox %s status: %w", st.Name, s.classify(err))
	}
	return nil
}

// MailboxStatuses lists every mailbox's status by name.
func (s *Store) MailboxStatuses(ctx context.Context) ([]MailboxStatus, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var rows []struct {
		Name          string `db:"name"`
		V             int64  `db:"uid_validity"`
		U             int64  `db:"last_uid"`
		State         string `db:"state"`
		LastError     string `db:"last_error"`
		LastErrorAt   dbTime `db:"last_error_at"`
		LastSuccessAt dbTime `db:"last_success_at"`
		Processed     int64  `db:"processed"`
		Updated       dbTime `db:"updated"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT name, uid_validity, last_uid, state, last_error, last_error_at,
		last_success_at, processed, updated FROM mailboxes ORDER BY name`); err != nil {
		return nil, fmt.Errorf("store: mailboxes: %w", s.classify(err))
	}
	out := make([]MailboxStatus, len(rows))
	for i, r := range rows {
		out[i] = MailboxStatus{Name: r.Name, UIDValidity: uint32(r.V), LastUID: uint32(r.U), State: r.State, LastError: r.LastError,
			LastErrorAt: r.LastErrorAt.Time, LastSuccessAt: r.LastSuccessAt.Time, Processed: r.Processed, Updated: r.Updated.Time}
	}
	return out, nil
}

// localLocks are the mailboxes this process holds on SQLite, where one process owns the file.
var localLocks sync.Map

// MailboxLock is a mailbox this process holds (AcquireMailbox).
type MailboxLock struct {
	// Lost is closed when the lock turns out to be gone while held: on PostgreSQL, its
	// connection died (the server restarted, or an administrator ended the session) and another
	// instance may take the mailbox. The holder must stop working on the mailbox, release, and
	// acquire again. Nil on SQLite: never closed.
	Lost <-chan struct{}
	// Release gives the lock back; it may be called more than once.
	Release func()
}

// AcquireMailbox makes this process the only reader of a mailbox. On PostgreSQL it takes a
// session advisory lock on a connection of its own, so instances sharing the database never
// read one mailbox at once, and checks every Options.LockCheck that the connection still
// holds it; on SQLite, which one process owns, a lock within the process. ok is false when
// someone else holds it.
func (s *Store) AcquireMailbox(ctx context.Context, name string) (l MailboxLock, ok bool, err error) {
	if s.dialect == SQLite {
		key := s.db.DriverName() + "\x00" + fmt.Sprintf("%p", s) + "\x00" + name
		if _, loaded := localLocks.LoadOrStore(key, true); loaded {
			return l, false, nil
		}
		return MailboxLock{Release: func() { localLocks.Delete(key) }}, true, nil // Lost nil: never closed
	}
	conn, err := s.db.Connx(ctx)
	if err != nil {
		return l, false, fmt.Errorf("store: lock mailbox %s: %w", name, s.classify(err))
	}
	key := "guichet mailbox " + name
	var got bool
	if err := conn.GetContext(ctx, &got, `SELECT pg_try_advisory_lock(hashtext($1))`, key); err != nil {
		conn.Close()
		return l, false, fmt.Errorf("store: lock mailbox %s: %w", name, s.classify(err))
	}
	if !got {
		conn.Close()
		return l, false, nil
	}
	lost, stop, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(s.lockCheck)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			// The connection holds no other advisory lock: any granted one is ours.
			ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
			var held bool
			err := conn.GetContext(ctx, &held, `SELECT EXISTS (SELECT 1 FROM pg_locks
				WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted)`)
			cancel()
			if err != nil || !held {
				if err == nil {
					err = errors.New("the connection no longer holds it")
				}
				s.log.Warn("lost the lock on a mailbox: another instance may take it", "mailbox", name, "error", err)
				close(lost)
				return
			}
		}
	}()
	var once sync.Once
	return MailboxLock{Lost: lost, Release: func() {
		once.Do(func() {
			close(stop)
			<-done
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			conn.ExecContext(ctx, `SELECT pg_advisory_unlock(hashtext($1))`, key)
			conn.Close()
		})
	}}, true, nil
}
