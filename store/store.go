// Package store keeps guichet's tickets, messages, attachments, events and agents, in an
// embedded SQLite file by default or in PostgreSQL. Both dialects share the code here; where
// they differ (schema, locking) there is a file or a branch per dialect. Every change to a
// ticket is one transaction with its events.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	_ "modernc.org/sqlite" // registers the "sqlite" driver: pure Go, so CGO_ENABLED=0 builds work

	"guichet/ticket"
)

func init() {
	sqlx.BindDriver("sqlite", sqlx.QUESTION)
}

// Errors the store returns; callers test them with errors.Is.
var (
	ErrNotFound         = ticket.ErrNotFound
	ErrDuplicateMessage = errors.New("message already stored")
	ErrUnavailable      = errors.New("database unavailable")
	ErrStale            = errors.New("the solution is no longer the one waiting for an answer")
	ErrUsed             = errors.New("the link was used already")
	ErrSchemaTooNew     = errors.New("database schema is newer than this guichet")
	ErrSchemaTooOld     = errors.New("database schema is not up to date")
)

// Dialect is the kind of database behind a store.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Options tune a store; nil means defaults.
type Options struct {
	Logger       *slog.Logger
	TicketStart  int64         // the first ticket number; numbers never go below it (default 1)
	QueryTimeout time.Duration // per query or transaction (default 30s)
	LockCheck    time.Duration // how often a held mailbox lock is checked (PostgreSQL; default 5s)
}

// Store is guichet's persistence.
type Store struct {
	db        *sqlx.DB
	dialect   Dialect
	log       *slog.Logger
	start     int64
	timeout   time.Duration
	lockCheck time.Duration

	mu          sync.Mutex
	planner     Planner         // who is told about a change; nil: nobody
	agents      []Agent         // cached for the planner
	agentByAddr map[string]bool // the same, by address
	agentsAt    time.Time       // when agents was read
	outboxed    chan struct{}   // a notification was written

	timerPolicy   *ticket.TimerPolicy // the timed rules' delays; nil: no timers kept
	timersChanged chan struct{}       // a timer was set
	timerHint     time.Time           // the soonest timer set since TimersSet was last called; zero: none

	numMu    sync.Mutex // held by a bulk delivery from its numbers to its commit (PostgreSQL)
	numNext  int64      // the ticket counter as the last bulk delivery left it
	numKnown bool       // numNext holds: no other writer is known to have moved the counter since

	prepMu    sync.Mutex
	bulkFirst *sqlx.Stmt // bulkFirstQuery, once prepared
	claim     *sqlx.Stmt // claimQuery
	idsStmt   *sqlx.Stmt // idsQuery
	bulkStmt  *sqlx.Stmt // bulkText

	idMu     sync.Mutex
	idT, idM []int64 // ticket and message ids taken from the sequences, not yet used (takeIDs)

	oneStatement atomic.Int64 // bulk deliveries written in one statement (bulkOptimistic)

	hand      handoff     // notifications given to this process's sender in memory
	unclaimed atomic.Bool // notifications written for the sender to claim (Unclaimed)
}

// prepared returns the statement *st, preparing query first if it is not yet: a statement
// whose text is fixed is parsed and planned once per connection instead of at every call.
// A failed preparation is tried again at the next call.
func (s *Store) prepared(ctx context.Context, st **sqlx.Stmt, query string) (*sqlx.Stmt, error) {
	s.prepMu.Lock()
	defer s.prepMu.Unlock()
	if *st == nil {
		p, err := s.db.PreparexContext(ctx, query)
		if err != nil {
			return nil, err
		}
		*st = p
	}
	return *st, nil
}

