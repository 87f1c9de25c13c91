package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"guichet/ticket"
)

func TestDeliver(t *testing.T) {
	eachStore(t, nil, func(t *testing.T, s *Store) {
		ctx := context.Background()
		p := ticket.DefaultPolicy()
		newMail := &ticket.Inbound{Raw: []byte("raw 1"), Dedup: "mid:1@x", MessageID: "1@x", Source: "test", Received: t0, Kind: "new", Notify: true,
			Create: &ticket.NewTicket{Subject: "Help", Requester: ticket.Person{Address: "jean@client.example"}, Channel: ticket.ChannelEmail},
			Action: ticket.Action{Kind: ticket.ActMessage, Text: "It broke.", MessageID: "1@x"},
			Files:  []ticket.File{{Filename: "empty.txt", ContentType: "text/plain"}}}
		d, err := s.Deliver(ctx, newMail, p)
		if err != nil || !d.Created || d.Number != 1 {
			t.Fatalf("new: %+v, %v", d, err)
		}
		if d, err := s.Deliver(ctx, newMail, p); err != nil || !d.Duplicate {
			t.Errorf("again: %+v, %v; want duplicate", d, err)
		}
		// A follow-up with a command the lifecycle refuses: stored, with a note saying why.
		s.AddAgent(ctx, "alice@support.example", "", t0)
		follow := &ticket.Inbound{Raw: []byte("raw 2"), Dedup: "mid:2@x", MessageID: "2@x", Received: t0.Add(time.Minute), Kind: "followup", Number: 1,
			Actor:    ticket.Actor{Address: "alice@support.example"},
			Action:   ticket.Action{Kind: ticket.ActMessage, Text: "On it.", MessageID: "2@x"},
			Commands: []ticket.Action{{Kind: ticket.ActPriority, Priority: ticket.PriorityUrgent}, {Kind: ticket.ActApprove}}}
		if d, err := s.Deliver(ctx, follow, p); err != nil || d.Number != 1 || d.Created {
			t.Fatalf("follow-up: %+v, %v", d, err)
		}
		tk, _ := s.Ticket(ctx, 1)
		ms, _ := s.Messages(ctx, tk.ID)
		if tk.Priority != ticket.PriorityUrgent || len(ms) != 3 || ms[2].Visibility != ticket.Internal || ms[2].Author.Role != ticket.RoleSystem {
			t.Errorf("after the follow-up: priority %s, messages %+v", tk.Priority, ms)
		}
		// A bounce without a ticket: the failure is recorded all the same.
		b := &ticket.Inbound{Raw: []byte("raw 3"), Dedup: "mid:3@x", Received: t0, Kind: "bounce",
			Bounces: []ticket.Bounce{{Recipient: "Gone@Client.example", Status: "5.1.1", Permanent: true}}}
		if d, err := s.Deliver(ctx, b, p); err != nil || d.Number != 0 {
			t.Errorf("bounce: %+v, %v", d, err)
		}
		var n int
		s.db.Get(&n, s.db.Rebind(`SELECT COUNT(*) FROM delivery_failures WHERE address = ? AND permanent = ?`), "gone@client.example", true)
		if n != 1 {
			t.Errorf("%d delivery failures recorded, want 1", n)
		}
		// A message the lifecycle refuses goes to quarantine, not to the floor.
		bad := &ticket.Inbound{Raw: []byte("raw 4"), Dedup: "mid:4@x", Received: t0, Kind: "followup", Number: 1,
			Actor: ticket.Actor{Address: "eve@evil.example"}, Action: ticket.Action{Kind: ticket.ActMessage, Text: "x"}}
		d, err = s.Deliver(ctx, bad, p)
		if err != nil || d.Quarantine == 0 {
			t.Fatalf("refused message: %+v, %v; want quarantine", d, err)
		}
		q, raw, err := s.QuarantineEntry(ctx, d.Quarantine)
		if err != nil || string(raw) != "raw 4" || q.Reason == "" {
			t.Errorf("quarantine entry %+v, raw %q, %v", q, raw, err)
		}
		// Retry: still refused keeps it waiting with the new reason; accepted releases it in the same transaction.
		bad.Quarantine = "still refused"
		if d, err := s.Redeliver(ctx, q.ID, bad, p); err != nil || d.Quarantine != q.ID {
			t.Errorf("retry still refused: %+v, %v", d, err)
		}
		bad.Quarantine = ""
		bad.Actor = ticket.Actor{Address: "jean@client.example"}
		if d, err := s.Redeliver(ctx, q.ID, bad, p); err != nil || d.Number != 1 {
			t.Fatalf("retry accepted: %+v, %v", d, err)
		}
		if qs, _ := s.QuarantineList(ctx, false); len(qs) != 0 {
			t.Errorf("waiting entries after release: %+v", qs)
		}
		if _, err := s.Redeliver(ctx, q.ID, bad, p); !errors.Is(err, ErrNotFound) {
			t.Errorf("retrying a released entry: %v, want ErrNotFound", err)
		}
		// The secret is made once.
		a, err1 := s.Secret(ctx, func() []byte { return []byte("first secret of 16 bytes") })
		b2, err2 := s.Secret(ctx, func() []byte { return []byte("second secret of 16 bytes") })
		if err1 != nil || err2 != nil || string(a) != string(b2) || string(a) != "first secret of 16 bytes" {
			t.Errorf("secrets %q %q, %v %v", a, b2, err1, err2)
		}
	})
}

