package store

import (
	"context"
	"testing"
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
		rel, ok, err := s.AcquireMailbox(ctx, "support")
		if err != nil || !ok {
			t.Fatalf("first acquire: %v %v", ok, err)
		}
		if _, ok, _ := s.AcquireMailbox(ctx, "support"); ok {
			t.Errorf("second acquire succeeded while held")
		}
		if r, ok, _ := s.AcquireMailbox(ctx, "other"); !ok {
			t.Errorf("another mailbox refused")
		} else {
			r()
		}
		rel()
		if r, ok, _ := s.AcquireMailbox(ctx, "support"); !ok {
			t.Errorf("acquire after release refused")
		} else {
			r()
		}
	})
}
