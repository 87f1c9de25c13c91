package ticket

import (
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Role is the part an actor plays on a ticket.
type Role string

const (
	RoleRequester   Role = "requester"
	RoleParticipant Role = "participant" // in copy of the ticket
	RoleAgent       Role = "agent"       // a member of the support team
	RoleSystem      Role = "system"      // guichet itself: timers, automatic notes
	RoleStranger    Role = "stranger"    // none of the above: may do nothing to the ticket
)

// Actor is who does something to a ticket.
type Actor struct {
	Role    Role
	Address string
	Name    string
}

// ID is how the actor is recorded in events: the address, else the name ("cli", "system").
func (a Actor) ID() string {
	if a.Address != "" {
		return a.Address
	}
	if a.Name != "" {
		return a.Name
	}
	return string(a.Role)
}

// Staff reports whether the actor is on the team's side (agents and the system).
func (a Actor) Staff() bool { return a.Role == RoleAgent || a.Role == RoleSystem }

// Customer reports whether the actor is on the customer's side.
func (a Actor) Customer() bool { return a.Role == RoleRequester || a.Role == RoleParticipant }

// System is guichet itself.
var System = Actor{Role: RoleSystem, Name: "system"}

// CLI is an operator at the command line, with an agent's rights.
var CLI = Actor{Role: RoleAgent, Name: "cli"}

// Visibility says who may read a message.
type Visibility string

const (
	Public   Visibility = "public"   // the requester and participants see it
	Internal Visibility = "internal" // staff only, never sent to the requester
)

// Message is one entry of a ticket's conversation.
type Message struct {
	ID          int64
	TicketID    int64
	Time        time.Time
	Author      Actor
	Visibility  Visibility
	Text        string
	HTML        string // optional, already sanitized for display
	MessageID   string // RFC 5322 Message-ID without angle brackets, "" when none
	Attachments []Attachment
}

// Attachment describes a file on a message; its content is stored once by its SHA-256.
type Attachment struct {
	Filename    string
	ContentType string
	Size        int64
	SHA256      string // hex
}

// SanitizeFilename turns a hostile attachment name into one that is safe to show and to save:
// no directories, no control or bidirectional-override characters, no leading dots, at most 200 bytes.
func SanitizeFilename(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(strings.TrimRight(name, "/"))
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r),
			strings.ContainsRune(`/\:*?"<>|`, r):
			b.WriteRune('_')
		default:
			b.WriteRune(r)
		}
	}
	name = strings.TrimSpace(strings.TrimLeft(b.String(), ". \t"))
	for len(name) > 200 {
		ext := path.Ext(name)
		if len(ext) > 20 {
			ext = ""
		}
		cut := 200 - len(ext)
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = strings.TrimSpace(name[:cut]) + ext
	}
	if name == "" || name == "." || name == "_" {
		return "attachment"
	}
	return name
}
