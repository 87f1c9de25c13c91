package mailout_test

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"guichet/signed"
	"guichet/store"
	"guichet/templates"
	"guichet/ticket"
)

var (
	requester = ticket.Actor{Role: ticket.RoleRequester, Address: client}
	alice     = ticket.Actor{Role: ticket.RoleAgent, Address: agentA, Name: "Alice Agent"}
)

// TestWhoGetsWhat runs every row of README's who-gets-what table through the store, the
// planner, the sender and an SMTP relay, in English and in French, and checks who received
// which notification and the headers and bodies of each.
func TestWhoGetsWhat(t *testing.T) {
	assign := func(w *world, n int64) { w.apply(n, ticket.Action{Kind: ticket.ActAssign, Agent: agentA}, alice) }
	solve := func(w *world, n int64) {
		assign(w, n)
		w.apply(n, ticket.Action{Kind: ticket.ActSolve, Text: "Restart the spooler, then print again."}, alice)
	}
	pdf := store.File{Filename: "rapport d'été.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4 test")}
	cases := []struct {
		name   string
		before func(w *world, n int64)
		do     func(w *world, n int64)
		want   map[string]string // recipient → kind
		check  func(t *testing.T, w *world, n int64, got map[string]*sent)
	}{
		{name: "created", want: map[string]string{client: templates.Created, cc: templates.Created, agentA: templates.AgentNew, agentB: templates.AgentNew},
			check: func(t *testing.T, w *world, n int64, got map[string]*sent) {
				if !strings.Contains(got[client].Text, "error 42") || !strings.Contains(got[agentA].Text, "error 42") {
					t.Error("the acknowledgement and the agents' mail must show what the requester wrote")
				}
				if !strings.Contains(got[agentA].Header.Get("From"), "Claire Client via Acme Support") {
					t.Errorf("agents' From = %q, want the requester's name via the brand", got[agentA].Header.Get("From"))
				}
			}},
		{name: "staff reply with attachment", before: assign,
			do: func(w *world, n int64) {
				w.apply(n, ticket.Action{Kind: ticket.ActMessage, Text: "Which model is it?"}, alice, pdf)
			},
			want: map[string]string{client: templates.Reply, cc: templates.Reply},
			check: func(t *testing.T, w *world, n int64, got map[string]*sent) {
				for _, r := range []string{client, cc} {
					if string(got[r].Files["rapport d'été.pdf"]) != "%PDF-1.4 test" {
						t.Errorf("%s: attachment missing or renamed: %v", r, keys(got[r].Files))
					}
					if !strings.Contains(got[r].Text, "Which model is it?") {
						t.Errorf("%s: the reply's text is missing", r)
					}
				}
			}},
		{name: "internal note", before: assign,
			do: func(w *world, n int64) {
				w.apply(n, ticket.Action{Kind: ticket.ActMessage, Visibility: ticket.Internal, Text: "customer is grumpy"}, alice)
			},
			want: map[string]string{}},
		{name: "assigned", do: assign, want: map[string]string{client: templates.Status, cc: templates.Status}},
		{name: "planned", before: assign,
			do:   func(w *world, n int64) { w.apply(n, ticket.Action{Kind: ticket.ActPlan}, alice) },
			want: map[string]string{client: templates.Status, cc: templates.Status}},
		{name: "pending with a question", before: assign,
			do: func(w *world, n int64) {
				w.apply(n, ticket.Action{Kind: ticket.ActPending, Text: "Does it happen with every document?"}, alice)
			},
			want: map[string]string{client: templates.Status, cc: templates.Status},
			check: func(t *testing.T, w *world, n int64, got map[string]*sent) {
				if !strings.Contains(got[client].Text, "Does it happen with every document?") {
					t.Errorf("the pending mail must carry the question:\n%s", got[client].Text)
				}
			}},
		{name: "solution proposed", before: assign,
			do: func(w *world, n int64) {
				w.apply(n, ticket.Action{Kind: ticket.ActSolve, Text: "Restart the spooler, then print again."}, alice)
			},
			want: map[string]string{client: templates.Solved, cc: templates.Solved},
			check: func(t *testing.T, w *world, n int64, got map[string]*sent) {
				for _, path := range []string{"/approve/", "/refuse/"} {
					if !strings.Contains(got[client].Text, "https://help.example.com"+path) || !strings.Contains(got[client].HTML, "https://help.example.com"+path) {
						t.Errorf("the requester's copy lacks the %s link", path)
					}
					if strings.Contains(got[cc].Text+got[cc].HTML, path) {
						t.Errorf("the Cc copy carries the %s link", path)
					}
				}
			}},
		{name: "approved", before: solve,
			do:   func(w *world, n int64) { w.apply(n, ticket.Action{Kind: ticket.ActApprove}, requester) },
			want: map[string]string{client: templates.Closed, cc: templates.Closed, agentA: templates.AgentApproved}},
		{name: "refused", before: solve,
			do: func(w *world, n int64) {
				w.apply(n, ticket.Action{Kind: ticket.ActRefuse, Reason: "It still jams on page 2."}, requester)
			},
			want: map[string]string{client: templates.Refused, agentA: templates.AgentRefused},
			check: func(t *testing.T, w *world, n int64, got map[string]*sent) {
				if !strings.Contains(got[agentA].Text, "It still jams on page 2.") || !strings.Contains(got[client].Text, "It still jams on page 2.") {
					t.Error("the refusal's reason must be in both mails")
				}
			}},
		{name: "closed automatically", before: solve,
			do: func(w *world, n int64) {
				w.clock.Add(8 * 24 * time.Hour)
				w.apply(n, ticket.Action{Kind: ticket.ActAutoClose}, ticket.System)
			},
			want: map[string]string{client: templates.Closed, cc: templates.Closed},
			check: func(t *testing.T, w *world, n int64, got map[string]*sent) {
				if !strings.Contains(got[client].Text, "7") {
					t.Errorf("the closing mail must say after how many days:\n%s", got[client].Text)
				}
			}},
		{name: "closed by an agent", before: assign,
			do:   func(w *world, n int64) { w.apply(n, ticket.Action{Kind: ticket.ActClose}, alice) },
			want: map[string]string{client: templates.Closed, cc: templates.Closed}},
		{name: "reopened by an agent", before: func(w *world, n int64) {
			assign(w, n)
			w.apply(n, ticket.Action{Kind: ticket.ActClose}, alice)
		},
			do: func(w *world, n int64) {
				w.apply(n, ticket.Action{Kind: ticket.ActReopen, Reason: "the fix did not hold"}, alice)
			},
			want: map[string]string{client: templates.Status, cc: templates.Status}},
		{name: "requester follow-up goes to the assignee only", before: assign,
			do: func(w *world, n int64) {
				w.apply(n, ticket.Action{Kind: ticket.ActMessage, Text: "Here is the photo."}, requester,
					store.File{Filename: "photo.jpg", ContentType: "image/jpeg", Data: []byte("jpegdata")})
			},
			want: map[string]string{agentA: templates.AgentFollowUp},
			check: func(t *testing.T, w *world, n int64, got map[string]*sent) {
				if string(got[agentA].Files["photo.jpg"]) != "jpegdata" {
					t.Error("the follow-up's attachment must reach the agent")
				}
			}},
		{name: "follow-up on an unassigned ticket goes to every agent",
			do: func(w *world, n int64) {
				w.apply(n, ticket.Action{Kind: ticket.ActMessage, Text: "Any news?"}, requester)
			},
			want: map[string]string{agentA: templates.AgentFollowUp, agentB: templates.AgentFollowUp}},
		{name: "priority change tells nobody", before: assign,
			do: func(w *world, n int64) {
				w.apply(n, ticket.Action{Kind: ticket.ActPriority, Priority: ticket.PriorityHigh}, alice)
			},
			want: map[string]string{}},
	}
	for _, lang := range []ticket.Lang{ticket.English, ticket.French} {
		for _, c := range cases {
			t.Run(string(lang)+"/"+c.name, func(t *testing.T) {
				w := newWorld(t, nil)
				tk := w.create(lang)
				n := tk.Number
				if c.do != nil {
					w.flush() // the creation's notifications
					if c.before != nil {
						c.before(w, n)
						w.flush()
					}
					c.do(w, n)
				}
				ms := w.flush()
				got := byTo(t, ms)
				if !slices.Equal(sortedKeys(got), sortedKeys(c.want)) {
					t.Fatalf("recipients = %v, want %v", sortedKeys(got), sortedKeys(c.want))
				}
				for rcpt, kind := range c.want {
					checkMail(t, w, n, got[rcpt], kind, lang)
				}
				if c.check != nil {
					c.check(t, w, n, got)
				}
			})
		}
	}
}

