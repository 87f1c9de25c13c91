package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"guichet/ticket"
)

// TestHandOff: a bulk delivery hands its notifications to the sender named, claimed for it in
// the database, and what it hands is what a claim and TicketsWithMessages would have read —
// the same rows, tickets and messages, field for field; no other sender gets them, and
// StopHandOff gives back the claims of those not taken. Without a handoff, and on SQLite, the
// rows are written unclaimed.
func TestHandOff(t *testing.T) {
	eachStore(t, nil, func(t *testing.T, s *Store) {
		ctx := context.Background()
		k := 0
		s.SetPlanner(func(n Notice) []Notification {
			k++
			return []Notification{
				{Kind: "created", To: n.Ticket.Requester, Role: ticket.RoleRequester, Message: n.Message.ID, MessageID: fmt.Sprintf("ack%d@x", k)},
				{Kind: "agent_new", To: ticket.Person{Address: "Agent@Example.org", Name: "Agent", Lang: ticket.French}, Role: ticket.RoleAgent,
					Message: n.Message.ID, Data: map[string]string{"reason": "new"}, MessageID: fmt.Sprintf("agent%d@x", k)},
			}
		})
		now := time.Now().Add(-time.Minute)
		batch := func(ids ...string) []*ticket.Inbound {
			var ins []*ticket.Inbound
			for _, id := range ids {
				addr := "c" + id + "@x.test"
				ins = append(ins, &ticket.Inbound{Raw: []byte("raw " + id), Dedup: "mid:" + id, MessageID: id, Received: now.Add(123456789), Kind: "new", Notify: true,
					Create: &ticket.NewTicket{Subject: "s " + id, Requester: ticket.Person{Address: addr, Name: "C " + id}, Channel: ticket.ChannelEmail,
						Participants: []ticket.Person{{Address: "cc@x.test"}}},
					Actor:  ticket.Actor{Role: ticket.RoleRequester, Address: addr},
					Action: ticket.Action{Kind: ticket.ActMessage, Text: "hello " + id, HTML: "<p>hello</p>", MessageID: id}})
			}
			return ins
		}
		deliver := func(ins []*ticket.Inbound) {
			t.Helper()
			if _, errs := s.DeliverBatch(ctx, ins, ticket.DefaultPolicy()); errs[0] != nil {
				t.Fatal(errs[0])
			}
		}
		deliver(batch("0")) // the counter is known after it: the next batches go in one statement
		if rows, _ := s.ClaimOutbox(ctx, "other", time.Now(), time.Minute, 100); len(rows) != 2 {
			t.Fatalf("without a handoff, %d rows to claim, want 2", len(rows))
		}
		s.HandOff("sender", 5*time.Minute)
		deliver(batch("1", "2", "3"))
		if s.dialect == SQLite {
			if hs := s.Handed("sender", 100); len(hs) != 0 {
				t.Fatalf("SQLite handed %d", len(hs))
			}
			if rows, _ := s.ClaimOutbox(ctx, "other", time.Now(), time.Minute, 100); len(rows) != 6 {
				t.Fatalf("SQLite: %d rows to claim, want 6", len(rows))
			}
			return
		}
		if rows, _ := s.ClaimOutbox(ctx, "other", time.Now(), time.Minute, 100); len(rows) != 0 {
			t.Fatalf("another sender claimed %d handed rows", len(rows))
		}
		if hs := s.Handed("other", 100); len(hs) != 0 {
			t.Fatalf("another sender was handed %d", len(hs))
		}
		hs := s.Handed("sender", 4)
		if len(hs) != 4 {
			t.Fatalf("handed %d, want 4 of 6", len(hs))
		}
		var ids []int64
		for _, h := range hs {
			ids = append(ids, h.Row.TicketID)
		}
		tickets, messages, err := s.TicketsWithMessages(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hs {
			row, err := s.OutboxByID(ctx, h.Row.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(h.Row, row) {
				t.Errorf("handed row\n%+v\nthe database's\n%+v", h.Row, row)
			}
			if !reflect.DeepEqual(h.Ticket, tickets[h.Row.TicketID]) {
				t.Errorf("handed ticket\n%+v\nthe database's\n%+v", h.Ticket, tickets[h.Row.TicketID])
			}
			if !reflect.DeepEqual(h.Messages, messages[h.Row.TicketID]) {
				t.Errorf("handed messages\n%+v\nthe database's\n%+v", h.Messages, messages[h.Row.TicketID])
			}
			var by string
			var until dbTime
			s.db.QueryRowxContext(ctx, `SELECT claimed_by, claimed_until FROM outbox WHERE id = $1`, h.Row.ID).Scan(&by, &until)
			if by != "sender" || !until.Equal(h.Until) || h.Until.Before(now.Add(5*time.Minute)) {
				t.Errorf("row %d claimed by %q until %v, handed until %v", h.Row.ID, by, until.Time, h.Until)
			}
		}
		// The two not taken go back to the claims, and nothing more is handed.
		if err := s.StopHandOff(ctx, "sender"); err != nil {
			t.Fatal(err)
		}
		rows, _ := s.ClaimOutbox(ctx, "other", time.Now(), time.Minute, 100)
		deliver(batch("4"))
		if hs := s.Handed("sender", 100); len(rows) != 2 || len(hs) != 0 {
			t.Fatalf("after StopHandOff: %d rows claimed (want the 2 not taken), %d handed (want 0)", len(rows), len(hs))
		}
		if rows, _ := s.ClaimOutbox(ctx, "other", time.Now(), time.Minute, 100); len(rows) != 2 {
			t.Fatalf("after StopHandOff, the next batch left %d rows to claim, want 2", len(rows))
		}
	})
}
