package ticket

import (
	"testing"
	"time"
)

func TestCalendarAdd(t *testing.T) {
	cal, err := ParseCalendar("Europe/Paris mon-fri 09:00-18:00")
	if err != nil {
		t.Fatal(err)
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, paris)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		from string
		d    time.Duration
		want string
	}{
		{"2026-03-02 10:00", 4 * time.Hour, "2026-03-02 14:00"},  // Monday, within the day
		{"2026-03-02 16:00", 4 * time.Hour, "2026-03-03 11:00"},  // two hours today, two tomorrow
		{"2026-03-02 22:00", 4 * time.Hour, "2026-03-03 13:00"},  // at night: counts from 9:00
		{"2026-03-06 17:00", 4 * time.Hour, "2026-03-09 12:00"},  // Friday evening → Monday
		{"2026-03-07 12:00", 1 * time.Hour, "2026-03-09 10:00"},  // Saturday → Monday
		{"2026-03-02 09:00", 72 * time.Hour, "2026-03-04 18:00"}, // "3d" is three working days
		{"2026-03-06 12:00", 36 * time.Hour, "2026-03-10 15:00"}, // one working day (9 h) and 12 working hours
		{"2026-03-27 17:00", 2 * time.Hour, "2026-03-30 10:00"},  // across the change to summer time
		{"2026-03-02 18:00", 9 * time.Hour, "2026-03-03 18:00"},  // a whole working day
	} {
		got := cal.Add(at(c.from), c.d)
		if want := at(c.want); !got.Equal(want) {
			t.Errorf("%s + %s = %s, want %s", c.from, c.d, got.In(paris).Format("2006-01-02 15:04 Mon"), c.want)
		}
	}
	var none *Calendar
	if got := none.Add(at("2026-03-07 12:00"), time.Hour); !got.Equal(at("2026-03-07 13:00")) {
		t.Errorf("no calendar counts every hour: %s", got)
	}
	if cal.String() != "Europe/Paris mon,tue,wed,thu,fri 09:00-18:00" {
		t.Errorf("String %q", cal.String())
	}
}

func TestParseCalendarErrors(t *testing.T) {
	for _, s := range []string{"Europe/Paris", "Mars/Olympus mon-fri 09:00-18:00", "UTC moonday 09:00-18:00",
		"UTC mon-fri 18:00-09:00", "UTC mon-fri 9-18", "UTC mon-fri 09:00-25:00"} {
		if _, err := ParseCalendar(s); err == nil {
			t.Errorf("ParseCalendar(%q) accepted", s)
		}
	}
	c, err := ParseCalendar("UTC sat,sun 10:00-12:00")
	if err != nil || !c.Days[time.Saturday] || !c.Days[time.Sunday] || c.Days[time.Monday] {
		t.Errorf("%+v %v", c, err)
	}
	c, err = ParseCalendar("UTC fri-mon 10:00-12:00") // wraps over the week-end
	if err != nil || !c.Days[time.Friday] || !c.Days[time.Sunday] || !c.Days[time.Monday] || c.Days[time.Tuesday] {
		t.Errorf("%+v %v", c, err)
	}
}

func TestTimers(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	p := TimerPolicy{AutoCloseAfter: 7 * 24 * time.Hour, AutoCloseByRoute: map[string]time.Duration{"vip@example.com": 2 * 24 * time.Hour},
		RemindAfter: 3 * 24 * time.Hour, EscalateAfter: 4 * time.Hour}
	for _, c := range []struct {
		name string
		t    Ticket
		want []Timer
	}{
		{"new unassigned escalates", Ticket{Status: StatusNew, Created: t0, StatusSince: t0}, []Timer{{TimerEscalate, t0.Add(4 * time.Hour)}}},
		{"new assigned does not", Ticket{Status: StatusNew, Assignee: "a@x", Created: t0, StatusSince: t0}, nil},
		{"assigned has none", Ticket{Status: StatusAssigned, StatusSince: t0}, nil},
		{"pending reminds", Ticket{Status: StatusPending, StatusSince: t0}, []Timer{{TimerRemind, t0.Add(72 * time.Hour)}}},
		{"solved closes", Ticket{Status: StatusSolved, StatusSince: t0}, []Timer{{TimerAutoClose, t0.Add(7 * 24 * time.Hour)}}},
		{"solved on a route", Ticket{Status: StatusSolved, StatusSince: t0, SupportAddress: "VIP@example.com"}, []Timer{{TimerAutoClose, t0.Add(48 * time.Hour)}}},
		{"closed has none", Ticket{Status: StatusClosed, StatusSince: t0}, nil},
	} {
		got := Timers(c.t, p)
		if len(got) != len(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
			continue
		}
		for i := range got {
			if got[i].Kind != c.want[i].Kind || !got[i].Due.Equal(c.want[i].Due) {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
			}
		}
	}
	p.PendingCloseAfter = 10 * 24 * time.Hour
	if got := Timers(Ticket{Status: StatusPending, StatusSince: t0}, p); len(got) != 2 || got[1].Kind != TimerAutoClose {
		t.Errorf("pending with pending_close_after: %v", got)
	}
}
