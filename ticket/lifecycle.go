package ticket

import (
	"fmt"
	"strings"
	"time"
)

// ActionKind names what an actor does to a ticket.
type ActionKind string

const (
	ActAssign    ActionKind = "assign"    // Agent takes charge → assigned
	ActPlan      ActionKind = "plan"      // → planned
	ActPending   ActionKind = "pending"   // → pending, waiting for the requester; Text is the question, optional
	ActMessage   ActionKind = "message"   // a message with Visibility; its effect depends on who writes
	ActSolve     ActionKind = "solve"     // Text is the solution → solved
	ActApprove   ActionKind = "approve"   // the requester approves the solution → closed; Text is an optional comment
	ActRefuse    ActionKind = "refuse"    // the requester refuses; Reason is required → assigned
	ActReopen    ActionKind = "reopen"    // solved or closed → assigned
	ActClose     ActionKind = "close"     // → closed
	ActAutoClose ActionKind = "autoclose" // the system closes a solved or pending ticket left unanswered
	ActPriority  ActionKind = "priority"  // set Priority
	ActType      ActionKind = "type"      // set Type
)

// Action is one thing an actor does to a ticket; which fields count depends on Kind.
type Action struct {
	Kind        ActionKind
	Agent       string     // ActAssign: the agent's address
	Text        string     // ActMessage, ActSolve, ActPending (question), ActApprove (comment)
	HTML        string     // optional HTML of Text, sanitized
	Visibility  Visibility // ActMessage; "" means public
	MessageID   string     // the message's Message-ID, if it came by e-mail
	Attachments []Attachment
	Reason      string // ActRefuse (required); recorded on status changes
	Priority    Priority
	Type        string
}

// Policy holds the lifecycle's settings.
type Policy struct {
	AutoCloseAfter    time.Duration // a solved ticket left unanswered this long is closed; 0 never
	PendingCloseAfter time.Duration // a pending ticket left unanswered this long is closed; 0 never (default)
	ReopenWithin      time.Duration // a customer message this soon after closing reopens; later it opens a new ticket
	ThanksKeepsSolved bool          // a message that only thanks leaves a solved ticket solved
	Types             Types
	DefaultType       string // the type of a ticket that does not say
}

// DefaultPolicy is the policy of the seed documents.
func DefaultPolicy() Policy {
	return Policy{
		AutoCloseAfter:    7 * 24 * time.Hour,
		ReopenWithin:      14 * 24 * time.Hour,
		ThanksKeepsSolved: true,
		Types:             DefaultTypes,
		DefaultType:       "question",
	}
}

// Change is the result of an action: the ticket after it, the events that record it,
// and the message it adds, if any.
type Change struct {
	Ticket  Ticket
	Events  []Event
	Message *Message
	// FollowUp is set when a customer writes on a ticket closed longer than the reopen window:
	// the ticket does not change, and Message belongs on a new ticket linked to it.
	FollowUp bool
}

// allowed lists, for each action, the roles that may do it.
var allowed = map[ActionKind][]Role{
	ActAssign:    {RoleAgent},
	ActPlan:      {RoleAgent},
	ActPending:   {RoleAgent},
	ActMessage:   {RoleAgent, RoleSystem, RoleRequester, RoleParticipant},
	ActSolve:     {RoleAgent},
	ActApprove:   {RoleRequester},
	ActRefuse:    {RoleRequester},
	ActReopen:    {RoleAgent, RoleRequester},
	ActClose:     {RoleAgent, RoleRequester},
	ActAutoClose: {RoleSystem},
	ActPriority:  {RoleAgent},
	ActType:      {RoleAgent},
}

