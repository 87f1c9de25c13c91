package mailout_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"

	"guichet/internal/testclock"
	"guichet/internal/testdb"
	"guichet/mailout"
	"guichet/mailout/relay"
	"guichet/signed"
	"guichet/store"
	"guichet/templates"
	"guichet/ticket"
)

// received is one message the recording relay accepted.
type received struct {
	From string
	To   []string
	Data []byte
}

// recorder is an in-process SMTP relay that keeps what it accepts. fail, when set, answers
// the end of DATA with that error instead.
type recorder struct {
	mu   sync.Mutex
	msgs []received
	fail *smtp.SMTPError
	only map[string]bool // when set, fail only mail to these recipients
	addr string
	srv  *smtp.Server
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	r := &recorder{}
	r.srv = smtp.NewServer(r)
	r.srv.Domain = "relay.test"
	r.srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	go r.srv.Serve(ln)
	t.Cleanup(func() { r.srv.Close() })
	return r
}

func (r *recorder) NewSession(*smtp.Conn) (smtp.Session, error) { return &recSession{r: r}, nil }

func (r *recorder) setFail(e *smtp.SMTPError) {
	r.mu.Lock()
	r.fail = e
	r.mu.Unlock()
}

func (r *recorder) take() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.msgs
	r.msgs = nil
	return m
}

type recSession struct {
	r    *recorder
	from string
	to   []string
}

func (s *recSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *recSession) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = append(s.to, to); return nil }
func (s *recSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if s.r.fail != nil && (s.r.only == nil || s.r.only[s.to[0]]) {
		return s.r.fail
	}
	s.r.msgs = append(s.r.msgs, received{From: s.from, To: s.to, Data: b})
	return nil
}
func (s *recSession) Reset()        { s.from, s.to = "", nil }
func (s *recSession) Logout() error { return nil }

// world is a store with the notification planner, a sender and a recording relay.
type world struct {
	t      *testing.T
	ctx    context.Context
	s      *store.Store
	sg     *signed.Signer
	rec    *recorder
	snd    *mailout.Sender
	clock  *testclock.Clock
	policy ticket.Policy
	cfg    mailout.Config
	ids    int
	dsn    string // the store's database
}

// nextID is the Message-ID of the next ticket's first message: orig-1@customer.test, orig-2…
func (w *world) nextID() string {
	w.ids++
	return fmt.Sprintf("orig-%d@customer.test", w.ids)
}

const (
	support = "support@example.com"
	noreply = "noreply@example.com"
	agentA  = "alice@example.com"
	agentB  = "bob@example.com"
	client  = "claire@customer.test"
	cc      = "marc@customer.test"
)

