package mailin_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"guichet/mailin"
	"guichet/signed"
	"guichet/store"
	"guichet/ticket"
)

var clock = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

type fixture struct {
	t      *testing.T
	s      *store.Store
	p      *mailin.Pipeline
	signer *signed.Signer
	cfg    mailin.Config
}

func newFixture(t *testing.T, tweak func(*mailin.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "g.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAgent(ctx, "alice@support.example", "Alice", clock); err != nil {
		t.Fatal(err)
	}
	sg, _ := signed.New([]byte("a test secret of enough bytes"))
	cfg := mailin.Config{
		SupportAddresses: []string{"support@support.example", "billing@support.example"},
		NoreplyAddress:   "noreply@support.example",
		Routes:           map[string]mailin.Route{"billing@support.example": {Type: "billing", Priority: ticket.PriorityHigh, Lang: ticket.French}},
		TagPrefix:        "#",
		Policy:           ticket.DefaultPolicy(),
		FloodLimit:       20,
		TrustedAuthServ:  []string{"mx.support.example"},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	f := &fixture{t: t, s: s, signer: sg, cfg: cfg}
	now := clock
	f.p = mailin.New(cfg, sg, &mailin.Options{Store: s, Now: func() time.Time { now = now.Add(time.Second); return now }})
	return f
}

func (f *fixture) ingest(raw string) (*mailin.Analysis, ticket.Delivered) {
	f.t.Helper()
	a, d, err := f.p.Ingest(context.Background(), []byte(raw), &mailin.Envelope{Source: "test"})
	if err != nil {
		f.t.Fatalf("ingest: %v", err)
	}
	return a, d
}

func (f *fixture) ticket(n int64) (ticket.Ticket, []ticket.Message, []ticket.Event) {
	f.t.Helper()
	ctx := context.Background()
	t, err := f.s.Ticket(ctx, n)
	if err != nil {
		f.t.Fatal(err)
	}
	ms, _ := f.s.Messages(ctx, t.ID)
	evs, _ := f.s.Events(ctx, t.ID)
	return t, ms, evs
}

// mail builds a message; headers is a list of "Name: value" lines.
func mail(headers []string, body string) string {
	return strings.Join(headers, "\r\n") + "\r\n\r\n" + strings.ReplaceAll(body, "\n", "\r\n")
}

func customerMail(id, subject, body string, extra ...string) string {
	h := append([]string{"From: Jean Dupont <jean@client.example>", "To: support@support.example",
		"Subject: " + subject, "Date: Sun, 22 Nov 2026 09:00:00 +0100", "Message-ID: <" + id + ">"}, extra...)
	return mail(h, body)
}

func TestNewTicketThenEveryThreadingSignal(t *testing.T) {
	f := newFixture(t, nil)
	a, d := f.ingest(customerMail("first@client.example", "Imprimante en panne", "Elle n'imprime plus rien.\n"))
	if !d.Created || d.Number != 1 || a.Kind != mailin.KindNew {
		t.Fatalf("first mail: %+v, kind %s; want ticket 1 created", d, a.Kind)
	}
	tk, ms, _ := f.ticket(1)
	if tk.Requester.Address != "jean@client.example" || tk.Requester.Name != "Jean Dupont" || tk.Channel != ticket.ChannelEmail ||
		tk.SupportAddress != "support@support.example" || len(ms) != 1 || ms[0].Text != "Elle n'imprime plus rien." {
		t.Fatalf("ticket %+v, messages %+v", tk, ms)
	}

	// 1. The signed reply address, with the subject edited.
	reply := f.signer.ReplyAddress("support@support.example", 1)
	a, d = f.ingest(mail([]string{"From: jean@client.example", "To: " + reply, "Subject: something else entirely",
		"Message-ID: <second@client.example>"}, "Toujours en panne.\n\nLe dim. 22 nov. 2026, Support a écrit :\n> Bonjour\n"))
	if d.Number != 1 || a.Kind != mailin.KindFollowUp || *a.ThreadBy != mailin.ByReplyAddress || !a.QuotedRemoved || a.Text != "Toujours en panne." {
		t.Errorf("reply address: %+v, %s by %v, text %q", d, a.Kind, a.ThreadBy, a.Text)
	}
	// 2. References to a stored message.
	a, d = f.ingest(mail([]string{"From: jean@client.example", "To: support@support.example", "Subject: hello",
		"Message-ID: <third@client.example>", "In-Reply-To: <first@client.example>", "References: <first@client.example>"}, "Third.\n"))
	if d.Number != 1 || *a.ThreadBy != mailin.ByReferences {
		t.Errorf("references: %+v by %v", d, a.ThreadBy)
	}
	// References to one of our notifications (a signed Message-ID).
	a, d = f.ingest(mail([]string{"From: jean@client.example", "To: support@support.example", "Subject: hello",
		"Message-ID: <fourth@client.example>", "In-Reply-To: <" + f.signer.MessageID(1, "9", "support.example") + ">"}, "Fourth.\n"))
	if d.Number != 1 || *a.ThreadBy != mailin.ByReferences {
		t.Errorf("our Message-ID: %+v by %v", d, a.ThreadBy)
	}
	// 3. The subject tag, whatever the prefixes.
	for i, subj := range []string{"RE : TR: [#1] Imprimante", "AW: WG: [#1] changed", "Réf. : [#1]"} {
		a, d = f.ingest(customerMail(fmt.Sprintf("tag%d@client.example", i), subj, "Tag.\n"))
		if d.Number != 1 || a.ThreadBy == nil || *a.ThreadBy != mailin.BySubjectTag {
			t.Errorf("subject %q: %+v by %v", subj, d, a.ThreadBy)
		}
	}
	// A stranger with the tag opens a new ticket: ticket numbers are guessable.
	a, d = f.ingest(mail([]string{"From: eve@evil.example", "To: support@support.example", "Subject: Re: [#1] Imprimante",
		"Message-ID: <eve@evil.example>"}, "Let me in.\n"))
	if !d.Created || d.Number != 2 || a.Mentions == nil || *a.Mentions != 1 || a.Ticket != nil {
		t.Errorf("stranger with a tag: %+v, mentions %v, ticket %v; want a new ticket mentioning 1", d, a.Mentions, a.Ticket)
	}
	if tk, _, _ := f.ticket(2); strings.Contains(tk.Subject, "[#1]") {
		t.Errorf("the stranger's ticket keeps the other ticket's tag: %q", tk.Subject)
	}
	if _, ms, _ := f.ticket(1); len(ms) != 7 {
		t.Errorf("ticket 1 has %d messages, want 7", len(ms))
	}
}

func TestReplyAddressAddsParticipant(t *testing.T) {
	f := newFixture(t, nil)
	f.ingest(customerMail("a@client.example", "Help", "x"))
	_, d := f.ingest(mail([]string{"From: colleague@client.example", "To: " + f.signer.ReplyAddress("support@support.example", 1),
		"Subject: Re: Help", "Message-ID: <b@client.example>"}, "Same problem here."))
	tk, _, evs := f.ticket(1)
	if d.Number != 1 || !tk.IsParticipant("colleague@client.example") || evs[len(evs)-1].Kind != ticket.EventParticipantAdded {
		t.Errorf("delivered %+v, participants %+v, events %+v", d, tk.Participants, evs)
	}
	// A forged signature is no reply address: a new ticket.
	forged := strings.Replace(f.signer.ReplyAddress("support@support.example", 1), "+1-", "+2-", 1)
	_, d = f.ingest(mail([]string{"From: eve@evil.example", "To: " + forged, "Subject: x", "Message-ID: <c@evil.example>"}, "x"))
	if !d.Created {
		t.Errorf("forged reply address: %+v, want a new ticket", d)
	}
}

func TestDuplicates(t *testing.T) {
	f := newFixture(t, nil)
	raw := customerMail("dup@client.example", "Once", "x")
	_, d1 := f.ingest(raw)
	_, d2 := f.ingest(raw)
	if !d1.Created || !d2.Duplicate {
		t.Errorf("same Message-ID twice: %+v then %+v", d1, d2)
	}
	noID := mail([]string{"From: jean@client.example", "To: support@support.example", "Subject: no id", "Date: Sun, 22 Nov 2026 09:00:00 +0100"}, "body")
	_, d1 = f.ingest(noID)
	_, d2 = f.ingest("Received: from relay2\r\n" + noID)
	if !d1.Created || !d2.Duplicate {
		t.Errorf("same content without Message-ID twice: %+v then %+v", d1, d2)
	}
	// To two of our addresses at once, delivered once per address: one ticket.
	both := mail([]string{"From: jean@client.example", "To: support@support.example, billing@support.example", "Subject: both", "Message-ID: <both@x>"}, "x")
	f.ingest(both)
	_, d := f.ingest("Delivered-To: billing@support.example\r\n" + both)
	if !d.Duplicate {
		t.Errorf("second copy to another support address: %+v, want duplicate", d)
	}
	all, _ := f.s.Tickets(context.Background(), store.Filter{})
	if len(all) != 3 {
		t.Errorf("%d tickets, want 3", len(all))
	}
}

func TestAutoReplies(t *testing.T) {
	f := newFixture(t, nil)
	f.ingest(customerMail("a@client.example", "Help", "x"))
	cases := []struct {
		name string
		raw  string
	}{
		{"Auto-Submitted", mail([]string{"From: jean@client.example", "To: support@support.example", "Subject: Re: [#1] Help", "Auto-Submitted: auto-replied", "Message-ID: <o1@x>"}, "I am away.")},
		{"French subject", mail([]string{"From: jean@client.example", "To: support@support.example", "Subject: Réponse automatique : [#1] Help", "Message-ID: <o2@x>"}, "Je suis absent.")},
		{"Exchange", mail([]string{"From: jean@client.example", "To: support@support.example", "Subject: Automatic reply: [#1] Help", "X-Auto-Response-Suppress: All", "Message-ID: <o3@x>"}, "Away.")},
		{"Precedence", mail([]string{"From: jean@client.example", "To: support@support.example", "Subject: [#1] Help", "Precedence: auto_reply", "Message-ID: <o4@x>"}, "Away.")},
		{"Out of office", mail([]string{"From: jean@client.example", "To: support@support.example", "Subject: Out of Office: [#1] Help", "Message-ID: <o5@x>"}, "Away.")},
	}
	// Put the ticket in pending first: an auto-reply must not bring it back.
	if _, err := f.s.Apply(context.Background(), store.ApplyInput{Number: 1, Action: ticket.Action{Kind: ticket.ActPending}, Actor: ticket.CLI, Now: clock}, ticket.DefaultPolicy()); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		a, d := f.ingest(c.raw)
		if a.Kind != mailin.KindAutoReply || d.Number != 1 || d.Created {
			t.Errorf("%s: kind %s, %+v; want an autoreply noted on ticket 1", c.name, a.Kind, d)
		}
	}
	tk, ms, _ := f.ticket(1)
	if tk.Status != ticket.StatusPending {
		t.Errorf("status %s after auto-replies, want pending", tk.Status)
	}
	for _, m := range ms[1:] {
		if m.Visibility != ticket.Internal || m.Author.Role != ticket.RoleSystem {
			t.Errorf("auto-reply stored as %s by %s, want an internal system note", m.Visibility, m.Author.Role)
		}
	}
	// An auto-reply that names no ticket is kept, and opens none.
	a, d := f.ingest(mail([]string{"From: x@client.example", "To: support@support.example", "Subject: Out of office", "Auto-Submitted: auto-replied", "Message-ID: <o6@x>"}, "Away."))
	if a.Kind != mailin.KindAutoReply || d.Created || d.Number != 0 || d.Duplicate {
		t.Errorf("unthreaded auto-reply: %s %+v", a.Kind, d)
	}
}

