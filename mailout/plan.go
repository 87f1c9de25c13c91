package mailout

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"guichet/signed"
	"guichet/store"
	"guichet/templates"
	"guichet/ticket"
)

// PlanConfig is what the who-gets-what table depends on.
type PlanConfig struct {
	Signer *signed.Signer
	Domain string // the domain of notification Message-IDs: the noreply address's
	// Ours reports whether an address is one of guichet's own (support, noreply and their plus
	// forms, accepted domains): nothing is ever sent there.
	Ours func(address string) bool
	Off  map[string]bool // kinds switched off in the configuration
	// Delays, for the mails that mention them.
	AutoCloseAfter    time.Duration
	AutoCloseByRoute  map[string]time.Duration // per support address
	PendingCloseAfter time.Duration
	RemindAfter       time.Duration
	EscalateAfter     time.Duration
	DefaultLang       ticket.Lang // agents' language
}

// Planner returns the store's planner: the who-gets-what table of README, as a pure function
// of the change. Every notification gets its Message-ID here, so that every try sends the same.
func Planner(c PlanConfig) store.Planner {
	return func(n store.Notice) []store.Notification { return plan(c, n) }
}

// Data keys of outbox rows.
const (
	keyFrom       = "from"
	keyTo         = "to"
	keyReason     = "reason"
	keyClosing    = "closing"
	keyDays       = "days"
	keyHours      = "hours"
	keySolution   = "solution"
	keyFailAddr   = "failed_address"
	keyFailStatus = "failed_status"
	keyFailDiag   = "failed_diagnostic"
	keyFailKind   = "failed_kind"
	keyEvent      = "event"
)

