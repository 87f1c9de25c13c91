package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"guichet/internal/testdb"
	"guichet/ticket"
)

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

// eachStore runs fn against a fresh, migrated SQLite store, and against a fresh PostgreSQL
// schema when GUICHET_TEST_POSTGRES holds a connection URL.
func eachStore(t *testing.T, opts *Options, fn func(t *testing.T, s *Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		fn(t, openSQLite(t, opts))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, openPostgres(t, opts))
	})
}

func openSQLite(t *testing.T, opts *Options) *Store {
	t.Helper()
	return mustOpen(t, filepath.Join(t.TempDir(), "guichet.db"), opts)
}

// postgresDSN makes a schema of its own for the test, dropped when it ends, and returns a URL using it.
func postgresDSN(t testing.TB) string {
	t.Helper()
	if !testdb.Postgres() {
		t.Skip("GUICHET_TEST_POSTGRES is not set")
	}
	return testdb.DSN(t)
}

func openPostgres(t *testing.T, opts *Options) *Store {
	t.Helper()
	return mustOpen(t, postgresDSN(t), opts)
}

func mustOpen(t testing.TB, dsn string, opts *Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func create(t *testing.T, s *Store, subject string) ticket.Ticket {
	t.Helper()
	tk, err := s.CreateTicket(context.Background(), CreateInput{
		Ticket: ticket.NewTicket{Subject: subject, Requester: ticket.Person{Address: "req@example.com", Name: "Ré Quester", Lang: ticket.French},
			Participants: []ticket.Person{{Address: "cc@example.com"}}, Channel: ticket.ChannelCLI},
		By: ticket.CLI, Text: "It does not print.", Now: t0,
	}, ticket.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func apply(t *testing.T, s *Store, number int64, a ticket.Action, by ticket.Actor, now time.Time) (Result, error) {
	t.Helper()
	return s.Apply(context.Background(), ApplyInput{Number: number, Action: a, Actor: by, Now: now}, ticket.DefaultPolicy())
}

func TestMigrate(t *testing.T) {
	eachStore(t, nil, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if v, err := s.Version(ctx); err != nil || v != s.LatestVersion() || v < 1 {
			t.Fatalf("version %d, %v; want %d", v, err, s.LatestVersion())
		}
		if n, err := s.Migrate(ctx); err != nil || n != 0 {
			t.Errorf("second migrate applied %d, %v; want 0", n, err)
		}
		if err := s.CheckSchema(ctx); err != nil {
			t.Errorf("CheckSchema: %v", err)
		}
		if _, err := s.db.Exec(s.db.Rebind(`INSERT INTO schema_migrations (version, applied) VALUES (?, 'future')`), s.LatestVersion()+1); err != nil {
			t.Fatal(err)
		}
		if err := s.CheckSchema(ctx); !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), "newer guichet") {
			t.Errorf("CheckSchema on a newer schema: %v, want ErrSchemaTooNew", err)
		}
		if _, err := s.Migrate(ctx); !errors.Is(err, ErrSchemaTooNew) {
			t.Errorf("Migrate on a newer schema: %v, want ErrSchemaTooNew", err)
		}
	})
}

func TestCheckSchemaOnEmptyDatabase(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "empty.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CheckSchema(context.Background()); !errors.Is(err, ErrSchemaTooOld) || !strings.Contains(err.Error(), "guichet migrate") {
		t.Errorf("got %v, want ErrSchemaTooOld telling to run guichet migrate", err)
	}
}

// TestConcurrentMigrate starts several instances migrating one empty database at once.
func TestConcurrentMigrate(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "m.db")
			if dialect == "postgres" {
				dsn = postgresDSN(t)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s, err := Open(context.Background(), dsn, nil)
					if err == nil {
						_, err = s.Migrate(context.Background())
						s.Close()
					}
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("migrate: %v", err)
				}
			}
		})
	}
}

