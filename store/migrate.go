package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

//go:embed migrations
var migrationFS embed.FS

// migrateLockKey is the PostgreSQL advisory lock that serializes instances migrating together.
const migrateLockKey = 0x6775696368 // "guich"

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the dialect's numbered migrations in order.
func (s *Store) migrations() ([]migration, error) {
	dir := "migrations/" + string(s.dialect)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("store: migration %s/%s is not named NNNN_name.sql", dir, e.Name())
		}
		data, err := migrationFS.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(data)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("store: migration %s: want version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// LatestVersion is the schema version this binary knows.
func (s *Store) LatestVersion() int {
	ms, _ := s.migrations()
	return len(ms)
}

const createVersionTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY,
	applied TEXT NOT NULL
)`

// Version returns the database's schema version, 0 for an empty database.
func (s *Store) Version(ctx context.Context) (int, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var exists int
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	if s.dialect == Postgres {
		q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'`
	}
	if err := s.db.GetContext(ctx, &exists, q); err != nil {
		return 0, fmt.Errorf("store: schema version: %w", s.classify(err))
	}
	if exists == 0 {
		return 0, nil
	}
	var v int
	if err := s.db.GetContext(ctx, &v, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`); err != nil {
		return 0, fmt.Errorf("store: schema version: %w", s.classify(err))
	}
	return v, nil
}

// CheckSchema refuses a database whose schema is not the one this binary knows.
func (s *Store) CheckSchema(ctx context.Context) error {
	v, err := s.Version(ctx)
	if err != nil {
		return err
	}
	latest := s.LatestVersion()
	switch {
	case v > latest:
		return fmt.Errorf("store: %w: the database is at schema version %d, this guichet knows versions up to %d; run a newer guichet", ErrSchemaTooNew, v, latest)
	case v < latest:
		return fmt.Errorf("store: %w: the database is at schema version %d, this guichet needs %d; run `guichet migrate`", ErrSchemaTooOld, v, latest)
	}
	return nil
}

// Migrate brings the schema up to date, each migration in its own transaction. On PostgreSQL,
// instances migrating at once wait for each other on an advisory lock. It refuses a database
// whose schema is newer than this binary.
func (s *Store) Migrate(ctx context.Context) (applied int, err error) {
	ms, err := s.migrations()
	if err != nil {
		return 0, err
	}
	conn, err := s.db.Connx(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: migrate: %w", s.classify(err))
	}
	defer conn.Close()
	if s.dialect == Postgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrateLockKey); err != nil {
			return 0, fmt.Errorf("store: migrate: lock: %w", s.classify(err))
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLockKey)
	}
	if _, err := conn.ExecContext(ctx, createVersionTable); err != nil && !isUniqueViolation(err) {
		// Two PostgreSQL instances creating the table at once can collide on the catalog; the lock prevents it.
		return 0, fmt.Errorf("store: migrate: %w", s.classify(err))
	}
	v, err := s.Version(ctx)
	if err != nil {
		return 0, err
	}
	if v > len(ms) {
		return 0, fmt.Errorf("store: %w: the database is at schema version %d, this guichet knows versions up to %d; run a newer guichet", ErrSchemaTooNew, v, len(ms))
	}
	for _, m := range ms[v:] {
		if err := s.applyMigration(ctx, conn, m); err != nil {
			return applied, err
		}
		applied++
		s.log.Info("migrated", "version", m.version, "migration", m.name)
	}
	return applied, nil
}

func (s *Store) applyMigration(ctx context.Context, conn *sqlx.Conn, m migration) error {
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migration %s: %w", m.name, s.classify(err))
	}
	defer tx.Rollback()
	var done int
	if err := tx.GetContext(ctx, &done, tx.Rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.version); err != nil {
		return fmt.Errorf("store: migration %s: %w", m.name, err)
	}
	if done > 0 {
		return nil // another process applied it while we waited for the lock
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("store: migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`),
		m.version, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return fmt.Errorf("store: migration %s: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migration %s: commit: %w", m.name, s.classify(err))
	}
	return nil
}