func plan(c PlanConfig, n store.Notice) []store.Notification {
	var out []store.Notification
	t := n.Ticket
	add := func(kind string, to ticket.Person, role ticket.Role, data map[string]string, msg *ticket.Message) {
		addr := ticket.NormalizeAddress(to.Address)
		if c.Off[kind] || !ticket.ValidAddress(addr) || c.Ours != nil && c.Ours(addr) {
			return
		}
		for _, o := range out {
			if o.To.Address == addr && o.Kind == kind {
				return
			}
		}
		to.Address = addr
		if to.Lang == "" {
			to.Lang = c.DefaultLang
		}
		nt := store.Notification{Kind: kind, To: to, Role: role, Data: data, MessageID: c.messageID(t.Number)}
		if msg != nil && msg.ID != 0 && msg.Visibility == ticket.Public {
			nt.Message = msg.ID
			nt.Staff = kind == templates.Reply
		}
		out = append(out, nt)
	}
	ev := func(k ticket.EventKind) *ticket.Event {
		for i := range n.Events {
			if n.Events[i].Kind == k {
				return &n.Events[i]
			}
		}
		return nil
	}
	var status *ticket.Event
	for i := range n.Events {
		if n.Events[i].Kind == ticket.EventStatus {
			status = &n.Events[i]
		}
	}
	msg := n.Message
	publicStaff := msg != nil && msg.Visibility == ticket.Public && msg.Author.Staff()
	publicCustomer := msg != nil && msg.Visibility == ticket.Public && !msg.Author.Staff()
	staffActor := n.Actor.Staff()

	// The requester and the participants in copy.
	customers := func(kind string, data map[string]string, m *ticket.Message, requesterOnly bool) {
		add(kind, t.Requester, ticket.RoleRequester, data, m)
		if requesterOnly {
			return
		}
		for _, p := range t.Participants {
			if p.Lang == "" {
				p.Lang = t.Requester.Lang
			}
			add(kind, p, ticket.RoleParticipant, data, m)
		}
	}
	autoClose := c.AutoCloseAfter
	if d, ok := c.AutoCloseByRoute[ticket.NormalizeAddress(t.SupportAddress)]; ok {
		autoClose = d
	}
	if !n.Quiet {
		switch {
		case n.Timer == ticket.TimerRemind:
			customers(templates.Reminder, map[string]string{keyDays: daysOf(c.RemindAfter)}, visible(msg), true)
		case n.Timer != "":
		case ev(ticket.EventCreated) != nil:
			customers(templates.Created, nil, msg, false)
		case ev(ticket.EventSolutionApproved) != nil:
			customers(templates.Closed, map[string]string{keyClosing: templates.ClosedApproved}, msg, false)
		case ev(ticket.EventSolutionRefused) != nil:
			customers(templates.Refused, map[string]string{keyReason: ev(ticket.EventSolutionRefused).Reason}, nil, true)
		case ev(ticket.EventClosedAuto) != nil:
			closing, days := templates.ClosedAuto, autoClose
			if ev(ticket.EventClosedAuto).From == string(ticket.StatusPending) {
				closing, days = templates.ClosedPending, c.PendingCloseAfter
			}
			customers(templates.Closed, map[string]string{keyClosing: closing, keyDays: daysOf(days)}, nil, false)
		case status != nil && status.To == string(ticket.StatusClosed):
			closing := templates.ClosedByAgent
			if n.Actor.Customer() {
				closing = templates.ClosedByThem
			}
			customers(templates.Closed, map[string]string{keyClosing: closing, keyReason: status.Reason}, visible(msg), false)
		case ev(ticket.EventSolutionProposed) != nil:
			data := map[string]string{keySolution: strconv.FormatInt(n.Solution, 10), keyDays: daysOf(autoClose)}
			customers(templates.Solved, data, msg, false)
		case ev(ticket.EventReopened) != nil && staffActor:
			customers(templates.Status, map[string]string{keyTo: "reopened", keyFrom: ev(ticket.EventReopened).From,
				keyReason: ev(ticket.EventReopened).Reason}, visible(msg), false)
		case status != nil && staffActor && (status.To == string(ticket.StatusPlanned) || status.To == string(ticket.StatusPending) ||
			status.To == string(ticket.StatusAssigned) && !publicStaff):
			data := map[string]string{keyFrom: status.From, keyTo: status.To, keyReason: status.Reason}
			customers(templates.Status, data, visible(msg), false)
		case publicStaff:
			customers(templates.Reply, nil, msg, false)
		}
	}

	// The agents: the assignee, else all of them; never the one who acted.
	var agents []ticket.Person
	if t.Assignee != "" {
		p := ticket.Person{Address: t.Assignee}
		for _, a := range n.Agents {
			if a.Address == t.Assignee {
				p.Name = a.Name
			}
		}
		agents = append(agents, p)
	} else {
		for _, a := range n.Agents {
			agents = append(agents, ticket.Person{Address: a.Address, Name: a.Name})
		}
	}
	staff := func(kind string, data map[string]string, m *ticket.Message) {
		for _, a := range agents {
			if a.Address == ticket.NormalizeAddress(n.Actor.Address) {
				continue
			}
			add(kind, a, ticket.RoleAgent, data, m)
		}
	}
	switch {
	case n.Timer == ticket.TimerEscalate:
		staff(templates.AgentEscalation, map[string]string{keyHours: strconv.Itoa(int(c.EscalateAfter.Round(time.Hour) / time.Hour))}, nil)
	case n.Timer != "":
	case ev(ticket.EventCreated) != nil:
		staff(templates.AgentNew, nil, msg)
	case ev(ticket.EventSolutionRefused) != nil:
		staff(templates.AgentRefused, map[string]string{keyReason: ev(ticket.EventSolutionRefused).Reason}, visible(msg))
	case ev(ticket.EventSolutionApproved) != nil:
		staff(templates.AgentApproved, nil, visible(msg))
	case publicCustomer:
		staff(templates.AgentFollowUp, nil, msg)
	}
	for _, f := range n.Failures {
		if strings.HasPrefix(f.Kind, "agent_") {
			continue // an agent's own mail bounced: recorded on the ticket, not mailed to agents again
		}
		staff(templates.AgentFailure, map[string]string{keyFailAddr: f.Address, keyFailStatus: f.Status,
			keyFailDiag: f.Diagnostic, keyFailKind: f.Kind}, nil)
	}
	return out
}

// visible is m when the requester may see it.
func visible(m *ticket.Message) *ticket.Message {
	if m == nil || m.Visibility != ticket.Public {
		return nil
	}
	return m
}

func daysOf(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	days := int((d + 12*time.Hour) / (24 * time.Hour))
	if days < 1 {
		days = 1
	}
	return strconv.Itoa(days)
}

// messageID makes a fresh signed Message-ID for a notification about ticket number.
func (c PlanConfig) messageID(number int64) string {
	b := make([]byte, 8)
	rand.Read(b)
	domain := c.Domain
	if domain == "" {
		domain = "localhost"
	}
	if c.Signer == nil {
		return "n" + hex.EncodeToString(b) + "@" + domain
	}
	return c.Signer.MessageID(number, hex.EncodeToString(b), domain)
}
