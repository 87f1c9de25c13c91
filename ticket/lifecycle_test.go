package ticket

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

var (
	now         = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	agent       = Actor{Role: RoleAgent, Address: "bob@example.com", Name: "Bob"}
	requester   = Actor{Role: RoleRequester, Address: "req@example.com"}
	participant = Actor{Role: RoleParticipant, Address: "cc@example.com"}
	stranger    = Actor{Role: RoleStranger, Address: "eve@example.net"}
)

func actorFor(r Role) Actor {
	switch r {
	case RoleAgent:
		return agent
	case RoleRequester:
		return requester
	case RoleParticipant:
		return participant
	case RoleSystem:
		return System
	}
	return stranger
}

// fixture is a ticket in status s: assigned to alice unless new, in that status for an hour.
func fixture(s Status) Ticket {
	t := Ticket{
		ID: 1, Number: 42, Subject: "Printer on fire",
		Requester:    Person{Address: "req@example.com", Lang: French},
		Participants: []Person{{Address: "cc@example.com"}},
		Type:         "question", Priority: PriorityNormal, Status: s,
		Created: now.Add(-2 * time.Hour), Updated: now.Add(-time.Hour), StatusSince: now.Add(-time.Hour),
	}
	if s != StatusNew {
		t.Assignee = "alice@example.com"
	}
	switch s {
	case StatusSolved:
		t.Solved = t.StatusSince
	case StatusClosed:
		t.Closed = t.StatusSince
	}
	return t
}

func testPolicy() Policy {
	p := DefaultPolicy()
	p.PendingCloseAfter = 3 * 24 * time.Hour
	return p
}

func unassigned(t *Ticket) { t.Assignee = "" }
func longAgo(t *Ticket) {
	t.StatusSince = now.Add(-30 * 24 * time.Hour)
	if t.Status == StatusClosed {
		t.Closed = t.StatusSince
	}
	if t.Status == StatusSolved {
		t.Solved = t.StatusSince
	}
}