// checkMail checks the headers and bodies every notification must have.
func checkMail(t *testing.T, w *world, n int64, m *sent, kind string, lang ticket.Lang) {
	t.Helper()
	id, err := m.Header.MessageID()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := w.s.OutboxList(w.ctx, false, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var row *store.OutboxRow
	for i := range rows {
		if rows[i].MessageID == id {
			row = &rows[i]
		}
	}
	if row == nil {
		t.Fatalf("%s: Message-ID <%s> is not an outbox row's", m.to(), id)
	}
	who := fmt.Sprintf("%s (%s)", m.to(), kind)
	if row.Role == ticket.RoleAgent {
		lang = ticket.English // the team reads the default language, whatever the requester's
	}
	if row.Kind != kind || row.Recipient != m.to() || row.State != store.OutboxSent {
		t.Errorf("%s: row is %s to %s, %s", who, row.Kind, row.Recipient, row.State)
	}
	if num, ok := w.sg.ParseMessageID(id); !ok || num != n {
		t.Errorf("%s: Message-ID <%s> is not a signed id of ticket %d", who, id, n)
	}
	if rid, ok := w.sg.ParseReturnAddress(m.From); !ok || rid != row.ID {
		t.Errorf("%s: envelope sender %q is not the signed return address of row %d", who, m.From, row.ID)
	}
	replyTo, _ := m.Header.AddressList("Reply-To")
	if len(replyTo) != 1 {
		t.Fatalf("%s: Reply-To %q", who, m.Header.Get("Reply-To"))
	}
	if num, base, ok := w.sg.ParseReplyAddress(replyTo[0].Address); !ok || num != n || base != support {
		t.Errorf("%s: Reply-To %q is not the ticket's signed reply address", who, replyTo[0].Address)
	}
	from, _ := m.Header.AddressList("From")
	if len(from) != 1 || from[0].Address != noreply || !strings.Contains(from[0].Name, "Acme Support") {
		t.Errorf("%s: From = %q", who, m.Header.Get("From"))
	}
	if !strings.Contains(m.Subject, ticket.Tag("#", n)) || !strings.Contains(m.Subject, "L'imprimante ne répond plus") {
		t.Errorf("%s: Subject %q lacks the tag or the subject", who, m.Subject)
	}
	for h, want := range map[string]string{"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All", "Content-Language": string(lang)} {
		if got := m.Header.Get(h); got != want {
			t.Errorf("%s: %s = %q, want %q", who, h, got, want)
		}
	}
	if !w.sg.IsLoop(m.Header.Get(signed.LoopHeader)) {
		t.Errorf("%s: no valid loop header", who)
	}
	refs, _ := m.Header.MsgIDList("References")
	irt, _ := m.Header.MsgIDList("In-Reply-To")
	if !slices.Contains(refs, "orig-1@customer.test") && !slices.Contains(refs, "orig-2@customer.test") || len(irt) != 1 || !slices.Contains(refs, irt[0]) {
		t.Errorf("%s: References %v / In-Reply-To %v do not point into the thread", who, refs, irt)
	}
	if topic, _ := m.Header.Text("Thread-Topic"); topic != "L'imprimante ne répond plus" {
		t.Errorf("%s: Thread-Topic %q", who, topic)
	}
	if b, err := base64.StdEncoding.DecodeString(m.Header.Get("Thread-Index")); err != nil || len(b) < 22 {
		t.Errorf("%s: Thread-Index %q is not Outlook's", who, m.Header.Get("Thread-Index"))
	}
	if !strings.Contains(string(m.Data), "multipart/alternative") || !slices.Contains(m.Types, "text/plain") || !slices.Contains(m.Types, "text/html") {
		t.Errorf("%s: parts %v, want text and HTML alternatives", who, m.Types)
	}
	if !strings.HasPrefix(strings.TrimSpace(m.Text), signed.Marker) || !strings.Contains(m.HTML, "Reply above this line") {
		t.Errorf("%s: the reply-above-this-line marker must open the mail", who)
	}
	customer := row.Role != ticket.RoleAgent
	if link := "https://help.example.com/t/"; customer != strings.Contains(m.Text, link) || customer != strings.Contains(m.HTML, link) {
		t.Errorf("%s: ticket link present = %v, want %v", who, !customer, customer)
	}
	if customer {
		follow := map[ticket.Lang]string{ticket.English: "Follow your ticket", ticket.French: "Suivre votre demande"}[lang]
		if !strings.Contains(m.Text, follow) {
			t.Errorf("%s: the %s text lacks %q:\n%s", who, lang, follow, m.Text)
		}
	}
	if strings.Contains(m.HTML, "<script") {
		t.Errorf("%s: HTML has a script", who)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	slices.Sort(k)
	return k
}

func keys(m map[string][]byte) []string { return sortedKeys(m) }