func TestBounceRecordsDeliveryFailure(t *testing.T) {
	f := newFixture(t, nil)
	f.ingest(customerMail("a@client.example", "Help", "x"))
	ours := f.signer.MessageID(1, "5", "support.example")
	dsn := mail([]string{"From: MAILER-DAEMON@mx.client.example", "To: noreply+b5-xxxx@support.example", "Subject: Undelivered Mail Returned to Sender",
		"Message-ID: <bounce1@mx.client.example>", "MIME-Version: 1.0", `Content-Type: multipart/report; report-type=delivery-status; boundary="B"`}, `--B
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.client.example

Final-Recipient: rfc822; jean@client.example
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown

--B
Content-Type: text/rfc822-headers

From: noreply@support.example
To: jean@client.example
Subject: [#1] Help
Message-ID: <`+ours+`>

--B--
`)
	a, d := f.ingest(dsn)
	if a.Kind != mailin.KindBounce || d.Number != 1 || d.Created || len(a.Bounces) != 1 || a.Bounces[0].Recipient != "jean@client.example" ||
		a.Bounces[0].Status != "5.1.1" || !a.Bounces[0].Permanent {
		t.Fatalf("bounce: kind %s, %+v, bounces %+v", a.Kind, d, a.Bounces)
	}
	_, ms, _ := f.ticket(1)
	if last := ms[len(ms)-1]; last.Visibility != ticket.Internal || !strings.Contains(last.Text, "jean@client.example failed (5.1.1, permanent)") {
		t.Errorf("note %+v", last)
	}
}

