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
	"strconv"
	"strings"
	"testing"
	"time"

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

// CPUOf sums the user and system CPU time of the processes that match (Linux /proc; zero
// elsewhere): benchmarks report the CPU that a message costs the database, not only guichet.
func CPUOf(match func(pid int, comm string) bool) time.Duration {
	entries, _ := os.ReadDir("/proc")
	var ticks int64
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid … utime stime: fields 14 and 15, counted after the comm's ')'.
		s := string(data)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open || !match(pid, s[open+1:close]) {
			continue
		}
		f := strings.Fields(s[close+1:])
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + st
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ is 100 on Linux
}

// PostgresCPU is the CPU time of this machine's PostgreSQL processes so far.
func PostgresCPU() time.Duration {
	return CPUOf(func(_ int, comm string) bool { return strings.HasPrefix(comm, "postgres") })
}
