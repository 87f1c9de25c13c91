package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

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

// TestBulkNumbersConcurrentWriters: bulk deliveries from two stores on one database (two
// guichet processes), concurrent with tickets created one at a time, get distinct numbers
// without gaps. On PostgreSQL the bulk path takes its numbers in the statement that writes the
// tickets, from the counter's value as it last saw it: the other writers make it stale, and
// the statement must notice, write nothing, and try again.
func TestBulkNumbersConcurrentWriters(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			var dsn string
			if db == "sqlite" {
				dsn = t.TempDir() + "/guichet.db"
			} else {
				dsn = postgresDSN(t)
			}
			var logs strings.Builder
			var lmu sync.Mutex
			log := slog.New(slog.NewTextHandler(lockedWriter{&lmu, &logs}, nil))
			stores := []*Store{mustOpen(t, dsn, &Options{Logger: log}), mustOpen(t, dsn, &Options{Logger: log})}
			ctx := context.Background()
			p := ticket.DefaultPolicy()
			const batches, size, single = 20, 5, 30
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s := stores[w%2]
					for b := range batches {
						var ins []*ticket.Inbound
						for i := range size {
							id := fmt.Sprintf("%d.%d.%d@x", w, b, i)
							ins = append(ins, &ticket.Inbound{Raw: []byte("raw " + id), Dedup: "mid:" + id, MessageID: id, Received: t0, Kind: "new",
								Create: &ticket.NewTicket{Subject: id, Requester: ticket.Person{Address: "r@x.example"}},
								Action: ticket.Action{Kind: ticket.ActMessage, Text: "text", MessageID: id}})
						}
						_, es := s.DeliverBatch(ctx, ins, p)
						for _, err := range es {
							if err != nil {
								errs <- err
								return
							}
						}
					}
				}()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range single {
					if _, err := stores[i%2].CreateTicket(ctx, CreateInput{Ticket: ticket.NewTicket{Subject: "one", Requester: ticket.Person{Address: "r@x.example"}},
						By: ticket.CLI, Text: "x", MessageID: fmt.Sprintf("one.%d@x", i), Now: t0}, p); err != nil {
						errs <- err
						return
					}
				}
			}()
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if strings.Contains(logs.String(), "fell back") { // a stale counter is retried, not given up
				t.Errorf("the bulk path fell back:\n%s", logs.String())
			}
			all, err := stores[0].Tickets(ctx, Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if want := 4*batches*size + single; len(all) != want {
				t.Fatalf("%d tickets, want %d", len(all), want)
			}
			for i, tk := range all {
				if want := int64(len(all) - i); tk.Number != want {
					t.Fatalf("number %d at %d, want %d: a gap or a duplicate", tk.Number, i, want)
				}
			}
		})
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestPgDSN: the two settings are added unless the URL has its own, which it keeps.
func TestPgDSN(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"postgres://u@h/db", "postgres://u@h/db?binary_parameters=yes&plan_cache_mode=force_generic_plan"},
		{"postgres://u@h/db?sslmode=disable&plan_cache_mode=auto", "postgres://u@h/db?binary_parameters=yes&plan_cache_mode=auto&sslmode=disable"},
		{"postgresql://u@h/db?binary_parameters=no", "postgresql://u@h/db?binary_parameters=no&plan_cache_mode=force_generic_plan"},
	} {
		if got := pgDSN(c.in); got != c.want {
			t.Errorf("pgDSN(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestPreparedPlans: the store's connections plan its prepared statements once (generic
// plans), and a bulk delivery still works once the connections the statement was prepared on
// are closed.
func TestPreparedPlans(t *testing.T) {
	s := mustOpen(t, postgresDSN(t), nil)
	ctx := context.Background()
	var mode string
	if err := s.db.GetContext(ctx, &mode, `SHOW plan_cache_mode`); err != nil || mode != "force_generic_plan" {
		t.Fatalf("plan_cache_mode = %q, %v; want force_generic_plan", mode, err)
	}
	deliver := func(id string) {
		t.Helper()
		ins := []*ticket.Inbound{{Raw: []byte("raw " + id), Dedup: "mid:" + id, MessageID: id, Received: t0, Kind: "new",
			Create: &ticket.NewTicket{Subject: id, Requester: ticket.Person{Address: "r@x.example"}},
			Action: ticket.Action{Kind: ticket.ActMessage, Text: "text", MessageID: id}}}
		ds, errs := s.DeliverBatch(ctx, ins, ticket.DefaultPolicy())
		if errs[0] != nil || !ds[0].Created {
			t.Fatalf("deliver %s: %+v, %v", id, ds[0], errs[0])
		}
	}
	deliver("1@x")
	s.db.SetMaxIdleConns(0) // closes the connections the statement was prepared on
	s.db.SetMaxIdleConns(16)
	deliver("2@x")
}

// TestBulkOneStatement: once the counter's value is known, a batch is written in one statement;
// a batch holding a message already stored, or already in quarantine, is not, and the path
// that checks first marks the duplicate and numbers the others without a gap.
func TestBulkOneStatement(t *testing.T) {
	s := mustOpen(t, postgresDSN(t), nil)
	ctx := context.Background()
	p := ticket.DefaultPolicy()
	in := func(id string) *ticket.Inbound {
		return &ticket.Inbound{Raw: []byte("raw " + id), Dedup: "mid:" + id, MessageID: id, Received: t0, Kind: "new",
			Create: &ticket.NewTicket{Subject: id, Requester: ticket.Person{Address: "r@x.example"}},
			Action: ticket.Action{Kind: ticket.ActMessage, Text: "text", MessageID: id}}
	}
	deliver := func(ids ...string) []ticket.Delivered {
		t.Helper()
		var ins []*ticket.Inbound
		for _, id := range ids {
			ins = append(ins, in(id))
		}
		ds, errs := s.DeliverBatch(ctx, ins, p)
		for i, err := range errs {
			if err != nil {
				t.Fatalf("%s: %v", ids[i], err)
			}
		}
		return ds
	}
	q := in("q@x")
	q.Quarantine, q.Create = "unreadable", nil
	if _, err := s.Deliver(ctx, q, p); err != nil {
		t.Fatal(err)
	}
	deliver("1@x", "2@x") // the counter is not known yet: two statements
	if n := s.oneStatement.Load(); n != 0 {
		t.Fatalf("%d batches in one statement before the counter was known", n)
	}
	deliver("3@x", "4@x")
	if n := s.oneStatement.Load(); n != 1 {
		t.Fatalf("%d batches in one statement, want 1", n)
	}
	for _, dup := range []string{"2@x", "q@x"} {
		ds := deliver("new-"+dup, dup, "new2-"+dup)
		if !ds[1].Duplicate || ds[0].Number == 0 || ds[2].Number != ds[0].Number+1 {
			t.Errorf("batch with %s: %+v, want it a duplicate and the others numbered in a row", dup, ds)
		}
		if n := s.oneStatement.Load(); n != 1 {
			t.Errorf("a batch with a duplicate (%s) went in one statement", dup)
		}
	}
	deliver("5@x")
	var numbers, max int64
	s.db.Get(&numbers, `SELECT COUNT(*) FROM tickets`)
	s.db.Get(&max, `SELECT MAX(number) FROM tickets`)
	if n := s.oneStatement.Load(); n != 2 || numbers != 9 || max != 9 {
		t.Errorf("%d batches in one statement (want 2), %d tickets numbered up to %d (want 9, 9)", n, numbers, max)
	}
}

// TestLZ4Columns: on a server with LZ4, migration 7 compresses the raw messages and the texts
// with it, the requester index that another one covers is gone, and the outbox's pages keep
// room for the claims.
func TestLZ4Columns(t *testing.T) {
	s := mustOpen(t, postgresDSN(t), nil)
	var methods []string
	if err := s.db.Select(&methods, `SELECT attcompression::text FROM pg_attribute WHERE attnum > 0 AND
		(attrelid, attname) IN (('blobs'::regclass, 'data'), ('blob_parts'::regclass, 'data'), ('messages'::regclass, 'text'), ('messages'::regclass, 'html'))`); err != nil {
		t.Fatal(err)
	}
	if strings.Join(methods, ",") != "l,l,l,l" {
		t.Errorf("compression of the four columns: %q, want l (lz4) each", methods)
	}
	var n int
	s.db.Get(&n, `SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'tickets_requester'`)
	if n != 0 {
		t.Error("tickets_requester is still there")
	}
	var opts pq.StringArray
	if err := s.db.Get(&opts, `SELECT reloptions FROM pg_class WHERE oid = 'outbox'::regclass`); err != nil || strings.Join(opts, ",") != "fillfactor=50" {
		t.Errorf("outbox options %q (%v), want fillfactor=50", opts, err)
	}
}