// lifecycleTable is the whole lifecycle: one row per action and actor (and fixture variant),
// one column per status, each cell the status the ticket ends in or the error it gets.
// README.md and doc.go carry the same table; TestLifecycleTableDocumented keeps them true.
var lifecycleTable = []struct {
	action string
	role   Role
	act    Action
	fix    func(*Ticket)
	want   [6]string // new, assigned, planned, pending, solved, closed
}{
	{"assign to an agent", RoleAgent, Action{Kind: ActAssign, Agent: "bob@example.com"}, nil,
		[6]string{"assigned", "assigned", "assigned", "assigned", "invalid", "invalid"}},
	{"plan", RoleAgent, Action{Kind: ActPlan}, nil,
		[6]string{"planned", "planned", "invalid", "planned", "invalid", "invalid"}},
	{"put in pending", RoleAgent, Action{Kind: ActPending, Text: "Which model?"}, nil,
		[6]string{"pending", "pending", "pending", "invalid", "invalid", "invalid"}},
	{"public reply", RoleAgent, Action{Kind: ActMessage, Text: "Try this."}, nil,
		[6]string{"new", "assigned", "planned", "assigned", "solved", "closed"}},
	{"internal note", RoleAgent, Action{Kind: ActMessage, Visibility: Internal, Text: "Call them."}, nil,
		[6]string{"new", "assigned", "planned", "pending", "solved", "closed"}},
	{"internal note", RoleSystem, Action{Kind: ActMessage, Visibility: Internal, Text: "Out of office."}, nil,
		[6]string{"new", "assigned", "planned", "pending", "solved", "closed"}},
	{"message", RoleRequester, Action{Kind: ActMessage, Text: "It still burns."}, nil,
		[6]string{"new", "assigned", "planned", "assigned", "assigned", "assigned"}},
	{"message, nobody assigned", RoleRequester, Action{Kind: ActMessage, Text: "It still burns."}, unassigned,
		[6]string{"new", "assigned", "planned", "new", "new", "new"}},
	{"message that only thanks", RoleRequester, Action{Kind: ActMessage, Text: "Merci beaucoup !"}, nil,
		[6]string{"new", "assigned", "planned", "assigned", "solved", "closed"}},
	{"message, 30 days after", RoleRequester, Action{Kind: ActMessage, Text: "It burns again."}, longAgo,
		[6]string{"new", "assigned", "planned", "assigned", "assigned", "new ticket"}},
	{"message", RoleParticipant, Action{Kind: ActMessage, Text: "Same here."}, nil,
		[6]string{"new", "assigned", "planned", "assigned", "assigned", "assigned"}},
	{"solve", RoleAgent, Action{Kind: ActSolve, Text: "Replace the fuser."}, nil,
		[6]string{"solved", "solved", "solved", "solved", "invalid", "invalid"}},
	{"approve", RoleRequester, Action{Kind: ActApprove}, nil,
		[6]string{"invalid", "invalid", "invalid", "invalid", "closed", "invalid"}},
	{"refuse with a reason", RoleRequester, Action{Kind: ActRefuse, Reason: "Still burning."}, nil,
		[6]string{"invalid", "invalid", "invalid", "invalid", "assigned", "invalid"}},
	{"refuse without a reason", RoleRequester, Action{Kind: ActRefuse, Reason: "  "}, nil,
		[6]string{"invalid", "invalid", "invalid", "invalid", "reason required", "invalid"}},
	{"reopen", RoleAgent, Action{Kind: ActReopen}, nil,
		[6]string{"invalid", "invalid", "invalid", "invalid", "assigned", "assigned"}},
	{"reopen, nobody assigned", RoleAgent, Action{Kind: ActReopen}, unassigned,
		[6]string{"invalid", "invalid", "invalid", "invalid", "new", "new"}},
	{"reopen", RoleRequester, Action{Kind: ActReopen}, nil,
		[6]string{"invalid", "invalid", "invalid", "invalid", "invalid", "assigned"}},
	{"reopen, 30 days after", RoleRequester, Action{Kind: ActReopen}, longAgo,
		[6]string{"invalid", "invalid", "invalid", "invalid", "invalid", "expired"}},
	{"close", RoleAgent, Action{Kind: ActClose}, nil,
		[6]string{"closed", "closed", "closed", "closed", "closed", "invalid"}},
	{"close", RoleRequester, Action{Kind: ActClose}, nil,
		[6]string{"closed", "closed", "closed", "closed", "closed", "invalid"}},
	{"close automatically, 30 days after", RoleSystem, Action{Kind: ActAutoClose}, longAgo,
		[6]string{"invalid", "invalid", "invalid", "closed", "closed", "invalid"}},
	{"close automatically, 1 hour after", RoleSystem, Action{Kind: ActAutoClose}, nil,
		[6]string{"invalid", "invalid", "invalid", "not due", "not due", "invalid"}},
	{"set priority", RoleAgent, Action{Kind: ActPriority, Priority: PriorityUrgent}, nil,
		[6]string{"new", "assigned", "planned", "pending", "solved", "invalid"}},
	{"set type", RoleAgent, Action{Kind: ActType, Type: "bug"}, nil,
		[6]string{"new", "assigned", "planned", "pending", "solved", "invalid"}},
}

// outcome runs one cell and says how it ended, in the table's words.
func outcome(t *testing.T, tk Ticket, a Action, by Actor, p Policy) string {
	t.Helper()
	before := tk
	c, err := Apply(tk, a, by, now, p)
	switch {
	case errors.Is(err, ErrNotAllowed):
		return "not allowed"
	case errors.Is(err, ErrInvalidTransition):
		return "invalid"
	case errors.Is(err, ErrReasonRequired):
		return "reason required"
	case errors.Is(err, ErrReopenExpired):
		return "expired"
	case errors.Is(err, ErrNotDue):
		return "not due"
	case err != nil:
		return "error: " + err.Error()
	}
	checkInvariants(t, before, c)
	if c.FollowUp {
		return "new ticket"
	}
	return string(c.Ticket.Status)
}