// Apply runs one action of the lifecycle on t and returns the resulting change, or an error
// wrapping ErrNotAllowed, ErrInvalidTransition, ErrReasonRequired, ErrReopenExpired, ErrNotDue,
// ErrEmptyText or ErrAssigneeRequired. It has no side effect: t itself is not modified.
func Apply(t Ticket, a Action, by Actor, now time.Time, p Policy) (Change, error) {
	roles, ok := allowed[a.Kind]
	if !ok {
		return Change{}, fmt.Errorf("%w: unknown action %q", ErrInvalidTransition, a.Kind)
	}
	vis := a.Visibility
	if vis == "" {
		vis = Public
	}
	permitted := false
	for _, r := range roles {
		permitted = permitted || r == by.Role
	}
	if a.Kind == ActMessage && vis == Internal && by.Customer() || a.Kind == ActMessage && vis == Public && by.Role == RoleSystem {
		permitted = false
	}
	if !permitted {
		what := string(a.Kind)
		if a.Kind == ActMessage {
			what = "write a " + string(vis) + " message on"
		}
		return Change{}, fmt.Errorf("%w: a %s may not %s ticket %d", ErrNotAllowed, by.Role, what, t.Number)
	}
	t.Participants = append([]Person(nil), t.Participants...)
	c := &change{t: t, by: by, now: now.UTC()}
	var err error
	switch a.Kind {
	case ActAssign:
		err = c.assign(a)
	case ActPlan:
		err = c.treat(a, StatusPlanned)
	case ActPending:
		err = c.treat(a, StatusPending)
	case ActMessage:
		err = c.message(a, vis, p)
	case ActSolve:
		err = c.solve(a)
	case ActApprove:
		err = c.approve(a)
	case ActRefuse:
		err = c.refuse(a)
	case ActReopen:
		err = c.reopen(a, p)
	case ActClose:
		err = c.close(a)
	case ActAutoClose:
		err = c.autoClose(p)
	case ActPriority:
		err = c.priority(a)
	case ActType:
		err = c.setType(a, p)
	}
	if err != nil {
		return Change{}, err
	}
	if len(c.events) > 0 || c.msg != nil && !c.followUp {
		c.t.Updated = c.now
	}
	if c.followUp {
		c.t = t
	}
	return Change{Ticket: c.t, Events: c.events, Message: c.msg, FollowUp: c.followUp}, nil
}

// change accumulates what one action does.
type change struct {
	t        Ticket
	by       Actor
	now      time.Time
	events   []Event
	msg      *Message
	followUp bool
}

func (c *change) event(kind EventKind, from, to, reason string) {
	c.events = append(c.events, Event{Time: c.now, Actor: c.by.ID(), Kind: kind, From: from, To: to, Reason: reason})
}

// moveTo changes the status, recording it as an event of the given kind.
func (c *change) moveTo(to Status, kind EventKind, reason string) {
	from := c.t.Status
	c.t.Status = to
	c.t.StatusSince = c.now
	switch to {
	case StatusClosed:
		c.t.Closed = c.now
	case StatusSolved:
		c.t.Solved = c.now
	default:
		c.t.Closed = time.Time{}
		c.t.Solved = time.Time{}
	}
	c.event(kind, string(from), string(to), reason)
}

func (c *change) setAssignee(agent, reason string) {
	if agent == c.t.Assignee {
		return
	}
	c.event(EventAssignee, c.t.Assignee, agent, reason)
	c.t.Assignee = agent
}

// reopenedStatus is where a ticket goes back to when work resumes: assigned, or new with nobody in charge.
func (c *change) reopenedStatus() Status {
	if c.t.Assignee == "" {
		return StatusNew
	}
	return StatusAssigned
}

func (c *change) addMessage(a Action, vis Visibility, text string) {
	c.msg = &Message{
		TicketID:    c.t.ID,
		Time:        c.now,
		Author:      c.by,
		Visibility:  vis,
		Text:        text,
		HTML:        a.HTML,
		MessageID:   a.MessageID,
		Attachments: a.Attachments,
	}
	if vis == Public && c.by.Role == RoleAgent && c.t.FirstResponse.IsZero() {
		c.t.FirstResponse = c.now
	}
}

func (c *change) invalid(what string) error {
	return fmt.Errorf("%w: cannot %s ticket %d: it is %s", ErrInvalidTransition, what, c.t.Number, c.t.Status)
}

