package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

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
		ins[3].Create.Participants = []ticket.Person{{Address: "cc1@x.test"}, {Address: "cc2@x.test", Name: "Cc Two"}}
		ds := make([]ticket.Delivered, len(ins))
		if ok, err := s.deliverBulk(ctx, ins, ticket.DefaultPolicy(), ds); !ok || err != nil {
			t.Fatalf("the bulk path fell back (%v): %s", err, logs.String())
		}
		rows, _ := s.OutboxList(ctx, false, 100)
		var timers int
		s.db.Get(&timers, `SELECT COUNT(*) FROM timers WHERE kind = 'escalate'`)
		if len(rows) != 8 || timers != 8 {
			t.Errorf("%d outbox rows, %d escalation timers; want 8 each", len(rows), timers)
		}
		// The ids the batch gave are the ones every row names, and the next ticket, written
		// the ordinary way, gets a fresh one.
		var mismatched, participants, numbers int
		s.db.Get(&mismatched, `SELECT COUNT(*) FROM inbound i LEFT JOIN messages m ON m.id = i.message
			WHERE m.id IS NULL OR m.ticket_id <> i.ticket_id`)
		s.db.Get(&participants, s.db.Rebind(`SELECT COUNT(*) FROM participants p JOIN tickets t ON t.id = p.ticket_id WHERE t.number = ?`), ds[3].Number)
		s.db.Get(&numbers, `SELECT COUNT(DISTINCT number) FROM tickets`)
		if mismatched != 0 || participants != 2 || numbers != 8 {
			t.Errorf("%d inbound rows without their message, %d participants on #%d (want 2), %d numbers (want 8)", mismatched, participants, ds[3].Number, numbers)
		}
		for i, d := range ds {
			if d.Number != ds[0].Number+int64(i) || !d.Created {
				t.Errorf("message %d: %+v, want ticket #%d created", i, d, ds[0].Number+int64(i))
			}
		}
		one := *ins[0]
		one.Dedup, one.Create = "mid:9@x", &ticket.NewTicket{Subject: "s", Requester: ticket.Person{Address: "c9@x.test"}, Channel: ticket.ChannelEmail}
		one.Action.MessageID = "9@x"
		if d, err := s.Deliver(ctx, &one, ticket.DefaultPolicy()); err != nil || d.Number != ds[7].Number+1 {
			t.Errorf("the next ticket: %+v, %v; want #%d", d, err, ds[7].Number+1)
		}
	})
}