func TestQuarantinedKinds(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range []struct {
		name, raw, kind string
	}{
		{"loop", mail([]string{"From: someone@x.example", "To: support@support.example", "Subject: x", "Message-ID: <l1@x>", "X-Guichet-Loop: " + f.signer.LoopValue()}, "x"), mailin.KindLoop},
		{"noreply", mail([]string{"From: noreply@support.example", "To: support@support.example", "Subject: x", "Message-ID: <l2@x>"}, "x"), mailin.KindLoop},
		{"spam flag", mail([]string{"From: spam@x.example", "To: support@support.example", "Subject: x", "Message-ID: <s1@x>", "X-Spam-Flag: YES"}, "x"), mailin.KindSpam},
		{"dmarc fail", mail([]string{"From: ceo@bank.example", "To: support@support.example", "Subject: x", "Message-ID: <s2@x>",
			"Authentication-Results: mx.support.example; dmarc=fail header.from=bank.example"}, "x"), mailin.KindSpam},
		{"garbage", "\x00\x01\x02\xff\xfe", mailin.KindUnreadable},
	} {
		a, d := f.ingest(c.raw)
		if a.Kind != c.kind || d.Quarantine == 0 || d.Number != 0 {
			t.Errorf("%s: kind %s, %+v; want %s in quarantine", c.name, a.Kind, d, c.kind)
		}
	}
	// DMARC fail from a server we do not trust is not spam.
	a, _ := f.ingest(mail([]string{"From: ceo@bank.example", "To: support@support.example", "Subject: x", "Message-ID: <s3@x>",
		"Authentication-Results: evil.example; dmarc=fail header.from=bank.example"}, "x"))
	if a.Kind != mailin.KindNew {
		t.Errorf("untrusted Authentication-Results: kind %s, want new", a.Kind)
	}
	qs, _ := f.s.QuarantineList(context.Background(), false)
	if len(qs) != 5 {
		t.Errorf("%d quarantine entries, want 5", len(qs))
	}
}

