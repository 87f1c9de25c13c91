package mailout_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"guichet/internal/testdb"
	"guichet/mailout"
	"guichet/store"
	"guichet/ticket"
)

// TestHandedNotifications: with the store handing the new tickets' notifications to the sender
// (PostgreSQL), every one of them is delivered once and recorded sent; rows this process wrote
// the ordinary way go in the same round, and rows another process wrote within a Poll, while
// handed ones keep coming; a handed row too near the end of its lease waits for it to end.
func TestHandedNotifications(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("the handoff is PostgreSQL's (GUICHET_TEST_POSTGRES)")
	}
	w := newWorld(t, func(c *mailout.Config) { c.RateLimit = -1 }) // the agents get more than 10 here
	w.s.HandOff("test", 5*time.Minute)                             // what Run does, with the sender's name
	k := 0
	deliver := func(n int) []ticket.Delivered {
		t.Helper()
		var ins []*ticket.Inbound
		for range n {
			k++
			id, from := fmt.Sprintf("bulk-%d@customer.test", k), fmt.Sprintf("customer%d@customer.test", k)
			ins = append(ins, &ticket.Inbound{Raw: []byte("raw " + id), Dedup: "mid:" + id, MessageID: id, Received: w.clock.Now(), Kind: "new", Notify: true,
				Create: &ticket.NewTicket{Subject: "Printer " + id, Requester: ticket.Person{Address: from}, Channel: ticket.ChannelEmail, SupportAddress: support},
				Actor:  ticket.Actor{Role: ticket.RoleRequester, Address: from},
				Action: ticket.Action{Kind: ticket.ActMessage, Text: "It prints nothing.", MessageID: id}})
		}
		ds, errs := w.s.DeliverBatch(w.ctx, ins, w.policy)
		if errs[0] != nil {
			t.Fatal(errs[0])
		}
		return ds
	}
	once := func(want int) []*sent {
		t.Helper()
		if _, err := w.snd.RunOnce(w.ctx); err != nil {
			t.Fatal(err)
		}
		var got []*sent
		seen := map[string]bool{}
		for _, r := range w.rec.take() {
			m := parseSent(t, r)
			if id := m.Header.Get("Message-Id"); seen[id] {
				t.Errorf("%s delivered twice", id)
			} else {
				seen[id] = true
			}
			got = append(got, m)
		}
		if len(got) != want {
			t.Errorf("%d delivered, want %d", len(got), want)
		}
		return got
	}
	// Two batches (the first one learns the counter: it goes in two statements, the second in
	// one): an acknowledgement and the two agents' notices each, all handed.
	deliver(2)
	deliver(2)
	w.create(ticket.English) // the one-at-a-time way: requester, copy and agents, to claim
	once(4*3 + 4)
	if st := w.rows(); st[store.OutboxSent] != 16 || len(st) != 1 {
		t.Fatalf("outbox states %v, want 16 sent", st)
	}
	// Within a Poll of that claim, rows written the ordinary way are claimed with the handed.
	deliver(1)
	w.create(ticket.English)
	once(3 + 4)
	// Another process's ticket, while this one's keep coming: it waits for the Poll.
	other, err := store.Open(w.ctx, w.dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.SetPlanner(func(n store.Notice) []store.Notification {
		return []store.Notification{{Kind: "created", To: n.Ticket.Requester, Role: ticket.RoleRequester, MessageID: "other-1@example.com"}}
	})
	if _, err := other.CreateTicket(w.ctx, store.CreateInput{Ticket: ticket.NewTicket{Subject: "other", Requester: ticket.Person{Address: "o@customer.test"}},
		By: ticket.CLI, Text: "x", Now: w.clock.Now()}, w.policy); err != nil {
		t.Fatal(err)
	}
	deliver(1)
	once(3) // handed only: the last claim was less than a Poll ago
	w.clock.Add(time.Second)
	deliver(1)
	once(3 + 1)
	if st := w.rows(); st[store.OutboxSent] != 30 || len(st) != 1 {
		t.Fatalf("outbox states %v, want 30 sent", st)
	}
	// A ticket changed before the sender ran: its handed acknowledgement and the notice of the
	// change go together, both from the ticket read afresh — the notice with its message.
	n := deliver(1)[0].Number
	w.apply(n, ticket.Action{Kind: ticket.ActMessage, Text: "Turn it off and on again."}, alice)
	replied := false
	for _, m := range once(3 + 1) {
		replied = replied || strings.Contains(m.Text, "Turn it off and on again.")
	}
	if !replied {
		t.Error("the notice of the reply does not carry it")
	}
	// A handed row whose lease is half gone is not sent from memory: a claim takes it once the
	// lease has ended.
	deliver(1)
	w.clock.Add(3 * time.Minute)
	once(0)
	w.clock.Add(2*time.Minute + time.Second)
	once(3)
	// Given back when the sender stops: claimed again at once.
	deliver(1)
	if err := w.s.StopHandOff(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	once(3)
}