// Open connects to the database that dsn names: a postgres:// or postgresql:// URL for PostgreSQL,
// else a file path, optionally prefixed with "sqlite:", for SQLite (created if missing).
// It does not migrate: call Migrate, or CheckSchema to refuse a database of another version.
func Open(ctx context.Context, dsn string, opts *Options) (*Store, error) {
	if opts == nil {
		opts = &Options{}
	}
	s := &Store{log: opts.Logger, start: opts.TicketStart, timeout: opts.QueryTimeout, outboxed: make(chan struct{}, 1),
		timersChanged: make(chan struct{}, 1)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.start < 1 {
		s.start = 1
	}
	if s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}
	if s.lockCheck = opts.LockCheck; s.lockCheck <= 0 {
		s.lockCheck = 5 * time.Second
	}
	var err error
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s.dialect = Postgres
		s.db, err = sqlx.Open("postgres", pgDSN(dsn))
		if err == nil {
			s.db.SetMaxOpenConns(16)
			s.db.SetMaxIdleConns(16)
			// A prepared statement keeps the plan made at its first run, with the tables as
			// they were then: a connection lives at most this long, so that a plan made on
			// an empty table (a sequential scan) does not outlive it by months.
			s.db.SetConnMaxLifetime(connLifetime)
		}
	default:
		s.dialect = SQLite
		var d string
		d, err = sqliteDSN(dsn)
		if err == nil {
			s.db, err = sqlx.Open("sqlite", d)
		}
		if err == nil {
			// One connection writes at a time in SQLite; a small pool lets reads run beside it (WAL).
			s.db.SetMaxOpenConns(4)
			s.db.SetMaxIdleConns(4)
			s.db.SetConnMaxIdleTime(0)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", s.dialect, err)
	}
	if err := s.Ping(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// connLifetime is how long a PostgreSQL connection, and the plans of its prepared statements, last.
const connLifetime = 10 * time.Minute

// pgDSN adds two settings unless the URL sets them:
//   - binary_parameters=yes: lib/pq then sends each query with its parameters in one round trip
//     instead of preparing it first, halving the round trips of a transaction;
//   - plan_cache_mode=force_generic_plan: the few statements the store prepares (Store.prepared)
//     are planned once, not at each execution — PostgreSQL otherwise keeps planning a statement
//     with array parameters anew. Statements that are not prepared are planned once anyway.
func pgDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	for k, v := range map[string]string{"binary_parameters": "yes", "plan_cache_mode": "force_generic_plan"} {
		if q.Get(k) == "" {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// sqliteDSN turns a path or sqlite: URL into modernc's DSN: WAL, foreign keys, a busy timeout,
// and BEGIN IMMEDIATE so that writers queue instead of failing to upgrade their lock.
func sqliteDSN(dsn string) (string, error) {
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "sqlite:")
	if path == "" {
		return "", errors.New("empty database path")
	}
	if strings.ContainsAny(path, "?#") {
		return "", fmt.Errorf("database path %q: '?' and '#' are not allowed in a file name here", path)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode(), nil
}

// Dialect tells which database the store uses.
func (s *Store) Dialect() Dialect { return s.dialect }

// Close closes the database.
func (s *Store) Close() error {
	s.prepMu.Lock()
	for _, st := range []*sqlx.Stmt{s.bulkFirst, s.claim, s.idsStmt, s.bulkStmt} {
		if st != nil {
			st.Close()
		}
	}

	s.prepMu.Unlock()
	return s.db.Close()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, min(s.timeout, 5*time.Second))
	defer cancel()
	for try := 0; ; try++ {
		err := s.db.PingContext(ctx)
		// A new SQLite connection switches the file to WAL; while another process does the same
		// on a fresh file, SQLite says "locked" at once instead of waiting: wait, retry.
		if err != nil && s.dialect == SQLite && try < 20 && strings.Contains(err.Error(), "database is locked") {
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(5+5*try) * time.Millisecond):
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("store: %w: %w", ErrUnavailable, err)
		}
		return nil
	}
}

func (s *Store) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// relaxedTx is tx for bookkeeping whose loss in a crash is harmless (a notification's lease, or
// its being marked sent — lost, it is sent again, which at-least-once allows): on PostgreSQL its
// commit does not wait for the WAL flush, so the sender does not compete with the commits that
// acknowledge mail.
func (s *Store) relaxedTx(ctx context.Context, what string, fn func(tx *sqlx.Tx) error) error {
	return s.tx(ctx, what, func(tx *sqlx.Tx) error {
		if s.dialect == Postgres {
			if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
				return err
			}
		}
		return fn(tx)
	})
}

// tx runs fn in one transaction, committed when fn returns nil.
func (s *Store) tx(ctx context.Context, what string, fn func(tx *sqlx.Tx) error) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, s.classify(err))
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrDuplicateMessage) || errors.Is(err, ErrStale) || errors.Is(err, ErrUsed) || isDomain(err) {
			return err
		}
		return fmt.Errorf("store: %s: %w", what, s.classify(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: %s: commit: %w", what, s.classify(err))
	}
	return nil
}

// classify marks the errors that mean "the database is not there" as ErrUnavailable,
// so that callers (an MTA pipe, an SMTP session) can ask for a retry.
func (s *Store) classify(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	var pqe *pq.Error
	if errors.As(err, &pqe) {
		switch pqe.Code.Class() {
		case "08", "53", "57": // connection exception, insufficient resources, operator intervention
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return err
	}
	msg := err.Error()
	for _, m := range []string{"connection refused", "no such host", "broken pipe", "database is locked", "i/o timeout", "bad connection", "connection reset"} {
		if strings.Contains(msg, m) {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// isUniqueViolation reports whether err is a unique-constraint failure on either database.
func isUniqueViolation(err error) bool {
	var pqe *pq.Error
	if errors.As(err, &pqe) {
		return pqe.Code == "23505"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// forUpdate is the row-locking clause of the dialect: SQLite's BEGIN IMMEDIATE already holds the write lock.
func (s *Store) forUpdate() string {
	if s.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}