func TestCreateAndRead(t *testing.T) {
	eachStore(t, nil, func(t *testing.T, s *Store) {
		ctx := context.Background()
		files := []File{
			{Filename: "../../shot.png", ContentType: "image/png", Data: []byte("\x89PNG fake")},
			{Filename: "copy.png", Data: []byte("\x89PNG fake")},
		}
		tk, err := s.CreateTicket(ctx, CreateInput{
			Ticket: ticket.NewTicket{Subject: "Écran noir", Requester: ticket.Person{Address: "Req@Example.com", Name: "Ré"},
				Participants: []ticket.Person{{Address: "cc@example.com", Name: "Cé"}}, Type: "bug", Priority: ticket.PriorityHigh,
				SupportAddress: "support@example.com", Channel: ticket.ChannelEmail},
			By: ticket.Actor{Role: ticket.RoleRequester, Address: "req@example.com"}, Text: "Black screen.", MessageID: "abc@mail.example",
			Files: files, Now: t0,
		}, ticket.DefaultPolicy())
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Ticket(ctx, tk.Number)
		if err != nil {
			t.Fatal(err)
		}
		if got.Number != 1 || got.Subject != "Écran noir" || got.Requester.Address != "req@example.com" || got.Type != "bug" ||
			got.Priority != ticket.PriorityHigh || got.Status != ticket.StatusNew || !got.Created.Equal(t0) ||
			got.SupportAddress != "support@example.com" || len(got.Participants) != 1 || got.Participants[0].Name != "Cé" {
			t.Errorf("got %+v", got)
		}
		if !got.FirstResponse.IsZero() || !got.Closed.IsZero() {
			t.Errorf("unset times read back as %v, %v; want zero", got.FirstResponse, got.Closed)
		}
		ms, err := s.Messages(ctx, got.ID)
		if err != nil || len(ms) != 1 {
			t.Fatalf("messages %+v, %v; want one", ms, err)
		}
		m := ms[0]
		if m.Text != "Black screen." || m.MessageID != "abc@mail.example" || m.Author.Role != ticket.RoleRequester || m.Visibility != ticket.Public {
			t.Errorf("message %+v", m)
		}
		if len(m.Attachments) != 2 || m.Attachments[0].Filename != "shot.png" || m.Attachments[1].ContentType != "application/octet-stream" ||
			m.Attachments[0].Size != 9 || m.Attachments[0].SHA256 != m.Attachments[1].SHA256 {
			t.Errorf("attachments %+v", m.Attachments)
		}
		var blobs int
		s.db.Get(&blobs, `SELECT COUNT(*) FROM blobs`)
		if blobs != 1 {
			t.Errorf("%d blobs for two identical files, want 1", blobs)
		}
		data, err := s.Blob(ctx, m.Attachments[0].SHA256)
		if err != nil || string(data) != "\x89PNG fake" {
			t.Errorf("blob %q, %v", data, err)
		}
		evs, err := s.Events(ctx, got.ID)
		if err != nil || len(evs) != 1 || evs[0].Kind != ticket.EventCreated || evs[0].Actor != "req@example.com" {
			t.Errorf("events %+v, %v; want one created event", evs, err)
		}
		if _, err := s.Ticket(ctx, 99); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown ticket: %v, want ErrNotFound", err)
		}
	})
}

// TestConcurrentNumbers: 8 writers creating 1,000 tickets get 1,000 distinct numbers with no gap.
func TestConcurrentNumbers(t *testing.T) {
	const writers, total = 8, 1000
	eachStore(t, nil, func(t *testing.T, s *Store) {
		var mu sync.Mutex
		var numbers []int64
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range total / writers {
					tk, err := s.CreateTicket(context.Background(), CreateInput{
						Ticket: ticket.NewTicket{Subject: fmt.Sprintf("w%d-%d", w, i), Requester: ticket.Person{Address: "r@example.com"}},
						By:     ticket.CLI, Text: "x", MessageID: fmt.Sprintf("%d.%d@test", w, i), Now: t0,
					}, ticket.DefaultPolicy())
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					numbers = append(numbers, tk.Number)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		sort.Slice(numbers, func(i, j int) bool { return numbers[i] < numbers[j] })
		if len(numbers) != total {
			t.Fatalf("got %d numbers, want %d", len(numbers), total)
		}
		for i, n := range numbers {
			if n != int64(i+1) {
				t.Fatalf("number %d at position %d, want %d (duplicate or gap)", n, i, i+1)
			}
		}
		all, err := s.Tickets(context.Background(), Filter{})
		if err != nil || len(all) != total {
			t.Errorf("stored %d tickets, %v; want %d", len(all), err, total)
		}
	})
}

func TestTicketStart(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "g.db")
	s := mustOpen(t, dsn, &Options{TicketStart: 1000})
	if tk := create(t, s, "a"); tk.Number != 1000 {
		t.Errorf("first number %d, want 1000", tk.Number)
	}
	s.Close()
	s = mustOpen(t, dsn, &Options{TicketStart: 5})
	if tk := create(t, s, "b"); tk.Number != 1001 {
		t.Errorf("after lowering the start: number %d, want 1001 (never reused)", tk.Number)
	}
}

