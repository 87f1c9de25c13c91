package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"guichet/ticket"
)

// A batch of plain new tickets takes the multi-row path, with its timers and notifications,
// not the one-message-at-a-time fallback.
func TestBulkPathWithNotificationsAndTimers(t *testing.T) {
	var logs strings.Builder
	eachStore(t, &Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, func(t *testing.T, s *Store) {
		ctx := context.Background()
		s.SetTimerPolicy(ticket.TimerPolicy{EscalateAfter: 4 * time.Hour})
		k := 0
		s.SetPlanner(func(n Notice) []Notification {
			k++
			return []Notification{{Kind: "created", To: n.Ticket.Requester, Role: ticket.RoleRequester, MessageID: fmt.Sprintf("n%d@x", k)}}
		})
		now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		var ins []*ticket.Inbound
		for i := range 8 {
			addr := fmt.Sprintf("c%d@x.test", i)
			ins = append(ins, &ticket.Inbound{Raw: []byte(fmt.Sprint("raw ", i)), Dedup: fmt.Sprintf("mid:%d@x", i), Received: now, Kind: "new", Notify: true,
				Create: &ticket.NewTicket{Subject: "s", Requester: ticket.Person{Address: addr}, Channel: ticket.ChannelEmail},
				Actor:  ticket.Actor{Role: ticket.RoleRequester, Address: addr}, Action: ticket.Action{Kind: ticket.ActMessage, Text: "hi", MessageID: fmt.Sprintf("%d@x", i)}})
		}
		ds := make([]ticket.Delivered, len(ins))
		err := s.tx(ctx, "test", func(tx *sqlx.Tx) error {
			if !s.deliverBulk(ctx, tx, ins, ticket.DefaultPolicy(), ds) {
				return fmt.Errorf("the bulk path fell back: %s", logs.String())
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		rows, _ := s.OutboxList(ctx, false, 100)
		var timers int
		s.db.Get(&timers, `SELECT COUNT(*) FROM timers WHERE kind = 'escalate'`)
		if len(rows) != 8 || timers != 8 {
			t.Errorf("%d outbox rows, %d escalation timers; want 8 each", len(rows), timers)
		}
	})
}