// checkInvariants holds for every successful action: no change without its event,
// the input untouched, and time moving with the change.
func checkInvariants(t *testing.T, before Ticket, c Change) {
	t.Helper()
	after := c.Ticket
	if after.Status != before.Status {
		found := false
		for _, e := range c.Events {
			found = found || e.From == string(before.Status) && e.To == string(after.Status)
		}
		if !found {
			t.Errorf("status %s → %s without its event; events %+v", before.Status, after.Status, c.Events)
		}
		if !after.StatusSince.Equal(now) {
			t.Errorf("StatusSince = %v after a status change, want %v", after.StatusSince, now)
		}
	}
	if after.Assignee != before.Assignee && !hasEvent(c.Events, EventAssignee) {
		t.Errorf("assignee %q → %q without its event", before.Assignee, after.Assignee)
	}
	if after.Priority != before.Priority && !hasEvent(c.Events, EventPriority) {
		t.Errorf("priority changed without its event")
	}
	if after.Type != before.Type && !hasEvent(c.Events, EventType) {
		t.Errorf("type changed without its event")
	}
	for _, e := range c.Events {
		if e.Actor == "" || !e.Time.Equal(now) {
			t.Errorf("event %+v: want an actor and time %v", e, now)
		}
	}
	if (len(c.Events) > 0) && !after.Updated.Equal(now) {
		t.Errorf("Updated = %v after a change, want %v", after.Updated, now)
	}
	if after.Status == StatusClosed && after.Closed.IsZero() {
		t.Errorf("closed ticket without a closed time")
	}
	if after.Status.Open() && !after.Closed.IsZero() {
		t.Errorf("open ticket keeps closed time %v", after.Closed)
	}
}

func hasEvent(evs []Event, k EventKind) bool {
	for _, e := range evs {
		if e.Kind == k {
			return true
		}
	}
	return false
}

func TestLifecycleTable(t *testing.T) {
	p := testPolicy()
	for _, row := range lifecycleTable {
		for i, s := range Statuses {
			t.Run(fmt.Sprintf("%s/%s/%s", row.action, row.role, s), func(t *testing.T) {
				tk := fixture(s)
				if row.fix != nil {
					row.fix(&tk)
				}
				if got := outcome(t, tk, row.act, actorFor(row.role), p); got != row.want[i] {
					t.Errorf("got %s, want %s", got, row.want[i])
				}
			})
		}
	}
}

// TestLifecycleNotAllowed checks every cell left out of the table: any action by a role
// the table does not list for it is refused in every status.
func TestLifecycleNotAllowed(t *testing.T) {
	listed := map[string]bool{}
	for _, row := range lifecycleTable {
		listed[rowKey(row.act, row.role)] = true
	}
	actions := []Action{
		{Kind: ActAssign, Agent: "bob@example.com"}, {Kind: ActPlan}, {Kind: ActPending},
		{Kind: ActMessage, Text: "x"}, {Kind: ActMessage, Visibility: Internal, Text: "x"},
		{Kind: ActSolve, Text: "x"}, {Kind: ActApprove}, {Kind: ActRefuse, Reason: "x"}, {Kind: ActReopen},
		{Kind: ActClose}, {Kind: ActAutoClose}, {Kind: ActPriority, Priority: PriorityHigh}, {Kind: ActType, Type: "bug"},
	}
	roles := []Role{RoleAgent, RoleRequester, RoleParticipant, RoleSystem, RoleStranger}
	n := 0
	for _, a := range actions {
		for _, r := range roles {
			if listed[rowKey(a, r)] {
				continue
			}
			for _, s := range Statuses {
				n++
				tk := fixture(s)
				if got := outcome(t, tk, a, actorFor(r), testPolicy()); got != "not allowed" {
					t.Errorf("%s by %s on %s: got %s, want not allowed", rowKey(a, r), r, s, got)
				}
			}
		}
	}
	if n < 40*6 {
		t.Errorf("only %d refused cells checked; the table lists too much", n)
	}
}

func rowKey(a Action, r Role) string {
	v := a.Visibility
	if v == "" {
		v = Public
	}
	if a.Kind != ActMessage {
		v = ""
	}
	return fmt.Sprintf("%s/%s/%s", a.Kind, v, r)
}

