package schedule_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"guichet/internal/testclock"
	"guichet/internal/testdb"
	"guichet/mailout"
	"guichet/schedule"
	"guichet/signed"
	"guichet/store"
	"guichet/templates"
	"guichet/ticket"
)

type world struct {
	t      *testing.T
	ctx    context.Context
	s      *store.Store
	clock  *testclock.Clock
	policy ticket.Policy
	tp     ticket.TimerPolicy
	sched  *schedule.Scheduler
	msgs   int
}

const agent = "alice@example.com"

// monday is 2026-03-02 10:00 in Paris.
var paris, _ = time.LoadLocation("Europe/Paris")
var monday = time.Date(2026, 3, 2, 10, 0, 0, 0, paris)

func newWorld(t *testing.T, dsn string, tune func(*ticket.TimerPolicy)) *world {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, ctx: ctx, s: s, clock: testclock.New(monday), policy: ticket.DefaultPolicy()}
	w.tp = ticket.TimerPolicy{AutoCloseAfter: 7 * 24 * time.Hour, RemindAfter: 3 * 24 * time.Hour, EscalateAfter: 4 * time.Hour}
	if tune != nil {
		tune(&w.tp)
	}
	sg, _ := signed.New([]byte("0123456789abcdef0123456789abcdef"))
	s.SetPlanner(mailout.Planner(mailout.PlanConfig{Signer: sg, Domain: "example.com", AutoCloseAfter: w.tp.AutoCloseAfter,
		AutoCloseByRoute: w.tp.AutoCloseByRoute, PendingCloseAfter: w.tp.PendingCloseAfter, RemindAfter: w.tp.RemindAfter,
		EscalateAfter: w.tp.EscalateAfter}))
	s.SetTimerPolicy(w.tp)
	if err := s.AddAgent(ctx, agent, "Alice", w.clock.Now()); err != nil {
		t.Fatal(err)
	}
	w.sched, err = schedule.New(schedule.Config{Store: s, Policy: w.policy, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) create(support string) int64 {
	w.t.Helper()
	w.msgs++
	tk, err := w.s.CreateTicket(w.ctx, store.CreateInput{Ticket: ticket.NewTicket{Subject: "Printer", SupportAddress: support,
		Requester: ticket.Person{Address: fmt.Sprintf("client%d@customer.test", w.msgs)}, Channel: ticket.ChannelEmail},
		By: ticket.Actor{Role: ticket.RoleRequester}, Text: "It jams.", MessageID: fmt.Sprintf("m%d@customer.test", w.msgs), Now: w.clock.Now()}, w.policy)
	if err != nil {
		w.t.Fatal(err)
	}
	return tk.Number
}

func (w *world) apply(n int64, a ticket.Action) {
	w.t.Helper()
	by := ticket.Actor{Role: ticket.RoleAgent, Address: agent}
	if a.Kind == ticket.ActMessage && a.Visibility == "" || a.Kind == ticket.ActApprove {
		by = ticket.Actor{Role: ticket.RoleRequester}
	}
	if _, err := w.s.Apply(w.ctx, store.ApplyInput{Number: n, Action: a, Actor: by, Now: w.clock.Now()}, w.policy); err != nil {
		w.t.Fatalf("%s: %v", a.Kind, err)
	}
}

// at moves the clock to t and runs one scheduler pass; it returns what fired.
func (w *world) at(t time.Time) []store.Fired {
	w.t.Helper()
	w.clock.Set(t)
	fired, err := w.sched.RunOnce(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	return fired
}

func (w *world) status(n int64) ticket.Status {
	w.t.Helper()
	tk, err := w.s.Ticket(w.ctx, n)
	if err != nil {
		w.t.Fatal(err)
	}
	return tk.Status
}

// outbox counts notification rows by kind.
func (w *world) outbox() map[string]int {
	w.t.Helper()
	rows, err := w.s.OutboxList(w.ctx, false, 100000)
	if err != nil {
		w.t.Fatal(err)
	}
	m := map[string]int{}
	for _, r := range rows {
		m[r.Kind]++
	}
	return m
}

func (w *world) events(n int64, kind ticket.EventKind) int {
	w.t.Helper()
	tk, _ := w.s.Ticket(w.ctx, n)
	evs, err := w.s.Events(w.ctx, tk.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	k := 0
	for _, e := range evs {
		if e.Kind == kind {
			k++
		}
	}
	return k
}

func TestTimedRules(t *testing.T) {
	hour, day := time.Hour, 24*time.Hour
	cases := []struct {
		name string
		tune func(*ticket.TimerPolicy)
		run  func(t *testing.T, w *world)
	}{
		{"solved closes after the delay, not before", nil, func(t *testing.T, w *world) {
			n := w.create("")
			w.apply(n, ticket.Action{Kind: ticket.ActAssign, Agent: agent})
			w.apply(n, ticket.Action{Kind: ticket.ActSolve, Text: "Restart it."})
			if f := w.at(monday.Add(7*day - time.Second)); len(f) != 0 || w.status(n) != ticket.StatusSolved {
				t.Fatalf("fired early: %v", f)
			}
			f := w.at(monday.Add(7 * day))
			if len(f) != 1 || f[0].What != "closed" || w.status(n) != ticket.StatusClosed {
				t.Fatalf("at the due time: %v, status %s", f, w.status(n))
			}
			if w.events(n, ticket.EventClosedAuto) != 1 || w.outbox()[templates.Closed] != 1 {
				t.Errorf("want one closed_automatically event and one closing mail: %v", w.outbox())
			}
			if f := w.at(monday.Add(30 * day)); len(f) != 0 {
				t.Errorf("fired again: %v", f)
			}
		}},
		{"an answer before the delay cancels the closing", nil, func(t *testing.T, w *world) {
			n := w.create("")
			w.apply(n, ticket.Action{Kind: ticket.ActAssign, Agent: agent})
			w.apply(n, ticket.Action{Kind: ticket.ActSolve, Text: "Restart it."})
			w.clock.Set(monday.Add(2 * day))
			w.apply(n, ticket.Action{Kind: ticket.ActApprove})
			if f := w.at(monday.Add(8 * day)); len(f) != 0 || w.events(n, ticket.EventClosedAuto) != 0 {
				t.Errorf("an approved ticket was closed again: %v", f)
			}
		}},
		{"per-route delay", func(p *ticket.TimerPolicy) {
			p.AutoCloseByRoute = map[string]time.Duration{"vip@example.com": 2 * day}
		}, func(t *testing.T, w *world) {
			vip, std := w.create("vip@example.com"), w.create("support@example.com")
			for _, n := range []int64{vip, std} {
				w.apply(n, ticket.Action{Kind: ticket.ActAssign, Agent: agent})
				w.apply(n, ticket.Action{Kind: ticket.ActSolve, Text: "Done."})
			}
			w.at(monday.Add(2 * day))
			if w.status(vip) != ticket.StatusClosed || w.status(std) != ticket.StatusSolved {
				t.Errorf("vip %s, standard %s after 2 days", w.status(vip), w.status(std))
			}
		}},
		{"pending reminds once, and again for a new question", nil, func(t *testing.T, w *world) {
			n := w.create("")
			w.apply(n, ticket.Action{Kind: ticket.ActAssign, Agent: agent})
			w.apply(n, ticket.Action{Kind: ticket.ActPending, Text: "Which model?"})
			w.at(monday.Add(3*day - time.Minute))
			if w.outbox()[templates.Reminder] != 0 {
				t.Fatal("reminded early")
			}
			if f := w.at(monday.Add(3 * day)); len(f) != 1 || f[0].What != "reminded" {
				t.Fatalf("no reminder at 3 days: %v", f)
			}
			w.apply(n, ticket.Action{Kind: ticket.ActMessage, Visibility: ticket.Internal, Text: "still waiting"})
			w.at(monday.Add(10 * day))
			if w.outbox()[templates.Reminder] != 1 || w.events(n, ticket.EventReminded) != 1 || w.status(n) != ticket.StatusPending {
				t.Fatalf("reminders %d, events %d: once only, and the ticket stays pending", w.outbox()[templates.Reminder], w.events(n, ticket.EventReminded))
			}
			w.apply(n, ticket.Action{Kind: ticket.ActPlan})
			w.apply(n, ticket.Action{Kind: ticket.ActPending, Text: "And the serial number?"})
			w.at(monday.Add(13*day + time.Minute))
			if w.outbox()[templates.Reminder] != 2 {
				t.Errorf("a new question gets its own reminder: %d", w.outbox()[templates.Reminder])
			}
		}},
		{"pending closes when configured", func(p *ticket.TimerPolicy) { p.PendingCloseAfter = 10 * day }, func(t *testing.T, w *world) {
			n := w.create("")
			w.apply(n, ticket.Action{Kind: ticket.ActAssign, Agent: agent})
			w.apply(n, ticket.Action{Kind: ticket.ActPending, Text: "Which model?"})
			w.at(monday.Add(3 * day))
			w.at(monday.Add(10 * day))
			if w.status(n) != ticket.StatusClosed || w.events(n, ticket.EventReminded) != 1 {
				t.Errorf("status %s, reminders %d", w.status(n), w.events(n, ticket.EventReminded))
			}
			// Catching up after downtime past both: the ticket closes, without a stale reminder first.
			m := w.create("")
			w.apply(m, ticket.Action{Kind: ticket.ActAssign, Agent: agent})
			w.apply(m, ticket.Action{Kind: ticket.ActPending, Text: "Which model?"})
			w.at(monday.Add(30 * day))
			if w.status(m) != ticket.StatusClosed || w.events(m, ticket.EventReminded) != 0 {
				t.Errorf("after downtime: status %s, reminders %d", w.status(m), w.events(m, ticket.EventReminded))
			}
		}},
		{"new and unassigned escalates once", nil, func(t *testing.T, w *world) {
			n := w.create("")
			if f := w.at(monday.Add(4 * hour)); len(f) != 1 || f[0].What != "escalated" {
				t.Fatalf("no escalation at 4 h: %v", f)
			}
			w.at(monday.Add(40 * hour))
			if w.outbox()[templates.AgentEscalation] != 1 || w.events(n, ticket.EventEscalated) != 1 {
				t.Errorf("escalations: %d mails, %d events", w.outbox()[templates.AgentEscalation], w.events(n, ticket.EventEscalated))
			}
			m := w.create("")
			w.apply(m, ticket.Action{Kind: ticket.ActAssign, Agent: agent})
			w.at(monday.Add(80 * hour))
			if w.events(m, ticket.EventEscalated) != 0 {
				t.Error("an assigned ticket was escalated")
			}
		}},
		{"escalation counts business hours", func(p *ticket.TimerPolicy) {
			p.Calendar, _ = ticket.ParseCalendar("Europe/Paris mon-fri 09:00-18:00")
		}, func(t *testing.T, w *world) {
			friday := time.Date(2026, 3, 6, 17, 0, 0, 0, paris)
			w.clock.Set(friday)
			n := w.create("")
			if f := w.at(time.Date(2026, 3, 9, 11, 59, 0, 0, paris)); len(f) != 0 {
				t.Fatalf("escalated at night or on the week-end: %v", f)
			}
			if f := w.at(time.Date(2026, 3, 9, 12, 0, 0, 0, paris)); len(f) != 1 || w.events(n, ticket.EventEscalated) != 1 {
				t.Fatalf("want the escalation Monday 12:00 (1 h Friday + 3 h Monday): %v", f)
			}
		}},
		{"days of downtime catch up in one pass", nil, func(t *testing.T, w *world) {
			var ns []int64
			for range 25 {
				n := w.create("")
				w.apply(n, ticket.Action{Kind: ticket.ActAssign, Agent: agent})
				w.apply(n, ticket.Action{Kind: ticket.ActSolve, Text: "Done."})
				ns = append(ns, n)
			}
			f := w.at(monday.Add(40 * day))
			if len(f) != 25 {
				t.Fatalf("%d fired, want 25", len(f))
			}
			for _, n := range ns {
				if w.status(n) != ticket.StatusClosed {
					t.Errorf("ticket %d is %s", n, w.status(n))
				}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newWorld(t, testdb.DSN(t), c.tune)) })
	}
}

// Two schedulers on one database: each due ticket is closed once, with one closing mail.
func TestTwoSchedulersFireOnce(t *testing.T) {
	dsn := testdb.DSN(t)
	w := newWorld(t, dsn, nil)
	const n = 300
	for range n {
		k := w.create("")
		w.apply(k, ticket.Action{Kind: ticket.ActAssign, Agent: agent})
		w.apply(k, ticket.Action{Kind: ticket.ActSolve, Text: "Done."})
	}
	w.clock.Set(monday.Add(8 * 24 * time.Hour))
	w2 := newWorld(t, dsn, nil) // a second instance: its own store, same database
	w2.clock.Set(w.clock.Now())
	var wg sync.WaitGroup
	total := make([]int, 2)
	for i, sc := range []*schedule.Scheduler{w.sched, w2.sched} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				f, err := sc.RunOnce(w.ctx)
				if err != nil {
					t.Error(err)
					return
				}
				total[i] += len(f)
			}
		}()
	}
	wg.Wait()
	closedEvents := 0
	for k := int64(1); k <= n; k++ {
		closedEvents += w.events(k, ticket.EventClosedAuto)
	}
	t.Logf("instance 1 fired %d, instance 2 fired %d", total[0], total[1])
	if total[0]+total[1] != n || closedEvents != n || w.outbox()[templates.Closed] != n {
		t.Errorf("fired %d+%d, %d closed_automatically events, %d closing mails; want %d of each",
			total[0], total[1], closedEvents, w.outbox()[templates.Closed], n)
	}
}

