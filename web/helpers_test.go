package web_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"guichet/internal/testclock"
	"guichet/internal/testdb"
	"guichet/mailout"
	"guichet/signed"
	"guichet/store"
	"guichet/templates"
	"guichet/ticket"
	"guichet/web"
)

const (
	agent        = "alice@example.com"
	client       = "claire@customer.test"
	cc           = "marc@customer.test"
	subject      = "Printer on floor 2 does not answer"
	firstText    = "The printer on floor 2 shows error 42."
	solutionText = "Restart the spooler, then print again."
	secret       = "0123456789abcdef0123456789abcdef"
)

var (
	alice     = ticket.Actor{Role: ticket.RoleAgent, Address: agent, Name: "Alice Agent"}
	requester = ticket.Actor{Role: ticket.RoleRequester, Address: client}
)

// env is a store with mailout's planner, and the pages served over HTTP.
type env struct {
	t      *testing.T
	ctx    context.Context
	s      *store.Store
	sg     *signed.Signer
	set    *templates.Set
	clock  *testclock.Clock
	policy ticket.Policy
	srv    *httptest.Server
	client *http.Client
	posts  atomic.Int64 // POST requests the server received
	// stall, when set, is closed when the next POST's handler starts reading the form, that is
	// once it has checked the link.
	stall atomic.Pointer[chan struct{}]
	ids   int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, testdb.DSN(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	sg, err := signed.New([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, s: s, sg: sg, set: set, clock: testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)),
		policy: ticket.DefaultPolicy()}
	s.SetPlanner(mailout.Planner(mailout.PlanConfig{Signer: sg, Domain: "example.com", AutoCloseAfter: 7 * 24 * time.Hour,
		DefaultLang: ticket.English}))
	if err := s.AddAgent(ctx, agent, "Alice Agent", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h := web.Handler(web.Config{Store: s, Signer: sg, Templates: set, Policy: e.policy, Brand: "Acme", Now: e.clock.Now})
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			e.posts.Add(1)
			if ch := e.stall.Swap(nil); ch != nil {
				r.Body = &firstRead{ReadCloser: r.Body, ch: *ch}
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	e.client = e.srv.Client()
	e.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	e.client.Timeout = 30 * time.Second
	return e
}

// firstRead closes ch when it is first read.
type firstRead struct {
	io.ReadCloser
	once sync.Once
	ch   chan struct{}
}

func (f *firstRead) Read(p []byte) (int, error) {
	f.once.Do(func() { close(f.ch) })
	return f.ReadCloser.Read(p)
}

// fixture is a solved ticket and the notifications that carried its solution.
type fixture struct {
	number   int64
	id       int64 // the ticket's database id
	solution int64 // the waiting solution's message
	req      store.OutboxRow
	part     store.OutboxRow
}

// create opens a ticket from client with cc in copy.
func (e *env) create(lang ticket.Lang) ticket.Ticket {
	e.t.Helper()
	e.ids++
	tk, err := e.s.CreateTicket(e.ctx, store.CreateInput{
		Ticket: ticket.NewTicket{Subject: subject, Requester: ticket.Person{Address: client, Name: "Claire Client", Lang: lang},
			Participants: []ticket.Person{{Address: cc, Name: "Marc", Lang: lang}}, Channel: ticket.ChannelEmail,
			SupportAddress: "support@example.com"},
		By:   requester,
		Text: firstText, MessageID: fmt.Sprintf("orig-%d@customer.test", e.ids), Now: e.clock.Now(),
	}, e.policy)
	if err != nil {
		e.t.Fatal(err)
	}
	return tk
}

// apply does an action a minute after the last one.
func (e *env) apply(n int64, a ticket.Action, by ticket.Actor, files ...store.File) {
	e.t.Helper()
	e.clock.Add(time.Minute)
	if _, err := e.s.Apply(e.ctx, store.ApplyInput{Number: n, Action: a, Actor: by, Files: files, Now: e.clock.Now()}, e.policy); err != nil {
		e.t.Fatalf("%s: %v", a.Kind, err)
	}
}

func (e *env) solve(n int64, text string) {
	e.t.Helper()
	e.apply(n, ticket.Action{Kind: ticket.ActSolve, Text: text}, alice)
}

// solved creates a ticket, assigns it to alice and solves it.
func (e *env) solved(lang ticket.Lang) fixture {
	e.t.Helper()
	tk := e.create(lang)
	e.apply(tk.Number, ticket.Action{Kind: ticket.ActAssign, Agent: agent}, alice)
	e.solve(tk.Number, solutionText)
	return e.fixture(tk.Number)
}

// fixture finds the newest solved notifications of ticket n.
func (e *env) fixture(n int64) fixture {
	e.t.Helper()
	tk, err := e.s.Ticket(e.ctx, n)
	if err != nil {
		e.t.Fatal(err)
	}
	f := fixture{number: n, id: tk.ID}
	for _, r := range e.outbox() { // newest first
		if r.Number != n || r.Kind != templates.Solved {
			continue
		}
		switch {
		case r.Recipient == client && f.req.ID == 0:
			f.req = r
		case r.Recipient == cc && f.part.ID == 0:
			f.part = r
		}
	}
	if f.req.ID == 0 || f.part.ID == 0 {
		e.t.Fatalf("ticket %d: no solved notification for the requester (%d) or the participant (%d)", n, f.req.ID, f.part.ID)
	}
	f.solution, err = strconv.ParseInt(f.req.Data["solution"], 10, 64)
	if err != nil || f.solution == 0 {
		e.t.Fatalf("ticket %d: solved row %d has no solution: %v", n, f.req.ID, f.req.Data)
	}
	if sol, ok, err := e.s.Solution(e.ctx, tk); err != nil || !ok || sol.ID != f.solution {
		e.t.Fatalf("ticket %d: the waiting solution is %d (%v, %v), the notification says %d", n, sol.ID, ok, err, f.solution)
	}
	return f
}

func (e *env) outbox() []store.OutboxRow {
	e.t.Helper()
	rows, err := e.s.OutboxList(e.ctx, false, 10000)
	if err != nil {
		e.t.Fatal(err)
	}
	return rows
}

// rowOf returns the newest outbox row of ticket n for recipient of kind.
func (e *env) rowOf(n int64, recipient, kind string) store.OutboxRow {
	e.t.Helper()
	for _, r := range e.outbox() {
		if r.Number == n && r.Recipient == recipient && r.Kind == kind {
			return r
		}
	}
	e.t.Fatalf("ticket %d: no %s notification to %s", n, kind, recipient)
	return store.OutboxRow{}
}

// token signs a link as mailout does.
func (e *env) token(action string, n, solution, outbox int64, expires time.Time) string {
	return e.sg.LinkToken(signed.Link{Action: action, Number: n, Solution: solution, Outbox: outbox, Expires: expires})
}

// approve, refuse and view are the paths of the links the requester's solved mail carries.
func (e *env) approve(f fixture) string {
	return "/approve/" + e.token(signed.LinkApprove, f.number, f.solution, f.req.ID, e.clock.Now().Add(mailout.ActionLinkTTL))
}

func (e *env) refuse(f fixture) string {
	return "/refuse/" + e.token(signed.LinkRefuse, f.number, f.solution, f.req.ID, e.clock.Now().Add(mailout.ActionLinkTTL))
}

func (e *env) view(n, outbox int64) string {
	return "/t/" + e.token(signed.LinkView, n, 0, outbox, e.clock.Now().Add(mailout.ViewLinkTTL))
}

// tokenOf is the token of a link's path.
func tokenOf(path string) string {
	p, _, _ := strings.Cut(path, "?")
	return p[strings.LastIndexByte(p, '/')+1:]
}

// response is an HTTP response, read.
type response struct {
	status int
	header http.Header
	body   string // raw
	text   string // with HTML entities decoded
}

// do sends a request; hdr are header name and value pairs.
func (e *env) do(method, path string, form url.Values, hdr ...string) response {
	e.t.Helper()
	r, err := e.try(method, path, form, hdr...)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// try sends a request and may run on any goroutine.
func (e *env) try(method, path string, form url.Values, hdr ...string) (response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.srv.URL+path, body)
	if err != nil {
		return response{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b), text: html.UnescapeString(string(b))}, nil
}

func (e *env) get(path string, hdr ...string) response {
	return e.do(http.MethodGet, path, nil, hdr...)
}

func (e *env) post(path string, form url.Values, hdr ...string) response {
	if form == nil {
		form = url.Values{}
	}
	return e.do(http.MethodPost, path, form, hdr...)
}

// state is what a request may change about a ticket and the store.
type state struct {
	Status   ticket.Status
	Assignee string
	Updated  int64
	Lang     ticket.Lang
	Events   int
	Messages int
	Outbox   int // every notification of the store
}

func (e *env) state(n int64) state {
	e.t.Helper()
	tk, err := e.s.Ticket(e.ctx, n)
	if err != nil {
		e.t.Fatal(err)
	}
	evs, err := e.s.Events(e.ctx, tk.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	ms, err := e.s.Messages(e.ctx, tk.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return state{Status: tk.Status, Assignee: tk.Assignee, Updated: tk.Updated.UnixNano(), Lang: tk.Requester.Lang,
		Events: len(evs), Messages: len(ms), Outbox: len(e.outbox())}
}

// unchanged fails when ticket n is not as before.
func (e *env) unchanged(n int64, before state, what string) {
	e.t.Helper()
	if after := e.state(n); after != before {
		e.t.Errorf("%s changed ticket %d:\nbefore %+v\nafter  %+v", what, n, before, after)
	}
}

func (e *env) used(path string) bool {
	e.t.Helper()
	used, err := e.s.TokenUsed(e.ctx, tokenOf(path))
	if err != nil {
		e.t.Fatal(err)
	}
	return used
}

func (e *env) events(n int64, kind ticket.EventKind) []ticket.Event {
	e.t.Helper()
	tk, err := e.s.Ticket(e.ctx, n)
	if err != nil {
		e.t.Fatal(err)
	}
	evs, err := e.s.Events(e.ctx, tk.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []ticket.Event
	for _, ev := range evs {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func (e *env) ticket(n int64) ticket.Ticket {
	e.t.Helper()
	tk, err := e.s.Ticket(e.ctx, n)
	if err != nil {
		e.t.Fatal(err)
	}
	return tk
}

func (e *env) messages(n int64) []ticket.Message {
	e.t.Helper()
	ms, err := e.s.Messages(e.ctx, e.ticket(n).ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return ms
}

// newRows returns the notifications written since the store held before rows, as recipient → kind.
func (e *env) newRows(before int) map[string]string {
	e.t.Helper()
	rows := e.outbox()
	out := map[string]string{}
	for _, r := range rows[:len(rows)-before] {
		if k, dup := out[r.Recipient]; dup {
			e.t.Errorf("%s got two notifications: %s and %s", r.Recipient, k, r.Kind)
		}
		out[r.Recipient] = r.Kind
	}
	return out
}

// Texts of the English pages, from templates/web/en.
const (
	enInvalid  = "This link is not valid."
	enExpired  = "This link has expired."
	enUsed     = "This link was already used."
	enStale    = "This solution is no longer waiting for an answer"
	enCannot   = "This link cannot be used"
	enNothing  = "Nothing was changed."
	enReason   = "Please tell us why the solution does not solve your problem"
	enApproved = "The solution is approved and your ticket is closed."
	enRefused  = "Your refusal is recorded"
)

// wantPage fails unless r has the status and contains every text.
func wantPage(t *testing.T, what string, r response, status int, texts ...string) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: status %d, want %d\n%s", what, r.status, status, r.body)
		return
	}
	for _, s := range texts {
		if !strings.Contains(r.text, s) {
			t.Errorf("%s: the page lacks %q\n%s", what, s, r.body)
		}
	}
}