// renderTable writes the lifecycle table as Markdown (README) or as an indented block (doc.go).
func renderTable(markdown bool) string {
	var b strings.Builder
	head := []string{"action", "actor"}
	for _, s := range Statuses {
		head = append(head, string(s))
	}
	rows := [][]string{head}
	for _, row := range lifecycleTable {
		r := []string{row.action, string(row.role)}
		rows = append(rows, append(r, row.want[:]...))
	}
	if markdown {
		for i, r := range rows {
			b.WriteString("| " + strings.Join(r, " | ") + " |\n")
			if i == 0 {
				b.WriteString(strings.Repeat("|---", len(r)) + "|\n")
			}
		}
		return b.String()
	}
	width := make([]int, len(head))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, r := range rows {
		line := "//\t"
		for i, c := range r {
			if i > 0 {
				line += "  "
			}
			line += c + strings.Repeat(" ", width[i]-len([]rune(c)))
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	return b.String()
}

func TestLifecycleTableDocumented(t *testing.T) {
	for _, doc := range []struct {
		file     string
		markdown bool
	}{{"../README.md", true}, {"doc.go", false}} {
		data, err := os.ReadFile(doc.file)
		if err != nil {
			t.Fatal(err)
		}
		if want := renderTable(doc.markdown); !strings.Contains(string(data), want) {
			t.Errorf("%s does not hold the lifecycle table as tested; want:\n%s", doc.file, want)
		}
	}
}

func TestSolveAssignsUnassignedTicket(t *testing.T) {
	tk := fixture(StatusNew)
	c, err := Apply(tk, Action{Kind: ActSolve, Text: "Done."}, agent, now, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if c.Ticket.Assignee != agent.Address {
		t.Errorf("assignee = %q, want %q", c.Ticket.Assignee, agent.Address)
	}
	if c.Message == nil || c.Message.Visibility != Public || c.Message.Text != "Done." {
		t.Errorf("solution message = %+v, want a public message", c.Message)
	}
	if !hasEvent(c.Events, EventSolutionProposed) || !hasEvent(c.Events, EventAssignee) {
		t.Errorf("events = %+v, want solution_proposed and assignee", c.Events)
	}
	if !c.Ticket.FirstResponse.Equal(now) || !c.Ticket.Solved.Equal(now) {
		t.Errorf("first response %v, solved %v; want both %v", c.Ticket.FirstResponse, c.Ticket.Solved, now)
	}
}

func TestAgentAnswerOnUnassignedPendingTakesTicket(t *testing.T) {
	tk := fixture(StatusPending)
	tk.Assignee = ""
	c, err := Apply(tk, Action{Kind: ActMessage, Text: "Here it is."}, agent, now, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if c.Ticket.Status != StatusAssigned || c.Ticket.Assignee != agent.Address {
		t.Errorf("got %s for %q, want assigned to %s", c.Ticket.Status, c.Ticket.Assignee, agent.Address)
	}
}

func TestRefusalIsAPublicMessage(t *testing.T) {
	c, err := Apply(fixture(StatusSolved), Action{Kind: ActRefuse, Reason: " Still broken. "}, requester, now, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if c.Message == nil || c.Message.Visibility != Public || c.Message.Text != "Still broken." {
		t.Errorf("message = %+v, want the public reason", c.Message)
	}
	if len(c.Events) != 1 || c.Events[0].Kind != EventSolutionRefused || c.Events[0].Reason != "Still broken." {
		t.Errorf("events = %+v, want one solution_refused with the reason", c.Events)
	}
	if !c.Ticket.Solved.IsZero() {
		t.Errorf("solved time %v kept after refusal", c.Ticket.Solved)
	}
}

func TestMessageOnSolvedCountsAsRefusal(t *testing.T) {
	c, err := Apply(fixture(StatusSolved), Action{Kind: ActMessage, Text: "Merci mais ça ne marche toujours pas"}, requester, now, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if c.Ticket.Status != StatusAssigned || c.Events[0].Kind != EventSolutionRefused {
		t.Errorf("got %s with %+v, want assigned after a refusal", c.Ticket.Status, c.Events)
	}
	p := DefaultPolicy()
	p.ThanksKeepsSolved = false
	c, err = Apply(fixture(StatusSolved), Action{Kind: ActMessage, Text: "Thanks!"}, requester, now, p)
	if err != nil || c.Ticket.Status != StatusAssigned {
		t.Errorf("with ThanksKeepsSolved off: got %s, %v; want assigned", c.Ticket.Status, err)
	}
}

func TestFollowUpLeavesClosedTicket(t *testing.T) {
	tk := fixture(StatusClosed)
	longAgo(&tk)
	c, err := Apply(tk, Action{Kind: ActMessage, Text: "Again."}, requester, now, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if !c.FollowUp || c.Ticket.Status != StatusClosed || len(c.Events) != 0 || !c.Ticket.Updated.Equal(tk.Updated) {
		t.Errorf("got %+v, want a follow-up and the closed ticket untouched", c)
	}
	if c.Message == nil || c.Message.Text != "Again." {
		t.Errorf("message = %+v, want the message for the new ticket", c.Message)
	}
}

func TestReopenWindowEdge(t *testing.T) {
	p := DefaultPolicy()
	tk := fixture(StatusClosed)
	tk.Closed = now.Add(-p.ReopenWithin)
	if c, err := Apply(tk, Action{Kind: ActMessage, Text: "x"}, requester, now, p); err != nil || c.FollowUp {
		t.Errorf("exactly at the window's end: follow-up %v, %v; want a reopen", c.FollowUp, err)
	}
	tk.Closed = tk.Closed.Add(-time.Second)
	if c, err := Apply(tk, Action{Kind: ActMessage, Text: "x"}, requester, now, p); err != nil || !c.FollowUp {
		t.Errorf("a second after the window: follow-up %v, %v; want a new ticket", c.FollowUp, err)
	}
	p.ReopenWithin = 0
	tk.Closed = now
	if c, err := Apply(tk, Action{Kind: ActMessage, Text: "x"}, requester, now, p); err != nil || !c.FollowUp {
		t.Errorf("window off: follow-up %v, %v; want a new ticket", c.FollowUp, err)
	}
}

func TestAutoCloseDue(t *testing.T) {
	p := DefaultPolicy()
	tk := fixture(StatusSolved)
	due, ok := tk.AutoCloseDue(p)
	if !ok || !due.Equal(tk.StatusSince.Add(7*24*time.Hour)) {
		t.Errorf("got %v %v, want 7 days after the solution", due, ok)
	}
	if _, ok := fixture(StatusPending).AutoCloseDue(p); ok {
		t.Errorf("pending closes automatically by default; want off")
	}
	c, err := Apply(tk, Action{Kind: ActAutoClose}, System, due, p)
	if err != nil || c.Events[0].Kind != EventClosedAuto || c.Events[0].Actor != "system" {
		t.Errorf("at the due time: %+v, %v; want closed_automatically by system", c.Events, err)
	}
	if _, err := Apply(tk, Action{Kind: ActAutoClose}, System, due.Add(-time.Second), p); !errors.Is(err, ErrNotDue) {
		t.Errorf("a second early: %v, want ErrNotDue", err)
	}
}

func TestApplyDoesNotModifyInput(t *testing.T) {
	tk := fixture(StatusPending)
	tk.Participants = make([]Person, 1, 4)
	tk.Participants[0] = Person{Address: "cc@example.com"}
	before := fmt.Sprintf("%+v", tk)
	if _, err := Apply(tk, Action{Kind: ActMessage, Text: "x"}, requester, now, DefaultPolicy()); err != nil {
		t.Fatal(err)
	}
	if after := fmt.Sprintf("%+v", tk); after != before {
		t.Errorf("input changed:\n%s\n%s", before, after)
	}
}

func TestEmptyMessagesRefused(t *testing.T) {
	for _, a := range []Action{{Kind: ActMessage, Text: " \n"}, {Kind: ActSolve}} {
		if _, err := Apply(fixture(StatusAssigned), a, agent, now, DefaultPolicy()); !errors.Is(err, ErrEmptyText) {
			t.Errorf("%s without text: %v, want ErrEmptyText", a.Kind, err)
		}
	}
	a := Action{Kind: ActMessage, Attachments: []Attachment{{Filename: "shot.png", Size: 1}}}
	if _, err := Apply(fixture(StatusAssigned), a, requester, now, DefaultPolicy()); err != nil {
		t.Errorf("attachment without text: %v, want accepted", err)
	}
}

func TestUnknownValues(t *testing.T) {
	if _, err := Apply(fixture(StatusNew), Action{Kind: ActPriority, Priority: "whenever"}, agent, now, DefaultPolicy()); !errors.Is(err, ErrUnknownPriority) {
		t.Errorf("got %v, want ErrUnknownPriority", err)
	}
	if _, err := Apply(fixture(StatusNew), Action{Kind: ActType, Type: "rant"}, agent, now, DefaultPolicy()); !errors.Is(err, ErrUnknownType) {
		t.Errorf("got %v, want ErrUnknownType", err)
	}
	if _, err := ParseStatus("open"); !errors.Is(err, ErrUnknownStatus) {
		t.Errorf("got %v, want ErrUnknownStatus", err)
	}
}