func (c *change) assign(a Action) error {
	agent := NormalizeAddress(a.Agent)
	if agent == "" {
		return fmt.Errorf("%w: assign needs an agent", ErrAssigneeRequired)
	}
	if !c.t.Status.Open() {
		return c.invalid("assign")
	}
	if c.t.Status == StatusAssigned && c.t.Assignee == agent {
		return fmt.Errorf("%w: ticket %d is already assigned to %s", ErrInvalidTransition, c.t.Number, agent)
	}
	c.setAssignee(agent, a.Reason)
	if c.t.Status != StatusAssigned {
		c.moveTo(StatusAssigned, EventStatus, a.Reason)
	}
	return nil
}

// treat moves an open ticket to planned or pending; pending may carry the agent's question.
func (c *change) treat(a Action, to Status) error {
	if !c.t.Status.Open() || c.t.Status == to {
		return c.invalid("put in " + string(to))
	}
	c.moveTo(to, EventStatus, a.Reason)
	if text := strings.TrimSpace(a.Text); text != "" {
		c.addMessage(a, Public, text)
	}
	return nil
}

func (c *change) message(a Action, vis Visibility, p Policy) error {
	text := strings.TrimSpace(a.Text)
	if text == "" && len(a.Attachments) == 0 {
		return fmt.Errorf("%w: a message on ticket %d needs text or an attachment", ErrEmptyText, c.t.Number)
	}
	if c.by.Staff() {
		c.addMessage(a, vis, text)
		if vis == Public && c.t.Status == StatusPending {
			if c.t.Assignee == "" && c.by.Address != "" {
				c.setAssignee(c.by.Address, "answered")
			}
			c.moveTo(c.reopenedStatus(), EventStatus, "answered by "+c.by.ID())
		}
		return nil
	}
	// A requester or participant writes.
	switch c.t.Status {
	case StatusPending:
		c.addMessage(a, vis, text)
		c.moveTo(c.reopenedStatus(), EventStatus, "answered by "+c.by.ID())
	case StatusSolved:
		c.addMessage(a, vis, text)
		if p.ThanksKeepsSolved && IsThanksOnly(text) {
			return nil
		}
		if kind, _, ok := ParseAnswer(text); ok && kind == ActApprove {
			return nil // an approval that reached us as a plain message never counts as a refusal
		}
		reason := text
		if reason == "" {
			reason = "(a message with attachments only)"
		}
		c.moveTo(c.reopenedStatus(), EventSolutionRefused, reason)
	case StatusClosed:
		c.addMessage(a, vis, text)
		if p.ThanksKeepsSolved && IsThanksOnly(text) {
			return nil // "thanks!" after the approval neither reopens nor opens a ticket
		}
		if c.withinReopenWindow(p) {
			c.moveTo(c.reopenedStatus(), EventReopened, "message from "+c.by.ID())
		} else {
			c.followUp = true
		}
	default:
		c.addMessage(a, vis, text)
	}
	return nil
}

func (c *change) withinReopenWindow(p Policy) bool {
	return p.ReopenWithin > 0 && !c.now.After(c.t.Closed.Add(p.ReopenWithin))
}

func (c *change) solve(a Action) error {
	text := strings.TrimSpace(a.Text)
	if !c.t.Status.Open() {
		return c.invalid("solve")
	}
	if text == "" {
		return fmt.Errorf("%w: a solution for ticket %d needs its text", ErrEmptyText, c.t.Number)
	}
	if c.t.Assignee == "" && c.by.Address != "" {
		c.setAssignee(c.by.Address, "solved by "+c.by.Address)
	}
	c.addMessage(a, Public, text)
	c.moveTo(StatusSolved, EventSolutionProposed, a.Reason)
	return nil
}

func (c *change) approve(a Action) error {
	if c.t.Status != StatusSolved {
		return fmt.Errorf("%w: cannot approve ticket %d: it is %s, only a solved ticket can be approved", ErrInvalidTransition, c.t.Number, c.t.Status)
	}
	comment := strings.TrimSpace(a.Text)
	if comment != "" {
		c.addMessage(a, Public, comment)
	}
	c.moveTo(StatusClosed, EventSolutionApproved, comment)
	return nil
}