func TestListMailIsNeverAnswered(t *testing.T) {
	f := newFixture(t, nil)
	a, d := f.ingest(customerMail("list@lists.example", "[users] help", "x", "List-Id: <users.lists.example>"))
	if a.Kind != mailin.KindList || !d.Created {
		t.Errorf("list mail: %s %+v", a.Kind, d)
	}
}

func TestFlood(t *testing.T) {
	f := newFixture(t, func(c *mailin.Config) { c.FloodLimit = 3 })
	var last ticket.Delivered
	for i := range 4 {
		_, last = f.ingest(customerMail(fmt.Sprintf("f%d@x", i), fmt.Sprintf("n%d", i), "x"))
	}
	if last.Quarantine == 0 || last.Created {
		t.Errorf("4th ticket in an hour with a limit of 3: %+v, want quarantine", last)
	}
}

func TestRouting(t *testing.T) {
	f := newFixture(t, nil)
	// A support inbox that redirects: the original sender stays, Delivered-To decides the route.
	_, d := f.ingest(mail([]string{"Delivered-To: billing@support.example", "From: Jean <jean@client.example>", "To: factures@client-company.example",
		"Subject: Facture", "Message-ID: <r1@x>"}, "Ma facture est fausse."))
	tk, _, _ := f.ticket(d.Number)
	if tk.Type != "billing" || tk.Priority != ticket.PriorityHigh || tk.Requester.Lang != ticket.French ||
		tk.SupportAddress != "billing@support.example" || tk.Requester.Address != "jean@client.example" {
		t.Errorf("routed ticket %+v", tk)
	}
}