func TestDuplicateMessageID(t *testing.T) {
	eachStore(t, nil, func(t *testing.T, s *Store) {
		ctx := context.Background()
		in := CreateInput{Ticket: ticket.NewTicket{Subject: "x", Requester: ticket.Person{Address: "r@example.com"}},
			By: ticket.CLI, Text: "x", MessageID: "same@example", Now: t0}
		// Concurrent deliveries of the same message: exactly one is stored, and no number is lost.
		var wg sync.WaitGroup
		results := make(chan error, 6)
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.CreateTicket(ctx, in, ticket.DefaultPolicy())
				results <- err
			}()
		}
		wg.Wait()
		close(results)
		ok := 0
		for err := range results {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, ErrDuplicateMessage):
				t.Errorf("duplicate delivery: %v, want ErrDuplicateMessage", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d deliveries stored, want 1", ok)
		}
		if tk := create(t, s, "next"); tk.Number != 2 {
			t.Errorf("next number %d, want 2 (the refused duplicates gave theirs back)", tk.Number)
		}
		_, err := apply(t, s, 1, ticket.Action{Kind: ticket.ActMessage, Text: "again", MessageID: "same@example"}, ticket.Actor{Address: "r@example.com"}, t0)
		if !errors.Is(err, ErrDuplicateMessage) {
			t.Errorf("follow-up with a stored Message-ID: %v, want ErrDuplicateMessage", err)
		}
	})
}

// TestWalkthrough is the README's walk-through through the store.
func TestWalkthrough(t *testing.T) {
	eachStore(t, nil, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if err := s.AddAgent(ctx, "alice@support.example", "Alice", t0); err != nil {
			t.Fatal(err)
		}
		tk := create(t, s, "Printer")
		alice := ticket.Actor{Address: "alice@support.example"}
		req := ticket.Actor{Address: "req@example.com"}
		steps := []struct {
			a    ticket.Action
			by   ticket.Actor
			want ticket.Status
		}{
			{ticket.Action{Kind: ticket.ActAssign, Agent: "alice@support.example"}, ticket.CLI, ticket.StatusAssigned},
			{ticket.Action{Kind: ticket.ActPending, Text: "Which model?"}, alice, ticket.StatusPending},
			{ticket.Action{Kind: ticket.ActMessage, Text: "LaserJet 4"}, req, ticket.StatusAssigned},
			{ticket.Action{Kind: ticket.ActSolve, Text: "Replace the toner."}, alice, ticket.StatusSolved},
			{ticket.Action{Kind: ticket.ActRefuse, Reason: "Still blank pages."}, ticket.Actor{Role: ticket.RoleRequester}, ticket.StatusAssigned},
			{ticket.Action{Kind: ticket.ActSolve, Text: "Replace the drum."}, alice, ticket.StatusSolved},
			{ticket.Action{Kind: ticket.ActApprove, Text: "Works."}, ticket.Actor{Role: ticket.RoleRequester}, ticket.StatusClosed},
		}
		for i, st := range steps {
			res, err := apply(t, s, tk.Number, st.a, st.by, t0.Add(time.Duration(i+1)*time.Minute))
			if err != nil {
				t.Fatalf("step %d %s: %v", i, st.a.Kind, err)
			}
			if res.Ticket.Status != st.want {
				t.Fatalf("step %d %s: %s, want %s", i, st.a.Kind, res.Ticket.Status, st.want)
			}
		}
		got, _ := s.Ticket(ctx, tk.Number)
		if got.Status != ticket.StatusClosed || got.Closed.IsZero() || got.Assignee != "alice@support.example" ||
			!got.FirstResponse.Equal(t0.Add(2*time.Minute)) {
			t.Errorf("final ticket %+v", got)
		}
		evs, _ := s.Events(ctx, got.ID)
		var kinds []string
		for _, e := range evs {
			kinds = append(kinds, string(e.Kind)+":"+e.To)
		}
		want := "created:new assignee:alice@support.example status:assigned status:pending status:assigned " +
			"solution_proposed:solved solution_refused:assigned solution_proposed:solved solution_approved:closed"
		if strings.Join(kinds, " ") != want {
			t.Errorf("events\n got %s\nwant %s", strings.Join(kinds, " "), want)
		}
		if evs[6].Reason != "Still blank pages." || evs[6].Actor != "req@example.com" {
			t.Errorf("refusal event %+v", evs[6])
		}
		ms, _ := s.Messages(ctx, got.ID)
		if len(ms) != 7 {
			t.Errorf("%d messages, want 7 (first, question, answer, solution, refusal, solution, comment)", len(ms))
		}
		if ms[1].Author.Name != "Alice" || ms[1].Author.Role != ticket.RoleAgent {
			t.Errorf("agent message author %+v", ms[1].Author)
		}
	})
}

