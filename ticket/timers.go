package ticket

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TimerKind names a timed rule.
type TimerKind string

const (
	TimerAutoClose TimerKind = "autoclose" // a solved (or pending) ticket nobody answered is closed by the system
	TimerRemind    TimerKind = "remind"    // a pending ticket: the requester is reminded, once
	TimerEscalate  TimerKind = "escalate"  // a new ticket still unassigned: the agents are told, once
)

// Timer is when a rule fires for a ticket.
type Timer struct {
	Kind TimerKind
	Due  time.Time
}

// TimerPolicy holds the delays of the timed rules.
type TimerPolicy struct {
	AutoCloseAfter    time.Duration            // solved → closed; 0 never
	AutoCloseByRoute  map[string]time.Duration // per support address, overriding AutoCloseAfter
	PendingCloseAfter time.Duration            // pending → closed; 0 never
	RemindAfter       time.Duration            // pending → reminder to the requester; 0 never
	EscalateAfter     time.Duration            // new and unassigned → agents told; 0 never
	// Calendar, when set, makes RemindAfter and EscalateAfter count business hours only.
	Calendar *Calendar
}

// AutoCloseFor is the solved-ticket delay for tickets that came in through support.
func (p TimerPolicy) AutoCloseFor(support string) time.Duration {
	if d, ok := p.AutoCloseByRoute[NormalizeAddress(support)]; ok {
		return d
	}
	return p.AutoCloseAfter
}

// Timers returns the timers a ticket in its current state should have. They depend only on
// the status, when it began, the assignee and the route, so the store recomputes them only
// when one of those changes: a reminder or an escalation that fired is not set again by a
// mere note.
func Timers(t Ticket, p TimerPolicy) []Timer {
	var out []Timer
	since := t.StatusSince
	switch t.Status {
	case StatusSolved:
		if d := p.AutoCloseFor(t.SupportAddress); d > 0 {
			out = append(out, Timer{TimerAutoClose, since.Add(d)})
		}
	case StatusPending:
		if p.RemindAfter > 0 {
			out = append(out, Timer{TimerRemind, p.Calendar.Add(since, p.RemindAfter)})
		}
		if p.PendingCloseAfter > 0 {
			out = append(out, Timer{TimerAutoClose, since.Add(p.PendingCloseAfter)})
		}
	case StatusNew:
		if p.EscalateAfter > 0 && t.Assignee == "" {
			out = append(out, Timer{TimerEscalate, p.Calendar.Add(t.Created, p.EscalateAfter)})
		}
	}
	return out
}

// Calendar is a team's working week: a time zone, the working days, and the working hours.
type Calendar struct {
	Loc        *time.Location
	Days       [7]bool // by time.Weekday
	Start, End int     // minutes after midnight, Start < End
}

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseCalendar reads "Europe/Paris mon-fri 09:00-18:00" (a time zone, days as a range or a
// comma list, hours). An empty string is no calendar: delays count every hour.
func ParseCalendar(s string) (*Calendar, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return nil, nil
	}
	if len(f) != 3 {
		return nil, fmt.Errorf("%w: business hours %q: want \"ZONE DAYS HH:MM-HH:MM\", e.g. \"Europe/Paris mon-fri 09:00-18:00\"", ErrInvalid, s)
	}
	loc, err := time.LoadLocation(f[0])
	if err != nil {
		return nil, fmt.Errorf("%w: business hours: unknown time zone %q", ErrInvalid, f[0])
	}
	c := &Calendar{Loc: loc}
	for _, part := range strings.Split(strings.ToLower(f[1]), ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, b := dayIndex(from), dayIndex(to)
		if !isRange {
			b = a
		}
		if a < 0 || b < 0 {
			return nil, fmt.Errorf("%w: business hours: days %q: use mon, tue, wed, thu, fri, sat, sun, ranges and commas", ErrInvalid, f[1])
		}
		for d := a; ; d = (d + 1) % 7 {
			c.Days[d] = true
			if d == b {
				break
			}
		}
	}
	from, to, ok := strings.Cut(f[2], "-")
	c.Start, c.End = clock(from), clock(to)
	if !ok || c.Start < 0 || c.End < 0 || c.Start >= c.End {
		return nil, fmt.Errorf("%w: business hours: hours %q: want HH:MM-HH:MM, start before end", ErrInvalid, f[2])
	}
	return c, nil
}

func dayIndex(s string) int {
	for i, n := range dayNames {
		if s == n {
			return i
		}
	}
	return -1
}

func clock(s string) int {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || hh == 24 && mm > 0 {
		return -1
	}
	return hh*60 + mm
}

// String is the calendar as ParseCalendar reads it.
func (c *Calendar) String() string {
	if c == nil {
		return ""
	}
	var days []string
	for i, on := range c.Days {
		if on {
			days = append(days, dayNames[i])
		}
	}
	return fmt.Sprintf("%s %s %02d:%02d-%02d:%02d", c.Loc, strings.Join(days, ","), c.Start/60, c.Start%60, c.End/60, c.End%60)
}

// Add returns the time d of working time after t: each whole 24 hours of d is one working
// day ("3d" is three working days), the rest working hours ("4h"). A nil calendar counts every hour.
func (c *Calendar) Add(t time.Time, d time.Duration) time.Time {
	if c == nil || d <= 0 {
		return t.Add(d)
	}
	d = d/(24*time.Hour)*time.Duration(c.End-c.Start)*time.Minute + d%(24*time.Hour)
	open := false
	for _, on := range c.Days {
		open = open || on
	}
	if !open {
		return t.Add(d)
	}
	cur := t.In(c.Loc)
	for range 3660 { // ten years of days at most
		day := time.Date(cur.Year(), cur.Month(), cur.Day(), 0, 0, 0, 0, c.Loc)
		if c.Days[cur.Weekday()] {
			start := day.Add(time.Duration(c.Start) * time.Minute)
			end := day.Add(time.Duration(c.End) * time.Minute)
			if cur.Before(start) {
				cur = start
			}
			if cur.Before(end) {
				if left := end.Sub(cur); d <= left {
					return cur.Add(d).UTC()
				} else {
					d -= left
				}
			}
		}
		cur = time.Date(cur.Year(), cur.Month(), cur.Day()+1, 0, 0, 0, 0, c.Loc)
	}
	return cur.Add(d).UTC()
}
