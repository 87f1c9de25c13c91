package ticket

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Channel is the way a ticket came in.
type Channel string

const (
	ChannelEmail Channel = "email"
	ChannelWeb   Channel = "web"
	ChannelCLI   Channel = "cli"
)

// Person is somebody outside the team who takes part in a ticket.
type Person struct {
	Address string // lower-cased e-mail address
	Name    string
	Lang    Lang
}

// Ticket is one request, from check-in to closing.
type Ticket struct {
	ID             int64 // internal id, never shown to customers
	Number         int64 // public number, shown in subjects as a tag
	Subject        string
	Requester      Person
	Participants   []Person // other people in copy (Cc)
	Type           string   // a code from the configured Types
	Priority       Priority
	Status         Status
	Assignee       string // address of the agent in charge, "" for nobody
	Group          string
	SupportAddress string // the support address the ticket came in through
	Channel        Channel
	LinkedTo       int64 // number of the closed ticket this one follows, 0 for none

	Created       time.Time
	Updated       time.Time
	StatusSince   time.Time // when the status last changed
	FirstResponse time.Time // first public answer from the team; zero until then
	Solved        time.Time // last time a solution was proposed; zero when none stands
	Closed        time.Time // zero unless closed
}

// IsParticipant reports whether address is in copy of the ticket.
func (t *Ticket) IsParticipant(address string) bool {
	address = NormalizeAddress(address)
	for _, p := range t.Participants {
		if p.Address == address {
			return true
		}
	}
	return false
}

// RoleOf tells what part address plays on this ticket, given whether it is a registered agent.
// An agent who is also the requester of a ticket acts as its requester.
func (t *Ticket) RoleOf(address string, isAgent bool) Role {
	address = NormalizeAddress(address)
	switch {
	case address != "" && address == t.Requester.Address:
		return RoleRequester
	case isAgent:
		return RoleAgent
	case t.IsParticipant(address):
		return RoleParticipant
	}
	return RoleStranger
}

// NormalizeAddress trims and lower-cases an e-mail address.
// Local parts are case-sensitive in theory and never in practice (RFC 5321 §2.4).
func NormalizeAddress(address string) string {
	return strings.ToLower(strings.TrimSpace(address))
}

// ValidAddress reports whether address looks like local@domain.
func ValidAddress(address string) bool {
	at := strings.LastIndexByte(address, '@')
	if at <= 0 || at == len(address)-1 {
		return false
	}
	return !strings.ContainsAny(address, " \t\r\n<>,;\"()[]\\")
}

// Tag is the number as it stands in subjects, "[#42]" with the default prefix "#".
func Tag(prefix string, number int64) string {
	return "[" + prefix + strconv.FormatInt(number, 10) + "]"
}

// ParseTag finds the first tag with the given prefix in subject and returns its number.
func ParseTag(prefix, subject string) (int64, bool) {
	open := "[" + prefix
	for i := 0; ; {
		j := strings.Index(subject[i:], open)
		if j < 0 {
			return 0, false
		}
		start := i + j + len(open)
		end := start
		for end < len(subject) && subject[end] >= '0' && subject[end] <= '9' {
			end++
		}
		// Our tags never have leading zeros: "[#042]" is not ticket 42.
		if end > start && subject[start] != '0' && end-start <= 18 && end < len(subject) && subject[end] == ']' {
			n, err := strconv.ParseInt(subject[start:end], 10, 64)
			if err == nil && n > 0 {
				return n, true
			}
		}
		i = start
	}
}

// NewTicket is what it takes to open a ticket.
type NewTicket struct {
	Subject        string
	Requester      Person
	Participants   []Person
	Type           string
	Priority       Priority
	Group          string
	SupportAddress string
	Channel        Channel
	LinkedTo       int64
}

// Open builds a new ticket (without its number, which the store allocates) and its creation event.
// A missing type is the policy's default type; a missing priority is normal.
func Open(in NewTicket, p Policy, by Actor, now time.Time) (Ticket, Event, error) {
	subject := strings.TrimSpace(in.Subject)
	if subject == "" {
		return Ticket{}, Event{}, fmt.Errorf("%w: the subject is empty", ErrInvalid)
	}
	req := in.Requester
	req.Address = NormalizeAddress(req.Address)
	if !ValidAddress(req.Address) {
		return Ticket{}, Event{}, fmt.Errorf("%w: requester address %q is not an e-mail address", ErrInvalid, in.Requester.Address)
	}
	if req.Lang == "" {
		req.Lang = English
	}
	typ := in.Type
	if typ == "" {
		typ = p.DefaultType
	}
	if _, err := p.Types.Lookup(typ); err != nil {
		return Ticket{}, Event{}, err
	}
	prio := in.Priority
	if prio == "" {
		prio = PriorityNormal
	}
	if _, err := ParsePriority(string(prio)); err != nil {
		return Ticket{}, Event{}, err
	}
	var parts []Person
	for _, p := range in.Participants {
		p.Address = NormalizeAddress(p.Address)
		if p.Address == "" || p.Address == req.Address {
			continue
		}
		if !ValidAddress(p.Address) {
			return Ticket{}, Event{}, fmt.Errorf("%w: participant address %q is not an e-mail address", ErrInvalid, p.Address)
		}
		dup := false
		for _, q := range parts {
			dup = dup || q.Address == p.Address
		}
		if !dup {
			parts = append(parts, p)
		}
	}
	ch := in.Channel
	if ch == "" {
		ch = ChannelEmail
	}
	now = now.UTC()
	t := Ticket{
		Subject:        subject,
		Requester:      req,
		Participants:   parts,
		Type:           typ,
		Priority:       prio,
		Status:         StatusNew,
		Group:          in.Group,
		SupportAddress: NormalizeAddress(in.SupportAddress),
		Channel:        ch,
		LinkedTo:       in.LinkedTo,
		Created:        now,
		Updated:        now,
		StatusSince:    now,
	}
	ev := Event{Time: now, Actor: by.ID(), Kind: EventCreated, To: string(StatusNew)}
	if in.LinkedTo != 0 {
		ev.Reason = fmt.Sprintf("follows closed ticket %d", in.LinkedTo)
	}
	return t, ev, nil
}