func TestAgentForwards(t *testing.T) {
	f := newFixture(t, nil)
	inline := mail([]string{"From: Alice <alice@support.example>", "To: support@support.example", "Subject: Fwd: Problème de connexion", "Message-ID: <fw1@x>"},
		`Client important, voir ci-dessous.

---------- Forwarded message ---------
From: Marie Curie <marie@lab.example>
Date: Sat, 21 Nov 2026 at 18:00
Subject: Problème de connexion
To: Alice <alice@support.example>

Je ne peux plus me connecter depuis hier.
`)
	a, d := f.ingest(inline)
	tk, ms, evs := f.ticket(d.Number)
	if !a.Forwarded || a.Requester.Address != "marie@lab.example" || tk.Requester.Address != "marie@lab.example" || tk.Requester.Name != "Marie Curie" ||
		tk.Subject != "Problème de connexion" || ms[0].Text != "Je ne peux plus me connecter depuis hier." || evs[0].Actor != "alice@support.example" ||
		!strings.Contains(evs[0].Reason, "forwarded by alice@support.example") {
		t.Errorf("inline forward: analysis %+v\nticket %+v\nmessages %+v\nevents %+v", a, tk, ms, evs)
	}
	if len(ms) < 2 || ms[1].Visibility != ticket.Internal || !strings.Contains(ms[1].Text, "Client important") {
		t.Errorf("the agent's note: %+v", ms)
	}
	attached := mail([]string{"From: alice@support.example", "To: support@support.example", "Subject: TR: Devis", "Message-ID: <fw2@x>",
		"MIME-Version: 1.0", `Content-Type: multipart/mixed; boundary="M"`}, `--M
Content-Type: text/plain; charset=utf-8

--M
Content-Type: message/rfc822

From: Paul <paul@shop.example>
To: alice@support.example
Subject: Devis
Message-ID: <orig@shop.example>

Pouvez-vous m'envoyer un devis ?
--M--
`)
	a, d = f.ingest(attached)
	tk, ms, _ = f.ticket(d.Number)
	if tk.Requester.Address != "paul@shop.example" || !a.Forwarded || !strings.Contains(ms[0].Text, "devis") {
		t.Errorf("attached forward: ticket %+v, messages %+v", tk, ms)
	}
	// A customer forwarding someone else's mail keeps the ticket.
	_, d = f.ingest(mail([]string{"From: jean@client.example", "To: support@support.example", "Subject: Fwd: look", "Message-ID: <fw3@x>"},
		"---------- Forwarded message ---------\nFrom: Boss <boss@client.example>\nSubject: look\n\nfix it\n"))
	if tk, _, _ := f.ticket(d.Number); tk.Requester.Address != "jean@client.example" {
		t.Errorf("a customer's forward went to %s", tk.Requester.Address)
	}
}

