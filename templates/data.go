package templates

import "html/template"

// Mail kinds: what a notification tells its recipient. The first group goes to the requester
// and the participants in copy, the second to agents.
const (
	Created  = "created"  // the acknowledgement: number, tag, what they wrote
	Reply    = "reply"    // a public staff reply, with its attachments
	Status   = "status"   // a status they can see: assigned (processing), planned, pending (Reason is the question), reopened
	Solved   = "solved"   // a solution is proposed; the requester's copy has Links.Approve and Links.Refuse
	Closed   = "closed"   // closed: Closing says how
	Refused  = "refused"  // their refusal is recorded (Reason)
	Reminder = "reminder" // a pending ticket still waits for their answer (Reason is the question)
	Digest   = "digest"   // several delayed notifications merged into one (Updates)

	AgentNew        = "agent_new"        // a new ticket
	AgentFollowUp   = "agent_followup"   // the requester or a participant wrote, with attachments
	AgentRefused    = "agent_refused"    // the requester refused the solution (Reason)
	AgentApproved   = "agent_approved"   // the requester approved the solution
	AgentFailure    = "agent_failure"    // a notification could not be delivered (Failure)
	AgentEscalation = "agent_escalation" // a new ticket is still unassigned after Hours
)

// Kinds lists every mail kind.
var Kinds = []string{Created, Reply, Status, Solved, Closed, Refused, Reminder, Digest,
	AgentNew, AgentFollowUp, AgentRefused, AgentApproved, AgentFailure, AgentEscalation}

// Ways a ticket gets closed, for Closed mails.
const (
	ClosedApproved = "approved" // the requester approved the solution
	ClosedByAgent  = "agent"    // an agent closed it
	ClosedAuto     = "auto"     // nobody answered the solution within Days days
	ClosedPending  = "pending"  // nobody answered the agent's question within Days days
	ClosedByThem   = "requester"
)

// Person is someone mail is about or for.
type Person struct {
	Name    string
	Address string
}

// Display is the person's name, else their address.
func (p Person) Display() string {
	if p.Name != "" {
		return p.Name
	}
	return p.Address
}

// Ticket is what a mail or a page shows of a ticket; names are already in the reader's language.
type Ticket struct {
	Number     int64
	Tag        string // "[#12]", as subjects carry it
	Subject    string // without the tag
	Status     string // code: new, assigned, planned, pending, solved, closed
	StatusName string // in the reader's language
	Priority   string // in the reader's language
	Type       string // in the reader's language
	Requester  Person
	Assignee   string // the agent's name or address, "" when nobody
	Created    string // formatted for the reader
}

// Attachment is a file on a message; URL is "" in mail (the file is attached) and set on pages.
type Attachment struct {
	Name string
	Size string // human readable: "12 KB"
	URL  string
}

// Message is something someone wrote on the ticket.
type Message struct {
	Author      Person
	Staff       bool   // written by an agent
	Time        string // formatted for the reader
	Text        string
	HTML        template.HTML // sanitized already; "" when the message had no HTML
	Attachments []Attachment
}

// Links are the signed links a mail carries.
type Links struct {
	Ticket  string // the ticket's page, in every mail to a requester or participant
	Approve string // only in the requester's copy of a Solved mail
	Refuse  string
	Agent   string // for agents: where they work on the ticket ("" until the agents' web page exists)
}

// Update is one notification merged into a Digest.
type Update struct {
	Kind    string
	Time    string
	Summary string // one line, in the reader's language
}

// Failure is a delivery failure, for AgentFailure.
type Failure struct {
	Address    string
	Status     string // "5.1.1"
	Diagnostic string
	Kind       string // the kind of the notification that failed
}

// Mail is everything a notification's templates can use.
type Mail struct {
	Kind      string
	Lang      string // "en" or "fr"
	Brand     string // the sender's display name: "Support", "Acme Helpdesk"
	Recipient Person
	Role      string // requester, participant or agent
	Ticket    Ticket
	Message   *Message // what was written: their message, the staff reply, the solution, the question
	From, To  string   // Status: the status before and after, in the reader's language
	ToCode    string   // Status: the status after, as a code (assigned, planned, pending, reopened…)
	Reason    string   // the pending question, the refusal's reason, a reopening's reason
	Closing   string   // Closed: one of the Closed* constants
	Days      int      // Closed (auto, pending), Reminder: the delay in days
	Hours     int      // AgentEscalation: how long it has waited unassigned
	Links     Links
	Updates   []Update // Digest
	Failure   *Failure // AgentFailure
	Marker    string   // the "reply above this line" marker, first line of every mail a person may answer
}

// Rendered is a mail's subject and its two bodies.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
}

// Page kinds: what a web page shows.
const (
	PageTicket = "ticket" // the ticket, its public messages, and Approve/Refuse forms while a solution waits
	PageAction = "action" // the approve or refuse page opened from a mail link: GET shows it, the form POSTs
	PageResult = "result" // what an approval or refusal did, and what happens next
	PageError  = "error"  // a forged, expired, used or stale link: says so, changes nothing
)

// Page errors, for PageError and for a form sent back with a problem.
const (
	ErrInvalid        = "invalid"         // the link is not one of ours (forged, cut)
	ErrExpired        = "expired"         // too old
	ErrUsed           = "used"            // used once already
	ErrStale          = "stale"           // the solution is no longer the one waiting (approved, refused, replaced)
	ErrReasonRequired = "reason_required" // refusing needs a reason
	ErrNotFound       = "not_found"
	ErrUnavailable    = "unavailable" // the database is down: try again
)

// Page is everything a web page's template can use.
type Page struct {
	Kind     string
	Lang     string
	Brand    string
	Ticket   Ticket
	Messages []Message // public messages, oldest first (PageTicket)
	Solution *Message  // the solution waiting for an answer, if any
	Action   string    // "approve" or "refuse" (PageAction, PageResult)
	Form     string    // the URL the page's form posts to; the same page's URL
	// CanAct: the reader is the requester and a solution waits: PageTicket shows Approve and Refuse forms
	// posting to ApproveURL and RefuseURL.
	CanAct     bool
	ApproveURL string
	RefuseURL  string
	TicketURL  string // back to the ticket's page
	Comment    string // what the reader typed, kept when the form comes back with an error
	Error      string // one of the Err* constants; "" for none
	Langs      []LangLink
}

// LangLink switches a page's language.
type LangLink struct {
	Lang string
	URL  string
}
