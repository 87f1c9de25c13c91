package store

import (
	"database/sql/driver"
	"fmt"
	"time"
)

// sqliteTime is how SQLite columns hold times: UTC, fixed width, so that text order is time order.
const sqliteTime = "2006-01-02T15:04:05.000000Z"

// tv turns a time into a query argument for the dialect; the zero time is NULL.
func (s *Store) tv(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	t = dbT(t)
	if s.dialect == SQLite {
		return t.Format(sqliteTime)
	}
	return t
}

// dbT is t as the database gives it back: UTC, to the microsecond.
func dbT(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// dbTime scans a time from either dialect; NULL is the zero time.
type dbTime struct{ time.Time }

var _ interface{ Scan(any) error } = (*dbTime)(nil)

func (d *dbTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		d.Time = time.Time{}
	case time.Time:
		d.Time = x.UTC()
	case string:
		return d.parse(x)
	case []byte:
		return d.parse(string(x))
	default:
		return fmt.Errorf("store: cannot scan %T as a time", v)
	}
	return nil
}

func (d *dbTime) parse(s string) error {
	for _, layout := range []string{sqliteTime, time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			d.Time = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("store: cannot parse time %q", s)
}

// Value lets a dbTime be written back; the store passes times through tv instead.
func (d dbTime) Value() (driver.Value, error) {
	if d.IsZero() {
		return nil, nil
	}
	return d.Time, nil
}
