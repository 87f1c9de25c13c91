package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"guichet/internal/testdb"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
	buildOut  []byte
)

// guichetBinary builds the guichet command once per test run, statically, and returns its path.
func guichetBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "guichet-bin")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "guichet")
		cmd := exec.Command("go", "build", "-o", buildPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("build: %v\n%s", buildErr, buildOut)
	}
	return buildPath
}

// freeAddr returns a 127.0.0.1 address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// testDB returns the database a subprocess test uses: a fresh PostgreSQL schema when
// GUICHET_TEST_POSTGRES is set, else a SQLite file.
func testDB(t *testing.T) string {
	t.Helper()
	return testdb.DSN(t)
}