func TestRefusalChangesNothing(t *testing.T) {
	eachStore(t, nil, func(t *testing.T, s *Store) {
		ctx := context.Background()
		s.AddAgent(ctx, "alice@support.example", "", t0)
		tk := create(t, s, "x")
		before, _ := s.Ticket(ctx, tk.Number)
		for _, c := range []struct {
			a    ticket.Action
			by   ticket.Actor
			want error
		}{
			{ticket.Action{Kind: ticket.ActApprove}, ticket.Actor{Role: ticket.RoleRequester}, ticket.ErrInvalidTransition},
			{ticket.Action{Kind: ticket.ActMessage, Text: "hi"}, ticket.Actor{Address: "eve@evil.example"}, ticket.ErrNotAllowed},
			{ticket.Action{Kind: ticket.ActMessage, Text: "psst", Visibility: ticket.Internal}, ticket.Actor{Address: "req@example.com"}, ticket.ErrNotAllowed},
			{ticket.Action{Kind: ticket.ActMessage, Text: "x", Attachments: nil}, ticket.Actor{Address: "cc@example.com", Role: ticket.RoleSystem}, ticket.ErrNotAllowed},
		} {
			if _, err := apply(t, s, tk.Number, c.a, c.by, t0.Add(time.Hour)); !errors.Is(err, c.want) {
				t.Errorf("%s by %+v: %v, want %v", c.a.Kind, c.by, err, c.want)
			}
		}
		after, _ := s.Ticket(ctx, tk.Number)
		evs, _ := s.Events(ctx, tk.ID)
		ms, _ := s.Messages(ctx, tk.ID)
		if fmt.Sprint(before) != fmt.Sprint(after) || len(evs) != 1 || len(ms) != 1 {
			t.Errorf("refused actions changed the ticket: %+v → %+v, %d events, %d messages", before, after, len(evs), len(ms))
		}
		if _, err := apply(t, s, 42, ticket.Action{Kind: ticket.ActClose}, ticket.CLI, t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown ticket: %v, want ErrNotFound", err)
		}
	})
}

