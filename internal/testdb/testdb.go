// Package testdb gives tests a database of their own: a SQLite file in the test's temporary
// directory, or, when GUICHET_TEST_POSTGRES names a PostgreSQL server, a fresh schema on it that
// is dropped when the test ends.
package testdb

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/lib/pq" // the postgres driver
)

// Postgres reports whether tests run on PostgreSQL.
func Postgres() bool { return os.Getenv("GUICHET_TEST_POSTGRES") != "" }

// DSN returns a database for t: a SQLite path, or a PostgreSQL URL whose search_path is a fresh schema.
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("GUICHET_TEST_POSTGRES")
	if base == "" {
		return filepath.Join(t.TempDir(), "guichet.db")
	}
	db, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "guichet_t_" + hex.EncodeToString(b)
	if _, err := db.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("testdb: create schema: %v", err)
	}
	t.Cleanup(func() {
		if db, err := sql.Open("postgres", base); err == nil {
			db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
			db.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("testdb: GUICHET_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
