package schedule_test

import (
	"context"
	"database/sql"
	"os"
	"strconv"
	"testing"
	"time"

	"guichet/internal/testdb"
	"guichet/schedule"
	"guichet/store"
	"guichet/templates"
	"guichet/ticket"
)

// TestBenchTimers is the timers benchmark, outside CI:
//
//	GUICHET_BENCH_TIMERS=1 GUICHET_TEST_POSTGRES=postgres://… go test ./schedule -run TestBenchTimers -v -timeout 30m
//
// It fills PostgreSQL with GUICHET_BENCH_TICKETS solved tickets (default 1,000,000), each with its
// automatic-closing timer, of which GUICHET_BENCH_DUE (default 10,000) are due, prints the query
// plan of the scan of due timers, and times one scheduler pass that closes the due ones (each
// with its event and its closing notification).
func TestBenchTimers(t *testing.T) {
	if os.Getenv("GUICHET_BENCH_TIMERS") == "" || !testdb.Postgres() {
		t.Skip("set GUICHET_BENCH_TIMERS=1 and GUICHET_TEST_POSTGRES to run the timers benchmark")
	}
	total, due := envInt("GUICHET_BENCH_TICKETS", 1_000_000), envInt("GUICHET_BENCH_DUE", 10_000)
	dsn := testdb.DSN(t)
	w := newWorld(t, dsn, nil)
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := monday.Add(30 * 24 * time.Hour)
	old, recent := now.Add(-8*24*time.Hour), now.Add(-time.Hour)
	start := time.Now()
	for _, step := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO tickets (number, subject, requester_address, requester_name, requester_lang, type, priority, status,
			assignee, grp, support_address, channel, created, updated, status_since, solved)
		 SELECT g, 'bench ' || g, 'client' || g || '@bench.test', '', 'en', 'question', 'normal', 'solved', '` + agent + `', '', '',
			'email', $1::timestamptz, $1::timestamptz, CASE WHEN g <= $3::int THEN $1::timestamptz ELSE $2::timestamptz END,
			CASE WHEN g <= $3::int THEN $1::timestamptz ELSE $2::timestamptz END
		 FROM generate_series(1, $4::int) g`, []any{old, recent, due, total}},
		{`INSERT INTO timers (ticket_id, kind, due) SELECT id, 'autoclose', status_since + interval '7 days' FROM tickets`, nil},
		{`UPDATE counters SET next = $1 + 1 WHERE name = 'ticket'`, []any{total}},
		{`ANALYZE`, nil},
	} {
		if _, err := db.Exec(step.q, step.args...); err != nil {
			t.Fatalf("%.40s: %v", step.q, err)
		}
	}
	t.Logf("filled %d solved tickets with their timers, %d due, in %s", total, due, time.Since(start).Round(time.Second))

	rows, err := db.Query(`EXPLAIN ANALYZE `+sqlPG(store.DueTimersQuery), now, 200)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		rows.Scan(&line)
		t.Log("plan: " + line)
	}
	rows.Close()

	w.clock.Set(now)
	sc, _ := schedule.New(schedule.Config{Store: w.s, Policy: w.policy, Now: w.clock.Now, Batch: envInt("GUICHET_BENCH_BATCH", 200), Workers: envInt("GUICHET_BENCH_WORKERS", 0)})
	start = time.Now()
	fired, err := sc.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	var closed, mails int
	db.QueryRow(`SELECT COUNT(*) FROM tickets WHERE status = 'closed'`).Scan(&closed)
	db.QueryRow(`SELECT COUNT(*) FROM outbox WHERE kind = $1`, templates.Closed).Scan(&mails)
	t.Logf("one pass: %d timers fired, %d tickets closed, %d closing notifications, in %s (%.0f closings/s)",
		len(fired), closed, mails, took.Round(time.Millisecond), float64(closed)/took.Seconds())
	if closed != due || len(fired) != due || mails != due {
		t.Errorf("closed %d, fired %d, mails %d; want %d", closed, len(fired), mails, due)
	}
	_ = ticket.StatusClosed
}

// sqlPG numbers a query's ? placeholders for PostgreSQL.
func sqlPG(q string) string {
	out, n := []byte{}, 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			out = append(out, '$')
			out = strconv.AppendInt(out, int64(n), 10)
			continue
		}
		out = append(out, q[i])
	}
	return string(out)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
