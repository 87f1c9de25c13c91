package ticket

import "time"

// EventKind names a change to a ticket.
type EventKind string

const (
	EventCreated          EventKind = "created"
	EventStatus           EventKind = "status"
	EventAssignee         EventKind = "assignee"
	EventPriority         EventKind = "priority"
	EventType             EventKind = "type"
	EventSolutionProposed EventKind = "solution_proposed"
	EventSolutionApproved EventKind = "solution_approved"
	EventSolutionRefused  EventKind = "solution_refused"
	EventReopened         EventKind = "reopened"
	EventClosedAuto       EventKind = "closed_automatically"
	EventFollowedUp       EventKind = "followed_up"          // a message after the reopen window opened ticket To
	EventParticipantAdded EventKind = "participant_added"    // a writer not in copy showed they received the ticket's mail
	EventReminded         EventKind = "reminder_sent"        // the requester was reminded of the pending question
	EventEscalated        EventKind = "escalated"            // the agents were told the new ticket is still unassigned
	EventNotifyFailed     EventKind = "notification_failed"  // a notification could not be delivered (To: the address)
	EventNotifyDelayed    EventKind = "notification_delayed" // the rate limit held a notification back (To: the address)
)

// Event records one change: who, when, what it was, what it became, and why.
type Event struct {
	ID       int64
	TicketID int64
	Time     time.Time
	Actor    string
	Kind     EventKind
	From     string
	To       string
	Reason   string
}