func (c *change) refuse(a Action) error {
	if c.t.Status != StatusSolved {
		return fmt.Errorf("%w: cannot refuse ticket %d: it is %s, only a solved ticket's solution can be refused", ErrInvalidTransition, c.t.Number, c.t.Status)
	}
	reason := strings.TrimSpace(a.Reason)
	if reason == "" {
		return fmt.Errorf("%w: say why the solution of ticket %d is refused", ErrReasonRequired, c.t.Number)
	}
	a.HTML = ""
	c.addMessage(a, Public, reason)
	c.moveTo(c.reopenedStatus(), EventSolutionRefused, reason)
	return nil
}

func (c *change) reopen(a Action, p Policy) error {
	switch {
	case c.t.Status == StatusSolved && c.by.Role == RoleRequester:
		return fmt.Errorf("%w: cannot reopen ticket %d: it is solved; refuse the solution instead", ErrInvalidTransition, c.t.Number)
	case c.t.Status.Open():
		return c.invalid("reopen")
	case c.t.Status == StatusClosed && c.by.Role == RoleRequester && !c.withinReopenWindow(p):
		return fmt.Errorf("%w: ticket %d was closed on %s; write a new request", ErrReopenExpired, c.t.Number, c.t.Closed.Format("2006-01-02"))
	}
	c.moveTo(c.reopenedStatus(), EventReopened, a.Reason)
	return nil
}

func (c *change) close(a Action) error {
	if c.t.Status == StatusClosed {
		return c.invalid("close")
	}
	c.moveTo(StatusClosed, EventStatus, a.Reason)
	return nil
}

func (c *change) autoClose(p Policy) error {
	due, ok := c.t.AutoCloseDue(p)
	if !ok {
		if c.t.Status == StatusSolved || c.t.Status == StatusPending {
			return fmt.Errorf("%w: ticket %d has no automatic closing set for %s tickets", ErrNotDue, c.t.Number, c.t.Status)
		}
		return c.invalid("close automatically")
	}
	if c.now.Before(due) {
		return fmt.Errorf("%w: ticket %d closes automatically at %s", ErrNotDue, c.t.Number, due.Format(time.RFC3339))
	}
	reason := "no answer since " + c.t.StatusSince.Format(time.RFC3339)
	c.moveTo(StatusClosed, EventClosedAuto, reason)
	return nil
}

// AutoCloseDue returns when the system will close t for want of an answer, if it will:
// a solved ticket AutoCloseAfter its solution, a pending one PendingCloseAfter it went pending.
func (t Ticket) AutoCloseDue(p Policy) (time.Time, bool) {
	switch {
	case t.Status == StatusSolved && p.AutoCloseAfter > 0:
		return t.StatusSince.Add(p.AutoCloseAfter), true
	case t.Status == StatusPending && p.PendingCloseAfter > 0:
		return t.StatusSince.Add(p.PendingCloseAfter), true
	}
	return time.Time{}, false
}

func (c *change) priority(a Action) error {
	if _, err := ParsePriority(string(a.Priority)); err != nil {
		return err
	}
	if c.t.Status == StatusClosed {
		return c.invalid("change the priority of")
	}
	if a.Priority == c.t.Priority {
		return fmt.Errorf("%w: ticket %d is already %s priority", ErrInvalidTransition, c.t.Number, a.Priority)
	}
	c.event(EventPriority, string(c.t.Priority), string(a.Priority), a.Reason)
	c.t.Priority = a.Priority
	return nil
}

func (c *change) setType(a Action, p Policy) error {
	if _, err := p.Types.Lookup(a.Type); err != nil {
		return err
	}
	if c.t.Status == StatusClosed {
		return c.invalid("change the type of")
	}
	if a.Type == c.t.Type {
		return fmt.Errorf("%w: ticket %d is already of type %s", ErrInvalidTransition, c.t.Number, a.Type)
	}
	c.event(EventType, c.t.Type, a.Type, a.Reason)
	c.t.Type = a.Type
	return nil
}
