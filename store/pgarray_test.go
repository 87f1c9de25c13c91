package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"guichet/ticket"
)

// TestPgArray: each column type of the bulk path, encoded in the binary array format, reads
// back on PostgreSQL as the values it was made of — NULLs, named string types, text beyond
// ASCII, microseconds, negative numbers, bytes that are not text, no element at all.
func TestPgArray(t *testing.T) {
	s := mustOpen(t, postgresDSN(t), nil)
	ctx := context.Background()
	when := time.Date(1999, 12, 31, 23, 59, 59, 123456000, time.UTC)
	for _, c := range []struct {
		typ  string
		vals []any
		want string // array_to_string(…, '|', '∅')
	}{
		{"int8", []any{int64(1), nil, -42, int64(1) << 62}, "1|∅|-42|4611686018427387904"},
		{"text", []any{"a,b", `"quoted" \ back`, nil, ticket.French, "Élodie 日本", ""}, `a,b|"quoted" \ back|∅|fr|Élodie 日本|`},
		{"bool", []any{true, false, nil}, "true|false|∅"},
		{"timestamptz", []any{when, nil, time.Unix(0, 0)}, "1999-12-31 23:59:59.123456|∅|1970-01-01 00:00:00.000000"},
		{"bytea", []any{[]byte{0, 1, 255}, []byte{}, nil}, `\x0001ff|\x|∅`},
		{"text", nil, ""},
	} {
		a, err := pgArray(c.typ, c.vals)
		if err != nil {
			t.Fatalf("%s %v: %v", c.typ, c.vals, err)
		}
		x := "x::text"
		if c.typ == "timestamptz" {
			x = "to_char(x AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
		}
		var got string
		if err := s.db.GetContext(ctx, &got, `SELECT COALESCE(array_to_string(ARRAY(SELECT `+x+` FROM unnest($1::`+c.typ+`[]) x), '|', '∅'), '')`, a); err != nil {
			t.Fatalf("%s %v: %v", c.typ, c.vals, err)
		}
		if got != c.want {
			t.Errorf("%s %v: read back %q, want %q", c.typ, c.vals, got, c.want)
		}
	}
	for _, c := range []struct {
		typ string
		v   any
	}{{"int8", "1"}, {"bool", 1}, {"timestamptz", "2026-01-01"}, {"bytea", "text"}, {"text", 3}, {"numeric", 1}} {
		if _, err := pgArray(c.typ, []any{c.v}); err == nil || !strings.Contains(err.Error(), c.typ) {
			t.Errorf("%s of %T: %v, want an error that names the type", c.typ, c.v, err)
		}
	}
}
