package mailout_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"guichet/mailin"
	"guichet/mailout"
	"guichet/store"
	"guichet/templates"
	"guichet/ticket"
)

func (w *world) events(n int64, kind ticket.EventKind) []ticket.Event {
	w.t.Helper()
	t, err := w.s.Ticket(w.ctx, n)
	if err != nil {
		w.t.Fatal(err)
	}
	evs, err := w.s.Events(w.ctx, t.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []ticket.Event
	for _, e := range evs {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func (w *world) rows() map[string]int {
	w.t.Helper()
	rows, err := w.s.OutboxList(w.ctx, false, 10000)
	if err != nil {
		w.t.Fatal(err)
	}
	states := map[string]int{}
	for _, r := range rows {
		states[r.State]++
	}
	return states
}

// The relay refuses everything for a while (421), then comes back: every notification is
// delivered exactly once, with the same Message-ID it was given when the change committed.
func TestRelayDownThenBack(t *testing.T) {
	eachTransport(t, nil, func(t *testing.T, w *world) {
		w.rec.setFail(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"})
		var numbers []int64
		for range 5 {
			numbers = append(numbers, w.create(ticket.English).Number)
		}
		if got := w.flush(); len(got) != 0 {
			t.Fatalf("the relay is down, yet %d messages arrived", len(got))
		}
		before, _ := w.s.OutboxList(w.ctx, false, 100)
		for _, r := range before {
			if r.State != store.OutboxPending || r.Attempts != 1 || r.LastError == "" || !r.NextAttempt.After(w.clock.Now()) {
				t.Fatalf("after a 451 the row must wait for a retry: %+v", r)
			}
		}
		// Still down at the next tries.
		for range 3 {
			w.clock.Add(2 * time.Hour)
			if got := w.flush(); len(got) != 0 {
				t.Fatal("messages arrived while the relay is down")
			}
		}
		w.rec.setFail(nil)
		w.clock.Add(2 * time.Hour)
		got := w.flush()
		want := 5 * 4 // requester, Cc, two agents
		if len(got) != want {
			t.Fatalf("%d messages after the relay came back, want %d", len(got), want)
		}
		ids := map[string]bool{}
		for _, m := range got {
			id, _ := m.Header.MessageID()
			if ids[id] {
				t.Errorf("Message-ID %s delivered twice", id)
			}
			ids[id] = true
		}
		for _, r := range before {
			if !ids[r.MessageID] {
				t.Errorf("row %d's Message-ID %s changed or was not delivered", r.ID, r.MessageID)
			}
		}
		w.clock.Add(24 * time.Hour)
		if again := w.flush(); len(again) != 0 {
			t.Errorf("%d messages delivered again", len(again))
		}
		if st := w.rows(); st[store.OutboxSent] != want || len(st) != 1 {
			t.Errorf("outbox states %v", st)
		}
		_ = numbers
	})
}

// A relay that keeps failing past the retry period: the notification fails, with an event.
func TestRetriesGiveUp(t *testing.T) {
	w := newWorld(t, func(c *mailout.Config) { c.RetryFor = 3 * time.Hour })
	w.rec.setFail(&smtp.SMTPError{Code: 421, Message: "busy"})
	n := w.create(ticket.English).Number
	for range 10 {
		w.flush()
		w.clock.Add(time.Hour)
	}
	// The four creation mails fail, and so do the failure notices they caused (two per customer
	// address, to the two agents); an agent's own failed mail causes none.
	if st := w.rows(); st[store.OutboxFailed] != 8 || len(st) != 1 {
		t.Fatalf("states %v, want 8 failed", st)
	}
	if evs := w.events(n, ticket.EventNotifyFailed); len(evs) != 8 || !strings.Contains(evs[0].Reason, "gave up") {
		t.Errorf("failure events %+v", evs)
	}
	// outbox retry puts them back; the relay is up again: delivered once.
	w.rec.setFail(nil)
	if k, err := w.s.RetryOutbox(w.ctx, 0, w.clock.Now()); err != nil || k < 4 {
		t.Fatalf("retry: %d, %v", k, err)
	}
	got := w.flush()
	created := 0
	for _, m := range got {
		if strings.Contains(m.Subject, "#1]") && m.to() == client {
			created++
		}
	}
	if created != 1 {
		t.Errorf("after outbox retry the acknowledgement arrived %d times", created)
	}
}

// A permanent refusal (550 5.1.1): failed at once, recorded on the ticket, agents told, and the
// address blocked until cleared.
func TestPermanentFailureBlocksAddress(t *testing.T) {
	eachTransport(t, nil, func(t *testing.T, w *world) {
		n := w.create(ticket.English).Number
		w.flush()
		w.apply(n, ticket.Action{Kind: ticket.ActAssign, Agent: agentA}, alice)
		w.rec.only = map[string]bool{client: true, cc: true}
		w.rec.setFail(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"})
		got := w.flush() // the Status mails to client and cc fail for good; the agent is told, once per address
		w.rec.setFail(nil)
		fails := 0
		for _, m := range got {
			if m.to() == agentA && strings.Contains(m.Text, "5.1.1") {
				fails++
			}
		}
		if fails != 2 {
			t.Fatalf("agent got %d failure mails, want 2: %v", fails, recipients(got))
		}
		if evs := w.events(n, ticket.EventNotifyFailed); len(evs) != 2 {
			t.Errorf("failure events: %d", len(evs))
		}
		// Nothing more goes to the bounced address, and that is recorded.
		w.apply(n, ticket.Action{Kind: ticket.ActMessage, Text: "Did you get this?"}, alice)
		if got := w.flush(); len(got) != 0 {
			t.Fatalf("mail went to a bounced address: %v", recipients(got))
		}
		if st := w.rows(); st[store.OutboxSuppressed] != 2 {
			t.Errorf("states %v, want 2 suppressed", st)
		}
		if err := w.s.ClearBounced(w.ctx, client, w.clock.Now()); err != nil {
			t.Fatal(err)
		}
		w.apply(n, ticket.Action{Kind: ticket.ActMessage, Text: "And this?"}, alice)
		if got := w.flush(); len(got) != 1 || got[0].to() != client {
			t.Errorf("after clearing, want one mail to %s, got %v", client, recipients(got))
		}
	})
}

// Never: answers to auto-replies and list mail, internal notes, our own addresses; a bounce
// tells the agents.
func TestNeverNotify(t *testing.T) {
	w := newWorld(t, nil)
	ctx := w.ctx
	// A ticket opened by list mail: the agents learn of it, the list gets no acknowledgement.
	d, err := w.s.Deliver(ctx, &ticket.Inbound{Raw: []byte("list mail"), Dedup: "mid:list-1@lists.test", Received: w.clock.Now(),
		Kind: "list", Notify: false, Actor: ticket.Actor{Role: ticket.RoleRequester, Address: "announce@lists.test"},
		Create: &ticket.NewTicket{Subject: "Newsletter", Requester: ticket.Person{Address: "announce@lists.test"},
			Participants: []ticket.Person{{Address: "support+x@example.com"}}, Channel: ticket.ChannelEmail},
		Action: ticket.Action{Kind: ticket.ActMessage, Text: "Our news", MessageID: "list-1@lists.test"}}, w.policy)
	if err != nil || !d.Created {
		t.Fatal(d, err)
	}
	got := byTo(t, w.flush())
	if _, ok := got["announce@lists.test"]; ok || len(got) != 2 || got[agentA] == nil {
		t.Errorf("list mail: recipients %v, want the two agents only", sortedKeys(got))
	}
	// A bounce of one of our mails on that ticket tells the agents.
	_, err = w.s.Deliver(ctx, &ticket.Inbound{Raw: []byte("bounce"), Dedup: "mid:bounce-1@mx.test", Received: w.clock.Now(),
		Kind: "bounce", Number: d.Number, Actor: ticket.System,
		Action:  ticket.Action{Kind: ticket.ActMessage, Visibility: ticket.Internal, Text: "Delivery to x failed"},
		Bounces: []ticket.Bounce{{Recipient: "gone@customer.test", Status: "5.1.1", Permanent: true, Diagnostic: "user unknown"}}}, w.policy)
	if err != nil {
		t.Fatal(err)
	}
	got = byTo(t, w.flush())
	if len(got) != 2 || got[agentB] == nil || !strings.Contains(got[agentB].Text, "gone@customer.test") {
		t.Errorf("bounce: recipients %v, want both agents told about gone@customer.test", sortedKeys(got))
	}
	if b, _ := w.s.Bounced(ctx, "gone@customer.test"); !b {
		t.Error("a permanent bounce must block the address")
	}
}

// Over the rate limit, automatic notifications are delayed and then sent merged into one; a
// staff reply is never held back.
func TestRateLimitDelaysAndMerges(t *testing.T) {
	eachTransport(t, func(c *mailout.Config) { c.RateLimit = 3; c.RateWindow = 10 * time.Minute }, func(t *testing.T, w *world) {
		n := w.create(ticket.English).Number // 1 to the requester
		w.flush()
		w.apply(n, ticket.Action{Kind: ticket.ActAssign, Agent: agentA}, alice) // 2
		w.flush()
		w.apply(n, ticket.Action{Kind: ticket.ActPlan}, alice) // 3
		w.flush()
		w.apply(n, ticket.Action{Kind: ticket.ActPending, Text: "Which floor?"}, alice) // held
		w.flush()
		w.apply(n, ticket.Action{Kind: ticket.ActPlan}, alice) // held
		toClient := func(ms []*sent) (k int) {
			for _, m := range ms {
				if m.to() == client {
					k++
				}
			}
			return k
		}
		if k := toClient(w.flush()); k != 0 {
			t.Fatalf("%d mails to the requester over the limit", k)
		}
		if evs := w.events(n, ticket.EventNotifyDelayed); len(evs) != 4 { // two rows, requester and Cc
			t.Errorf("delayed events: %d, want 4", len(evs))
		}
		// A staff reply goes at once.
		w.apply(n, ticket.Action{Kind: ticket.ActMessage, Text: "Urgent: unplug it."}, alice)
		if got := w.flush(); toClient(got) != 1 {
			t.Fatalf("the staff reply was held back: %v", recipients(got))
		}
		// When the window frees up, the held ones go as one digest.
		w.clock.Add(11 * time.Minute)
		got := w.flush()
		var digest *sent
		for _, m := range got {
			if m.to() == client {
				if digest != nil {
					t.Fatal("more than one mail to the requester after the window")
				}
				digest = m
			}
		}
		if digest == nil || !strings.Contains(digest.Text, "Which floor?") {
			t.Fatalf("no digest with the held notifications: %+v", digest)
		}
		rows, _ := w.s.OutboxList(w.ctx, false, 100)
		merged := 0
		for _, r := range rows {
			if r.State == store.OutboxMerged && r.Recipient == client {
				merged++
			}
			if r.State == store.OutboxPending {
				t.Errorf("row %d still pending", r.ID)
			}
		}
		if merged != 1 {
			t.Errorf("%d rows merged for the requester, want 1", merged)
		}
	})
}

// The rate limit holds within one claim too: five notifications to the requester, claimed
// together, and three go (the batched sender counts each before it sends any).
func TestRateLimitWithinOneClaim(t *testing.T) {
	eachTransport(t, func(c *mailout.Config) { c.RateLimit = 3; c.RateWindow = 10 * time.Minute }, func(t *testing.T, w *world) {
		n := w.create(ticket.English).Number
		w.apply(n, ticket.Action{Kind: ticket.ActAssign, Agent: agentA}, alice)
		w.apply(n, ticket.Action{Kind: ticket.ActPlan}, alice)
		w.apply(n, ticket.Action{Kind: ticket.ActPending, Text: "Which floor?"}, alice)
		w.apply(n, ticket.Action{Kind: ticket.ActPlan}, alice)
		k := 0
		for _, m := range w.flush() {
			if m.to() == client {
				k++
			}
		}
		if k != 3 {
			t.Errorf("%d mails to the requester from one claim, want 3 (the limit)", k)
		}
		if evs := w.events(n, ticket.EventNotifyDelayed); len(evs) != 4 { // two rows, requester and Cc
			t.Errorf("delayed events: %d, want 4", len(evs))
		}
	})
}

// Two senders on one database never send the same row twice.
func TestTwoSendersSendOnce(t *testing.T) {
	w := newWorld(t, func(c *mailout.Config) { c.RateLimit = -1 })
	for range 40 {
		w.create(ticket.English)
	}
	other := w.cfg
	other.Name = "other"
	snd2, err := mailout.NewSender(other)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, s := range []*mailout.Sender{w.snd, snd2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := s.RunOnce(w.ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	got := w.rec.take()
	seen := map[string]int{}
	for _, m := range got {
		seen[parseSent(t, m).Header.Get("Message-Id")]++
	}
	if len(got) != 160 || len(seen) != 160 {
		t.Errorf("%d messages, %d distinct, want 160 each", len(got), len(seen))
	}
}

// A sender that claimed rows and died: once its lease runs out, another delivers them.
func TestCrashedSenderLeaseExpires(t *testing.T) {
	w := newWorld(t, nil)
	w.create(ticket.English)
	claimed, err := w.s.ClaimOutbox(w.ctx, "dead", w.clock.Now(), 5*time.Minute, 100)
	if err != nil || len(claimed) != 4 {
		t.Fatal(len(claimed), err)
	}
	if got := w.flush(); len(got) != 0 {
		t.Fatal("rows claimed by a live lease were sent by another sender")
	}
	w.clock.Add(6 * time.Minute)
	if got := w.flush(); len(got) != 4 {
		t.Fatalf("after the lease, %d delivered, want 4", len(got))
	}
}

// A requester answers the solution by e-mail: approve when the reply is threaded by the
// solution's notification, refuse with a reason through the signed reply address, and nothing
// on a subject tag alone.
func TestAnswerByEmail(t *testing.T) {
	w := newWorld(t, func(c *mailout.Config) { c.RateLimit = -1 })
	p := mailin.New(mailin.Config{SupportAddresses: []string{support}, NoreplyAddress: noreply, TagPrefix: "#", Policy: w.policy},
		w.sg, &mailin.Options{Store: w.s, Now: w.clock.Now})
	solved := func() (int64, *sent) {
		n := w.create(ticket.English).Number
		w.apply(n, ticket.Action{Kind: ticket.ActAssign, Agent: agentA}, alice)
		w.apply(n, ticket.Action{Kind: ticket.ActSolve, Text: "Restart the spooler."}, alice)
		var mail *sent
		for _, m := range w.flush() {
			if m.to() == client && strings.Contains(m.Text, "/approve/") {
				mail = m
			}
		}
		if mail == nil {
			t.Fatal("no solution mail")
		}
		return n, mail
	}
	reply := func(to, inReplyTo, subject, body string) {
		t.Helper()
		w.clock.Add(time.Minute)
		raw := fmt.Sprintf("From: Claire Client <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%d@customer.test>\r\n", client, to, subject, w.clock.Now().UnixNano())
		if inReplyTo != "" {
			raw += "In-Reply-To: <" + inReplyTo + ">\r\n"
		}
		raw += "Date: " + w.clock.Now().Format(time.RFC1123Z) + "\r\n\r\n" + body + "\r\n"
		if _, _, err := p.Ingest(context.Background(), []byte(raw), &mailin.Envelope{Source: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	status := func(n int64) ticket.Status {
		tk, err := w.s.Ticket(w.ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		return tk.Status
	}

	// 1. "Approve" sent to the support address, threaded by the solution's Message-ID.
	n, m := solved()
	id, _ := m.Header.MessageID()
	reply(support, id, "Re: "+m.Subject, "Approve\n\nWorks now, thanks.\n\n"+"> quoted")
	if st := status(n); st != ticket.StatusClosed {
		t.Errorf("approve threaded by the notification: status %s, want closed", st)
	}
	if evs := w.events(n, ticket.EventSolutionApproved); len(evs) != 1 {
		t.Errorf("approval events: %d", len(evs))
	}

	// 2. "refuser : raison" to the signed reply address.
	n, m = solved()
	rt, _ := m.Header.AddressList("Reply-To")
	reply(rt[0].Address, "", "Re: whatever", "Refuser : toujours en panne")
	if st := status(n); st != ticket.StatusAssigned {
		t.Errorf("refuse through the reply address: status %s, want assigned", st)
	}
	if evs := w.events(n, ticket.EventSolutionRefused); len(evs) != 1 || evs[0].Reason != "toujours en panne" {
		t.Errorf("refusal events %+v", evs)
	}
	got := byTo(t, w.flush())
	if got[agentA] == nil || got[client] == nil {
		t.Errorf("after a refusal by mail the agent and the requester are told: %v", sortedKeys(got))
	}

	// 3. Subject tag alone (From can be forged): not applied, the ticket stays solved, a note says why.
	n, m = solved()
	reply(support, "", m.Subject, "approve")
	if st := status(n); st != ticket.StatusSolved {
		t.Errorf("approve on a subject tag alone: status %s, want solved", st)
	}
	tk, _ := w.s.Ticket(w.ctx, n)
	msgs, _ := w.s.Messages(w.ctx, tk.ID)
	note := false
	for _, msg := range msgs {
		note = note || msg.Visibility == ticket.Internal && strings.Contains(msg.Text, "not applied")
	}
	if !note {
		t.Error("no internal note saying why the approval was not applied")
	}
	if got := w.flush(); len(got) != 1 || got[0].to() != agentA {
		// the requester's message reaches the assignee as a follow-up; nobody is told of a closing
		t.Errorf("after an untrusted approve: %v", recipients(got))
	}
	_ = templates.Kinds
}

// A bounce that quotes nothing of our mail still finds its ticket: it comes back to the
// notification's signed return address. The address is blocked and the agents are told.
func TestBounceToReturnAddress(t *testing.T) {
	w := newWorld(t, nil)
	p := mailin.New(mailin.Config{SupportAddresses: []string{support}, NoreplyAddress: noreply, TagPrefix: "#", Policy: w.policy},
		w.sg, &mailin.Options{Store: w.s, Now: w.clock.Now})
	n := w.create(ticket.English).Number
	var ret string
	for _, m := range w.flush() {
		if m.to() == cc {
			ret = m.From
		}
	}
	dsn := "From: MAILER-DAEMON@mx.customer.test\r\nTo: " + ret + "\r\nSubject: Undelivered Mail Returned to Sender\r\n" +
		"Message-ID: <dsn-1@mx.customer.test>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nThis is the mail system. Your message could not be delivered.\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.customer.test\r\n\r\n" +
		"Final-Recipient: rfc822; " + cc + "\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n" +
		"--b--\r\n"
	a, d, err := p.Ingest(w.ctx, []byte(dsn), &mailin.Envelope{From: "", To: []string{ret}, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Kind != mailin.KindBounce || d.Number != n || a.ThreadBy == nil || *a.ThreadBy != mailin.ByReturnAddress {
		t.Fatalf("kind %s, ticket %d; want a bounce on ticket %d (thread %v)", a.Kind, d.Number, n, a.ThreadBy)
	}
	if b, _ := w.s.Bounced(w.ctx, cc); !b {
		t.Error("the bounced address is not blocked")
	}
	got := byTo(t, w.flush())
	if got[agentA] == nil || !strings.Contains(got[agentA].Text, cc) {
		t.Errorf("agents not told of the failure: %v", sortedKeys(got))
	}
}

// Replies to a real notification, as mail clients write them, come back as follow-ups holding
// only what the requester wrote: quoting below an attribution line (Gmail, Thunderbird, Apple
// Mail), Outlook's header block, HTML-only with the quote in a blockquote, and a top-posted
// "approve" with a signature.
func TestRepliesToNotifications(t *testing.T) {
	w := newWorld(t, func(c *mailout.Config) { c.RateLimit = -1 })
	p := mailin.New(mailin.Config{SupportAddresses: []string{support}, NoreplyAddress: noreply, TagPrefix: "#", Policy: w.policy},
		w.sg, &mailin.Options{Store: w.s, Now: w.clock.Now})
	n := w.create(ticket.English).Number
	w.apply(n, ticket.Action{Kind: ticket.ActAssign, Agent: agentA}, alice)
	var note *sent
	for _, m := range w.flush() {
		if m.to() == client {
			note = m
		}
	}
	if note == nil {
		t.Fatal("no notification to reply to")
	}
	id, _ := note.Header.MessageID()
	rt, _ := note.Header.AddressList("Reply-To")
	quoted := "> " + strings.ReplaceAll(strings.TrimSpace(note.Text), "\n", "\n> ")
	cases := []struct {
		name, ct, body, want string
	}{
		{"gmail", "text/plain; charset=utf-8", "It is the HP in room 12.\n\nOn Mon, 2 Mar 2026 at 10:01, Acme Support <" + noreply + "> wrote:\n" + quoted + "\n",
			"It is the HP in room 12."},
		{"outlook", "text/plain; charset=utf-8", "Still jammed this morning.\n\n________________________________\nFrom: Acme Support <" + noreply +
			">\nSent: Monday, March 2, 2026 10:01 AM\nTo: Claire Client <" + client + ">\nSubject: " + note.Subject + "\n\n" + note.Text, "Still jammed this morning."},
		{"html only", "text/html; charset=utf-8", "<html><body><div dir=\"ltr\">Model LaserJet 4 &amp; toner new.</div><br><div class=\"gmail_quote\">" +
			"<div>Le lun. 2 mars 2026, Acme Support a écrit :</div><blockquote class=\"gmail_quote\">" + note.HTML + "</blockquote></div></body></html>",
			"Model LaserJet 4 & toner new."},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w.clock.Add(time.Minute)
			raw := fmt.Sprintf("From: Claire Client <%s>\r\nTo: %s\r\nSubject: RE: %s\r\nMessage-ID: <reply-%d@customer.test>\r\n"+
				"In-Reply-To: <%s>\r\nReferences: <%s>\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: %s\r\n\r\n%s",
				client, rt[0].Address, note.Subject, i, id, id, w.clock.Now().Format(time.RFC1123Z), c.ct, strings.ReplaceAll(c.body, "\n", "\r\n"))
			a, d, err := p.Ingest(w.ctx, []byte(raw), &mailin.Envelope{Source: "test"})
			if err != nil {
				t.Fatal(err)
			}
			if d.Number != n || d.Created {
				t.Fatalf("reply went to ticket %d (created %v), want a follow-up on %d; kind %s", d.Number, d.Created, n, a.Kind)
			}
			tk, _ := w.s.Ticket(w.ctx, n)
			msgs, _ := w.s.Messages(w.ctx, tk.ID)
			last := msgs[len(msgs)-1]
			if strings.TrimSpace(last.Text) != c.want {
				t.Errorf("stored text %q, want %q", last.Text, c.want)
			}
		})
	}
}