func TestFollowUpAfterReopenWindow(t *testing.T) {
	eachStore(t, nil, func(t *testing.T, s *Store) {
		ctx := context.Background()
		tk := create(t, s, "Printer")
		if _, err := apply(t, s, tk.Number, ticket.Action{Kind: ticket.ActClose}, ticket.CLI, t0); err != nil {
			t.Fatal(err)
		}
		late := t0.Add(15 * 24 * time.Hour)
		res, err := apply(t, s, tk.Number, ticket.Action{Kind: ticket.ActMessage, Text: "It is back.", MessageID: "late@x"}, ticket.Actor{Address: "req@example.com"}, late)
		if err != nil {
			t.Fatal(err)
		}
		if res.FollowUp == nil || res.FollowUp.Number != 2 || res.FollowUp.LinkedTo != 1 || res.FollowUp.Subject != "Printer" {
			t.Fatalf("follow-up %+v, want ticket 2 linked to 1", res.FollowUp)
		}
		old, _ := s.Ticket(ctx, 1)
		if old.Status != ticket.StatusClosed {
			t.Errorf("closed ticket became %s", old.Status)
		}
		nt, _ := s.Ticket(ctx, 2)
		ms, _ := s.Messages(ctx, nt.ID)
		if nt.LinkedTo != 1 || len(ms) != 1 || ms[0].Text != "It is back." || ms[0].MessageID != "late@x" {
			t.Errorf("new ticket %+v with messages %+v", nt, ms)
		}
		evs, _ := s.Events(ctx, old.ID)
		if last := evs[len(evs)-1]; last.Kind != ticket.EventFollowedUp || last.To != "2" {
			t.Errorf("closed ticket's last event %+v, want followed_up to 2", last)
		}
	})
}

func TestListFilters(t *testing.T) {
	eachStore(t, nil, func(t *testing.T, s *Store) {
		ctx := context.Background()
		create(t, s, "a")
		create(t, s, "b")
		s.CreateTicket(ctx, CreateInput{Ticket: ticket.NewTicket{Subject: "c", Requester: ticket.Person{Address: "other@example.com"}, Type: "billing"},
			By: ticket.CLI, Now: t0}, ticket.DefaultPolicy())
		apply(t, s, 2, ticket.Action{Kind: ticket.ActClose}, ticket.CLI, t0)
		for _, c := range []struct {
			f    Filter
			want string
		}{
			{Filter{}, "3 2 1"},
			{Filter{Status: ticket.StatusNew}, "3 1"},
			{Filter{Type: "billing"}, "3"},
			{Filter{Requester: "REQ@example.com"}, "2 1"},
			{Filter{Limit: 2}, "3 2"},
		} {
			ts, err := s.Tickets(ctx, c.f)
			var got []string
			for _, tk := range ts {
				got = append(got, fmt.Sprint(tk.Number))
			}
			if err != nil || strings.Join(got, " ") != c.want {
				t.Errorf("Tickets(%+v) = %v, %v; want %s", c.f, got, err, c.want)
			}
		}
	})
}

func TestAgents(t *testing.T) {
	eachStore(t, nil, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if err := s.AddAgent(ctx, "Bob@Support.example", "Bob", t0); err != nil {
			t.Fatal(err)
		}
		if err := s.AddAgent(ctx, "bob@support.example", "Robert", t0); err != nil {
			t.Fatal(err)
		}
		if err := s.AddAgent(ctx, "not-an-address", "", t0); !errors.Is(err, ticket.ErrInvalid) {
			t.Errorf("bad address: %v, want ErrInvalid", err)
		}
		as, err := s.Agents(ctx)
		if err != nil || len(as) != 1 || as[0].Address != "bob@support.example" || as[0].Name != "Robert" || !as[0].Created.Equal(t0) {
			t.Errorf("agents %+v, %v", as, err)
		}
		isAgent := func(address string) bool {
			t.Helper()
			ok, err := s.IsAgent(ctx, address)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !isAgent("BOB@support.example") || isAgent("alice@support.example") || isAgent("") {
			t.Error("IsAgent: want bob, in any case, and nobody else")
		}
		if err := s.RemoveAgent(ctx, "bob@support.example"); err != nil {
			t.Fatal(err)
		}
		if isAgent("bob@support.example") { // the cache is this process's: a removal counts at once
			t.Error("IsAgent: bob still an agent after RemoveAgent")
		}
		if err := s.AddAgent(ctx, "carol@support.example", "", t0); err != nil || !isAgent("carol@support.example") {
			t.Errorf("IsAgent: carol not an agent right after AddAgent (%v)", err)
		}
		if err := s.RemoveAgent(ctx, "bob@support.example"); !errors.Is(err, ErrNotFound) {
			t.Errorf("removing twice: %v, want ErrNotFound", err)
		}
	})
}

func TestUnavailable(t *testing.T) {
	_, err := Open(context.Background(), "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", nil)
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("got %v, want ErrUnavailable", err)
	}
}
