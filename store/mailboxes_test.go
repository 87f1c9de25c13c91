package store

import (
	"context"
	"testing"
	"time"
)

func TestMailboxState(t *testing.T) {
	eachStore(t, nil, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if v, u, err := s.MailboxState(ctx, "support"); v != 0 || u != 0 || err != nil {
			t.Errorf("unknown mailbox: %d %d %v", v, u, err)
		}
		if err := s.SaveMailboxState(ctx, "support", 4000000000, 17, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.SetMailboxStatus(ctx, MailboxStatus{Name: "support", State: "idle", LastError: "boom", LastErrorAt: t0, Processed: 3, Updated: t0}); err != nil {
			t.Fatal(err)
		}
		if v, u, err := s.MailboxState(ctx, "support"); v != 4000000000 || u != 17 || err != nil {
			t.Errorf("state %d %d %v, want 4000000000 17 (the status must not reset it)", v, u, err)
		}
		sts, err := s.MailboxStatuses(ctx)
		if err != nil || len(sts) != 1 || sts[0].State != "idle" || sts[0].LastError != "boom" || sts[0].LastUID != 17 || !sts[0].LastErrorAt.Equal(t0) {
			t.Errorf("statuses %+v, %v", sts, err)
		}
		// Advisory locks are the database's, not the test schema's: a name of this test's own.
		name := "support " + t.Name()
		l, ok, err := s.AcquireMailbox(ctx, name)
		if err != nil || !ok {
			t.Fatalf("first acquire: %v %v", ok, err)
		}
		if _, ok, _ := s.AcquireMailbox(ctx, name); ok {
			t.Errorf("second acquire succeeded while held")
		}
		if r, ok, _ := s.AcquireMailbox(ctx, "other "+t.Name()); !ok {
			t.Errorf("another mailbox refused")
		} else {
			r.Release()
		}
		l.Release()
		l.Release() // twice is harmless
		if r, ok, _ := s.AcquireMailbox(ctx, name); !ok {
			t.Errorf("acquire after release refused")
		} else {
			r.Release()
		}
	})
}

// TestMailboxLockLost: when the connection that holds a mailbox's lock dies, the holder is told
// within the check interval, and another instance can take the mailbox.
func TestMailboxLockLost(t *testing.T) {
	s := openPostgres(t, &Options{LockCheck: 50 * time.Millisecond})
	other := openPostgres(t, nil)
	ctx := context.Background()
	name := "support " + t.Name()
	l, ok, err := s.AcquireMailbox(ctx, name)
	if err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	defer l.Release()
	select {
	case <-l.Lost:
		t.Fatal("lost while the connection lives")
	case <-time.After(200 * time.Millisecond):
	}
	// End the lock's session, as a server restart or pg_terminate_backend does.
	var ended int
	if err := other.db.GetContext(ctx, &ended, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = hashtext($1)::bigint`,
		"guichet mailbox "+name); err != nil || ended != 1 {
		t.Fatalf("terminating the holder: %d sessions, %v", ended, err)
	}
	select {
	case <-l.Lost:
	case <-time.After(5 * time.Second):
		t.Fatal("the holder was not told within 5 s")
	}
	l2, ok, err := other.AcquireMailbox(ctx, name)
	if err != nil || !ok {
		t.Fatalf("acquire by the other instance: %v %v", ok, err)
	}
	l2.Release()
	l.Release() // on a dead connection: returns
}