// Run wakes for the next due timer: a rule fires within seconds of its due time. The poll is an
// hour and the scheduler first waits for the ticket's escalation, an hour away: only the store's
// word that a sooner timer was set (TimersChanged, TimersSet) can make it fire in time.
func TestRunFiresOnTime(t *testing.T) {
	s, err := store.Open(context.Background(), testdb.DSN(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.SetTimerPolicy(ticket.TimerPolicy{AutoCloseAfter: 2 * time.Second, EscalateAfter: time.Hour})
	p := ticket.DefaultPolicy()
	p.AutoCloseAfter = 2 * time.Second
	sc, _ := schedule.New(schedule.Config{Store: s, Policy: p, Poll: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sc.Run(ctx)
	s.AddAgent(ctx, agent, "", time.Now())
	tk, err := s.CreateTicket(ctx, store.CreateInput{Ticket: ticket.NewTicket{Subject: "x", Requester: ticket.Person{Address: "c@x.test"},
		Channel: ticket.ChannelCLI}, By: ticket.CLI, Text: "x", Now: time.Now()}, p)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the scheduler now waits for the escalation
	res, err := s.Apply(ctx, store.ApplyInput{Number: tk.Number, Action: ticket.Action{Kind: ticket.ActSolve, Text: "y"},
		Actor: ticket.Actor{Role: ticket.RoleAgent, Address: agent}, Now: time.Now()}, p)
	if err != nil {
		t.Fatal(err)
	}
	due := res.Ticket.StatusSince.Add(2 * time.Second)
	for time.Since(due) < 10*time.Second {
		got, _ := s.Ticket(ctx, tk.Number)
		if got.Status == ticket.StatusClosed {
			late := got.Closed.Sub(due)
			t.Logf("closed %s after its due time", late.Round(time.Millisecond))
			if late > 5*time.Second {
				t.Errorf("closed %s late; the rule must fire within 5 s", late)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("never closed")
}

func TestHousekeeping(t *testing.T) {
	w := newWorld(t, testdb.DSN(t), nil)
	raw := []byte("From: a@x.test\r\nSubject: old\r\n\r\nold raw message\r\n")
	_, err := w.s.Deliver(w.ctx, &ticket.Inbound{Raw: raw, Dedup: "mid:old@x.test", Received: w.clock.Now(), Kind: "new", Notify: true,
		Create: &ticket.NewTicket{Subject: "old", Requester: ticket.Person{Address: "a@x.test"}, Channel: ticket.ChannelEmail},
		Actor:  ticket.Actor{Role: ticket.RoleRequester, Address: "a@x.test"}, Action: ticket.Action{Kind: ticket.ActMessage, Text: "old", MessageID: "old@x.test"}}, w.policy)
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.s.Deliver(w.ctx, &ticket.Inbound{Raw: []byte("junk"), Dedup: "mid:q@x.test", Received: w.clock.Now(), Quarantine: "spam"}, w.policy)
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := schedule.New(schedule.Config{Store: w.s, Policy: w.policy, Now: w.clock.Now,
		Retention: store.Retention{Raw: 10 * 24 * time.Hour, Outbox: 10 * 24 * time.Hour, Quarantine: 5 * 24 * time.Hour}})
	w.clock.Set(monday.Add(4 * 24 * time.Hour))
	if sw, err := sc.Housekeep(w.ctx); err != nil || sw != (store.Swept{}) {
		t.Fatalf("nothing is old enough yet: %+v %v", sw, err)
	}
	w.clock.Set(monday.Add(11 * 24 * time.Hour))
	sw, err := sc.Housekeep(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sw.Raw != 1 || sw.Quarantine != 1 || sw.Blobs != 2 {
		t.Errorf("swept %+v, want 1 raw, 1 quarantined, 2 blobs", sw)
	}
	// The message's record stays: the same message again is still a duplicate.
	d, err := w.s.Deliver(w.ctx, &ticket.Inbound{Raw: raw, Dedup: "mid:old@x.test", Received: w.clock.Now(), Kind: "new"}, w.policy)
	if err != nil || !d.Duplicate {
		t.Errorf("after housekeeping the message is no longer recognised: %+v %v", d, err)
	}
	if again, _ := sc.Housekeep(w.ctx); again != (store.Swept{}) {
		t.Errorf("a second pass removed %+v", again)
	}
}