func TestDeliverBatch(t *testing.T) {
	eachStore(t, nil, func(t *testing.T, s *Store) {
		ctx := context.Background()
		p := ticket.DefaultPolicy()
		mk := func(id, from string) *ticket.Inbound {
			return &ticket.Inbound{Raw: []byte("raw " + id), Dedup: "mid:" + id, MessageID: id, Received: t0, Kind: "new",
				Create: &ticket.NewTicket{Subject: "s " + id, Requester: ticket.Person{Address: from}},
				Action: ticket.Action{Kind: ticket.ActMessage, Text: "x", MessageID: id}}
		}
		refused := &ticket.Inbound{Raw: []byte("raw r"), Dedup: "mid:r", Received: t0, Kind: "followup", Number: 1,
			Actor: ticket.Actor{Address: "eve@evil.example"}, Action: ticket.Action{Kind: ticket.ActMessage, Text: "x"}}
		broken := mk("b", "not an address") // ticket.Open refuses it: quarantined, the others unharmed
		ins := []*ticket.Inbound{mk("1", "a@x.example"), mk("2", "b@x.example"), refused, mk("1", "a@x.example"), broken, mk("3", "c@x.example")}
		ds, errs := s.DeliverBatch(ctx, ins, p)
		for i, err := range errs {
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
		}
		if !ds[0].Created || ds[0].Number != 1 || ds[1].Number != 2 || ds[2].Quarantine == 0 || !ds[3].Duplicate || ds[4].Quarantine == 0 || ds[5].Number != 3 {
			t.Errorf("batch results %+v", ds)
		}
		all, _ := s.Tickets(ctx, Filter{})
		if len(all) != 3 {
			t.Errorf("%d tickets, want 3 (numbers without gaps: %+v)", len(all), all)
		}
	})
}