func newWorld(t *testing.T, tune func(*mailout.Config)) *world {
	t.Helper()
	ctx := context.Background()
	dsn := testdb.DSN(t)
	s, err := store.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	sg, err := signed.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, ctx: ctx, s: s, dsn: dsn, sg: sg, rec: newRecorder(t), clock: testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)),
		policy: ticket.DefaultPolicy()}
	ours := func(a string) bool {
		base := a
		if l, d, ok := strings.Cut(a, "@"); ok {
			l, _, _ = strings.Cut(l, "+")
			base = l + "@" + d
		}
		return base == support || base == noreply
	}
	s.SetPlanner(mailout.Planner(mailout.PlanConfig{Signer: sg, Domain: "example.com", Ours: ours,
		AutoCloseAfter: w.policy.AutoCloseAfter, DefaultLang: ticket.English}))
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := relay.Open("smtp://"+w.rec.addr, relay.Options{Hello: "guichet.test", Concurrency: 2, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	w.cfg = mailout.Config{Store: s, Transport: tr, Signer: sg, Templates: set,
		Brand:   mailout.Brand{Name: "Acme Support", From: noreply},
		Support: support, BaseURL: "https://help.example.com", Types: w.policy.Types,
		Now: w.clock.Now, Name: "test"}
	if tune != nil {
		tune(&w.cfg)
	}
	if w.snd, err = mailout.NewSender(w.cfg); err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct{ addr, name string }{{agentA, "Alice Agent"}, {agentB, "Bob Agent"}} {
		if err := s.AddAgent(ctx, a.addr, a.name, w.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// create opens a ticket from client with cc in copy, in lang.
func (w *world) create(lang ticket.Lang, files ...store.File) ticket.Ticket {
	w.t.Helper()
	t, err := w.s.CreateTicket(w.ctx, store.CreateInput{
		Ticket: ticket.NewTicket{Subject: "L'imprimante ne répond plus", Requester: ticket.Person{Address: client, Name: "Claire Client", Lang: lang},
			Participants: []ticket.Person{{Address: cc, Name: "Marc", Lang: lang}}, Channel: ticket.ChannelEmail, SupportAddress: support},
		By:   ticket.Actor{Role: ticket.RoleRequester, Address: client},
		Text: "The printer on floor 2 shows error 42.", MessageID: w.nextID(), Files: files, Now: w.clock.Now(),
	}, w.policy)
	if err != nil {
		w.t.Fatal(err)
	}
	return t
}

func (w *world) apply(n int64, a ticket.Action, by ticket.Actor, files ...store.File) {
	w.t.Helper()
	w.clock.Add(time.Minute)
	if _, err := w.s.Apply(w.ctx, store.ApplyInput{Number: n, Action: a, Actor: by, Files: files, Now: w.clock.Now()}, w.policy); err != nil {
		w.t.Fatalf("%s: %v", a.Kind, err)
	}
}

// flush runs the sender until nothing is due and returns what the relay received, parsed.
func (w *world) flush() []*sent {
	w.t.Helper()
	for range 20 {
		n, err := w.snd.RunOnce(w.ctx)
		if err != nil {
			w.t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	var out []*sent
	for _, r := range w.rec.take() {
		out = append(out, parseSent(w.t, r))
	}
	return out
}

// sent is a received notification, parsed.
type sent struct {
	received
	Header  mail.Header
	Subject string
	Text    string
	HTML    string
	Files   map[string][]byte
	Types   []string // content types of the parts, in order
}

func parseSent(t *testing.T, r received) *sent {
	t.Helper()
	mr, err := mail.CreateReader(bytes.NewReader(r.Data))
	if err != nil {
		t.Fatalf("notification does not parse: %v\n%s", err, r.Data)
	}
	s := &sent{received: r, Header: mr.Header, Files: map[string][]byte{}}
	s.Subject, _ = mr.Header.Subject()
	ct, _, _ := mr.Header.ContentType()
	s.Types = append(s.Types, ct)
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("part: %v", err)
		}
		body, _ := io.ReadAll(p.Body)
		switch h := p.Header.(type) {
		case *mail.InlineHeader:
			ct, _, _ := h.ContentType()
			s.Types = append(s.Types, ct)
			if ct == "text/html" {
				s.HTML = string(body)
			} else {
				s.Text = string(body)
			}
		case *mail.AttachmentHeader:
			name, _ := h.Filename()
			s.Files[name] = body
		}
	}
	return s
}

func (s *sent) to() string { return s.To[0] }

// byTo indexes notifications by recipient and kind; a recipient getting two of a kind fails.
func byTo(t *testing.T, ms []*sent) map[string]*sent {
	t.Helper()
	out := map[string]*sent{}
	for _, m := range ms {
		if _, dup := out[m.to()]; dup {
			t.Errorf("%s got two notifications: %q and %q", m.to(), out[m.to()].Subject, m.Subject)
		}
		out[m.to()] = m
	}
	return out
}

func recipients(ms []*sent) []string {
	var r []string
	for _, m := range ms {
		r = append(r, m.to())
	}
	return r
}

// batchOf makes a transport take batches, as the Maildir's does: SendBatch sends each message
// in turn.
type batchOf struct{ relay.Transport }

func (b batchOf) SendBatch(ctx context.Context, es []relay.Envelope) []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = b.Send(ctx, e.From, e.To, e.Msg)
	}
	return errs
}

// eachTransport runs test with a relay that takes one message a Send, then with one that takes
// batches (the sender then renders a whole claim before it sends any), tune applied to both.
func eachTransport(t *testing.T, tune func(*mailout.Config), test func(t *testing.T, w *world)) {
	for _, batch := range []bool{false, true} {
		name := "one at a time"
		if batch {
			name = "batched"
		}
		t.Run(name, func(t *testing.T) {
			test(t, newWorld(t, func(c *mailout.Config) {
				if tune != nil {
					tune(c)
				}
				if batch {
					c.Transport = batchOf{c.Transport}
				}
			}))
		})
	}
}
