package ticket

import "time"

// File is an attachment with its content, on its way to the store.
type File struct {
	Filename    string
	ContentType string
	Data        []byte
}

// Bounce is one recipient a delivery report says failed.
type Bounce struct {
	Recipient  string
	Status     string // enhanced status code, "5.1.1"
	Permanent  bool
	Diagnostic string
}

// Inbound is one received message and what the inbound pipeline decided to do with it.
// A store records all of it in one transaction, or nothing.
type Inbound struct {
	Raw       []byte
	Dedup     string // "mid:<Message-ID>", or "sha256:<hash>" for a message without one: stored once
	MessageID string
	Source    string // smtp, lmtp, imap, pipe, cli
	Received  time.Time
	Kind      string // new, followup, autoreply, bounce, list … as the pipeline classified it
	ThreadBy  string // reply-address, references, subject-tag, or ""
	Notify    bool   // whether notifications may answer it (never for auto-replies, bounces, lists)
	Sender    string // for the quarantine listing
	Subject   string

	// Quarantine, when set, is why the message is kept aside: nothing else happens.
	Quarantine string

	// Create opens a new ticket; else Number names an existing one; with neither, the message is
	// kept without a ticket (a bounce that names none, say).
	Create *NewTicket
	Number int64
	// Actor wrote the message. With an empty Role the store works it out from the Address.
	Actor Actor
	// Action is the message's effect: ActMessage, ActSolve, ActPending … Its Text, HTML,
	// MessageID and Attachments are the message. For Create, only the message is used.
	Action Action
	// Commands are further actions by the same actor (#priority high …), tried in order after
	// Action; one that the lifecycle refuses becomes an internal note saying why.
	Commands []Action
	// Notes are internal notes from the system: why commands were not applied, what was left out.
	Notes []string
	// AddParticipant lets a writer who is not on the ticket join it as a participant: they showed
	// they received its mail (the signed reply address, or References to it).
	AddParticipant bool
	// ForwardedBy is the agent who forwarded the message on the requester's behalf, if any.
	ForwardedBy Actor
	Files       []File
	Bounces     []Bounce
}

// Delivered says what became of an Inbound.
type Delivered struct {
	Duplicate  bool  // it was stored before; nothing was written
	Quarantine int64 // the quarantine entry, when it went there
	Number     int64 // the ticket it went to, 0 for none
	Created    bool  // the ticket was created by it
	FollowUp   int64 // a late message on a closed ticket opened this new ticket (then Number is it too)
}