// TestDeliverBulk: a batch of plain new tickets goes the bulk way; numbers stay contiguous,
// duplicates (stored before, or twice in the batch) are recognised, and a batch that the bulk
// path cannot write (a Message-ID already on a message) falls back without losing anything.
func TestDeliverBulk(t *testing.T) {
	eachStore(t, nil, func(t *testing.T, s *Store) {
		ctx := context.Background()
		p := ticket.DefaultPolicy()
		mk := func(id string) *ticket.Inbound {
			return &ticket.Inbound{Raw: []byte("raw " + id), Dedup: "mid:" + id, MessageID: id, Received: t0, Kind: "new", Notify: true,
				Create: &ticket.NewTicket{Subject: "s " + id, Requester: ticket.Person{Address: "r" + id + "@x.example"},
					Participants: []ticket.Person{{Address: "cc@x.example"}}},
				Action: ticket.Action{Kind: ticket.ActMessage, Text: "text " + id, MessageID: id}}
		}
		if d, err := s.Deliver(ctx, mk("0"), p); err != nil || d.Number != 1 {
			t.Fatalf("first: %+v %v", d, err)
		}
		batch := []*ticket.Inbound{mk("1"), mk("0"), mk("2"), mk("2"), mk("3")}
		ds, errs := s.DeliverBatch(ctx, batch, p)
		for i, err := range errs {
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
		}
		if ds[0].Number != 2 || !ds[1].Duplicate || ds[2].Number != 3 || !ds[3].Duplicate || ds[4].Number != 4 || !ds[4].Created {
			t.Fatalf("bulk results %+v", ds)
		}
		tk, err := s.Ticket(ctx, 3)
		ms, _ := s.Messages(ctx, tk.ID)
		evs, _ := s.Events(ctx, tk.ID)
		if err != nil || tk.Subject != "s 2" || len(tk.Participants) != 1 || len(ms) != 1 || ms[0].Text != "text 2" || ms[0].MessageID != "2" ||
			len(evs) != 1 || evs[0].Kind != ticket.EventCreated {
			t.Errorf("ticket 3 %+v, messages %+v, events %+v, %v", tk, ms, evs, err)
		}
		if n, _ := s.TicketByMessageID(ctx, []string{"3"}); n != 4 {
			t.Errorf("Message-ID 3 on ticket %d, want 4", n)
		}
		// "9" has a new dedup key but a Message-ID already on a message: the bulk insert fails,
		// the per-message path stores the others and quarantines nothing it should not.
		clash := mk("9")
		clash.Action.MessageID = "1"
		ds, errs = s.DeliverBatch(ctx, []*ticket.Inbound{mk("5"), clash, mk("6")}, p)
		if errs[0] != nil || errs[2] != nil || ds[0].Number != 5 || ds[2].Number != 6 {
			t.Errorf("fallback: %+v %v", ds, errs)
		}
		all, _ := s.Tickets(ctx, Filter{})
		for i, tk := range all {
			if want := int64(len(all) - i); tk.Number != want {
				t.Errorf("numbers %d at %d: a gap or a duplicate", tk.Number, i)
			}
		}
	})
}

// TestLargeBlobsInParts: a raw message and an attachment larger than a blob part are stored in
// parts and read back whole; the same content again adds no part; housekeeping that drops the
// raw message drops its parts.
func TestLargeBlobsInParts(t *testing.T) {
	eachStore(t, nil, func(t *testing.T, s *Store) {
		ctx := context.Background()
		big := func(n int, seed byte) []byte {
			b := make([]byte, n)
			for i := range b {
				b[i] = seed + byte(i*7) + byte(i>>20)
			}
			return b
		}
		raw := big(2*blobPart+123, 1) // three parts, the last short
		file := big(3*blobPart, 2)    // exactly three parts
		in := func(id string) *ticket.Inbound {
			return &ticket.Inbound{Raw: raw, Dedup: "mid:" + id, MessageID: id, Received: t0, Kind: "new",
				Create: &ticket.NewTicket{Subject: "big", Requester: ticket.Person{Address: "r@x.example"}},
				Action: ticket.Action{Kind: ticket.ActMessage, Text: "see the dump", MessageID: id},
				Files:  []File{{Filename: "dump.bin", Data: file}}}
		}
		for _, id := range []string{"big1", "big2"} { // the second: the same contents, stored once
			if _, err := s.Deliver(ctx, in(id), ticket.DefaultPolicy()); err != nil {
				t.Fatal(err)
			}
		}
		var parts int
		s.db.Get(&parts, `SELECT COUNT(*) FROM blob_parts`)
		if parts != 2+2 {
			t.Errorf("%d blob parts, want 4 (two after the first part of each blob)", parts)
		}
		tk, err := s.Ticket(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := s.Messages(ctx, tk.ID)
		if err != nil || len(ms) != 1 || len(ms[0].Attachments) != 1 {
			t.Fatalf("messages %+v, %v", ms, err)
		}
		got, err := s.Blob(ctx, ms[0].Attachments[0].SHA256)
		if err != nil || !bytes.Equal(got, file) {
			t.Errorf("attachment read back: %d bytes, equal %v, %v", len(got), bytes.Equal(got, file), err)
		}
		sum := sha256.Sum256(raw)
		got, err = s.Blob(ctx, hex.EncodeToString(sum[:]))
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("raw read back: %d bytes, equal %v, %v", len(got), bytes.Equal(got, raw), err)
		}
		if _, err := s.Housekeep(ctx, t0.Add(48*time.Hour), Retention{Raw: time.Hour}); err != nil {
			t.Fatal(err)
		}
		s.db.Get(&parts, `SELECT COUNT(*) FROM blob_parts`)
		if parts != 2 {
			t.Errorf("%d blob parts after the raw messages were dropped, want the attachment's 2", parts)
		}
	})
}