// dkimSigner signs mail as alice's domain with a key the test made, and answers its DNS lookups.
func dkimSigner(t *testing.T) (sign func(string) string, lookup func(string) ([]string, error)) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	sign = func(raw string) string {
		var b bytes.Buffer
		if err := dkim.Sign(&b, strings.NewReader(raw), &dkim.SignOptions{Domain: "support.example", Selector: "s1", Signer: priv}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	lookup = func(domain string) ([]string, error) {
		if domain == "s1._domainkey.support.example" {
			return []string{"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)}, nil
		}
		return nil, fmt.Errorf("no such record %s", domain)
	}
	return sign, lookup
}

func TestAgentCommands(t *testing.T) {
	sign, lookup := dkimSigner(t)
	f := newFixture(t, func(c *mailin.Config) { c.LookupTXT = lookup })
	f.ingest(customerMail("a@client.example", "Help", "x"))
	reply := f.signer.ReplyAddress("support@support.example", 1)
	agentMail := func(id string, extra []string, body string) string {
		return mail(append([]string{"From: Alice <alice@support.example>", "To: " + reply, "Subject: Re: Help", "Message-ID: <" + id + ">",
			"Date: Sun, 22 Nov 2026 10:00:00 +0000"}, extra...), body)
	}
	// Unsigned: nothing applied, kept as an internal note, with why.
	a, _ := f.ingest(agentMail("c1@x", nil, "#priority urgent\n#status pending\nWhich model is it?\n"))
	tk, ms, _ := f.ticket(1)
	if a.Authenticated || len(a.Commands) != 2 || tk.Priority != ticket.PriorityNormal || tk.Status != ticket.StatusNew {
		t.Errorf("unsigned commands: auth %v, commands %+v, ticket %s %s", a.Authenticated, a.Commands, tk.Priority, tk.Status)
	}
	if m := ms[len(ms)-2]; m.Visibility != ticket.Internal || m.Text != "Which model is it?" {
		t.Errorf("unsigned agent message: %+v, want an internal note without the command lines", m)
	}
	if n := ms[len(ms)-1]; !strings.Contains(n.Text, "not applied") {
		t.Errorf("no note saying why: %+v", n)
	}
	// Signed by the agent's domain: applied.
	a, _ = f.ingest(sign(agentMail("c2@x", nil, "#priority urgent\n#status pending\n#assign me\nWhich model is it?\n\nOn Sun, Jean wrote:\n> #status closed\n")))
	tk, ms, _ = f.ticket(1)
	if !a.Authenticated || tk.Priority != ticket.PriorityUrgent || tk.Status != ticket.StatusAssigned || tk.Assignee != "alice@support.example" {
		t.Errorf("signed commands: auth %v (%s), ticket %s %s %q", a.Authenticated, a.AuthWhy, tk.Priority, tk.Status, tk.Assignee)
	}
	// #status pending made the message the question; #assign then moved it to assigned.
	found := false
	for _, m := range ms {
		found = found || m.Text == "Which model is it?" && m.Visibility == ticket.Public && m.Author.Role == ticket.RoleAgent
	}
	if !found {
		t.Errorf("the agent's public question is missing: %+v", ms)
	}
	// Solve by e-mail, authenticated through a trusted Authentication-Results header.
	a, _ = f.ingest(agentMail("c3@x", []string{"Authentication-Results: mx.support.example; dkim=pass header.d=support.example"}, "#solve\nReplace the toner.\n"))
	tk, _, _ = f.ticket(1)
	if !a.Authenticated || tk.Status != ticket.StatusSolved {
		t.Errorf("#solve with trusted Authentication-Results: auth %v (%s), status %s", a.Authenticated, a.AuthWhy, tk.Status)
	}
	// The same header from a server we do not trust counts for nothing.
	a, _ = f.ingest(agentMail("c4@x", []string{"Authentication-Results: mx.evil.example; dkim=pass header.d=support.example"}, "#status closed\nx\n"))
	if a.Authenticated {
		t.Errorf("untrusted Authentication-Results accepted")
	}
	// A DNS failure is no authentication.
	f2 := newFixture(t, func(c *mailin.Config) {
		c.LookupTXT = func(string) ([]string, error) { return nil, fmt.Errorf("SERVFAIL") }
	})
	f2.ingest(customerMail("a@client.example", "Help", "x"))
	a, _ = f2.ingest(sign(mail([]string{"From: alice@support.example", "To: support@support.example", "Subject: [#1] x", "Message-ID: <c5@x>"}, "#priority low\nx")))
	if a.Authenticated {
		t.Errorf("DNS failure counted as authenticated")
	}
	// #assign must name an agent.
	f.ingest(sign(agentMail("c7@x", nil, "#assign eve@evil.example\nnoted\n")))
	if tk, ms, _ := f.ticket(1); tk.Assignee != "alice@support.example" || !strings.Contains(ms[len(ms)-1].Text, "is not an agent") {
		t.Errorf("#assign to a stranger: assignee %q, last message %q", tk.Assignee, ms[len(ms)-1].Text)
	}
	// A customer's # lines are just text.
	a, _ = f.ingest(customerMail("c6@x", "[#1] x", "#status closed\nplease"))
	if len(a.Commands) != 0 || !strings.HasPrefix(a.Text, "#status closed") {
		t.Errorf("customer commands: %+v, text %q", a.Commands, a.Text)
	}
}

func TestLateReplyOpensLinkedTicket(t *testing.T) {
	f := newFixture(t, nil)
	f.ingest(customerMail("a@client.example", "Help", "x"))
	ctx := context.Background()
	if _, err := f.s.Apply(ctx, store.ApplyInput{Number: 1, Action: ticket.Action{Kind: ticket.ActClose}, Actor: ticket.CLI, Now: clock.Add(-30 * 24 * time.Hour)}, ticket.DefaultPolicy()); err != nil {
		t.Fatal(err)
	}
	_, d := f.ingest(customerMail("late@x", "Re: [#1] Help", "It is back."))
	if d.FollowUp != 2 || d.Number != 2 {
		t.Errorf("late reply: %+v, want new ticket 2", d)
	}
	if tk, _, _ := f.ticket(2); tk.LinkedTo != 1 {
		t.Errorf("ticket 2 linked to %d, want 1", tk.LinkedTo)
	}
}

func TestQuoteOnlyReplyIsKept(t *testing.T) {
	f := newFixture(t, nil)
	f.ingest(customerMail("a@client.example", "Help", "x"))
	_, d := f.ingest(customerMail("q@client.example", "Re: [#1] Help", "On Sun, Nov 22, 2026 at 10:00 AM Support <support@support.example> wrote:\n> Any news?\n"))
	_, ms, _ := f.ticket(1)
	if d.Quarantine != 0 || len(ms) != 2 || !strings.Contains(ms[1].Text, "Any news?") {
		t.Errorf("a reply with only a quote: %+v, messages %+v", d, ms)
	}
}

func TestAnalyzeWithoutStore(t *testing.T) {
	sg, _ := signed.New([]byte("a test secret of enough bytes"))
	p := mailin.New(mailin.Config{SupportAddresses: []string{"support@support.example"}, TagPrefix: "#", Policy: ticket.DefaultPolicy()}, sg, nil)
	a, err := p.Analyze(context.Background(), []byte(customerMail("x@y", "[#4] hi", "hello")), nil)
	if err != nil || a.Kind != mailin.KindNew || a.Ticket != nil {
		t.Errorf("got %+v, %v", a, err)
	}
}

func TestOversizedMessageKeepsTextAndRaw(t *testing.T) {
	f := newFixture(t, func(c *mailin.Config) { c.MaxMessageSize = 4096 })
	big := strings.Repeat("QUJD", 4000) // 12 KB once decoded
	raw := mail([]string{"From: jean@client.example", "To: support@support.example", "Subject: Logs", "Message-ID: <big@x>",
		"MIME-Version: 1.0", `Content-Type: multipart/mixed; boundary="M"`}, "--M\nContent-Type: text/plain\n\nHere are the logs.\n--M\n"+
		"Content-Type: application/octet-stream\nContent-Disposition: attachment; filename=logs.bin\nContent-Transfer-Encoding: base64\n\n"+big+"\n--M--\n")
	_, d := f.ingest(raw)
	_, ms, _ := f.ticket(d.Number)
	if !d.Created || len(ms) != 2 || ms[0].Text != "Here are the logs." || len(ms[0].Attachments) != 0 ||
		ms[1].Visibility != ticket.Internal || !strings.Contains(ms[1].Text, "left out: logs.bin") {
		t.Fatalf("oversized message: %+v, messages %+v", d, ms)
	}
	// The raw message is kept whole, for a retry once the limit is raised: its Message-ID is stored once.
	if _, d := f.ingest(raw); !d.Duplicate {
		t.Errorf("the oversized message again: %+v, want duplicate", d)
	}
}

func TestAcceptsRecipient(t *testing.T) {
	f := newFixture(t, func(c *mailin.Config) { c.AcceptDomains = []string{"tickets.example"} })
	for addr, want := range map[string]bool{
		"support@support.example": true, "<Support@Support.example>": true, "support+42-abcdefghij@support.example": true,
		"noreply+b7-abcdefghij@support.example": true, "billing@support.example": true, "anything@tickets.example": true,
		"postmaster@support.example": false, "victim@elsewhere.example": false, "support@support.example.evil": false, "": false,
	} {
		if got := f.p.AcceptsRecipient(addr); got != want {
			t.Errorf("AcceptsRecipient(%q) = %v, want %v", addr, got, want)
		}
	}
}
