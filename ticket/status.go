package ticket

import "fmt"

// Lang is a language a person reads; the project speaks English and French.
type Lang string

const (
	English Lang = "en"
	French  Lang = "fr"
)

// ParseLang accepts "en", "fr" and longer tags such as "fr-CA"; anything else is English.
func ParseLang(s string) Lang {
	if len(s) >= 2 && (s[:2] == "fr" || s[:2] == "FR" || s[:2] == "Fr") {
		return French
	}
	return English
}

// Names holds a display name in each language.
type Names struct {
	EN, FR string
}

// In returns the name in lang, English when lang is unknown.
func (n Names) In(lang Lang) string {
	if lang == French && n.FR != "" {
		return n.FR
	}
	return n.EN
}

// Status is where a ticket stands in the lifecycle of the seed documents.
type Status string

const (
	StatusNew      Status = "new"
	StatusAssigned Status = "assigned"
	StatusPlanned  Status = "planned"
	StatusPending  Status = "pending"
	StatusSolved   Status = "solved"
	StatusClosed   Status = "closed"
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{StatusNew, StatusAssigned, StatusPlanned, StatusPending, StatusSolved, StatusClosed}

var statusNames = map[Status]Names{
	StatusNew:      {"New", "Nouveau"},
	StatusAssigned: {"Processing (assigned)", "En cours (attribué)"},
	StatusPlanned:  {"Processing (planned)", "En cours (planifié)"},
	StatusPending:  {"Pending", "En attente"},
	StatusSolved:   {"Solved", "Résolu"},
	StatusClosed:   {"Closed", "Clos"},
}

// Name is the status as the seed portal shows it.
func (s Status) Name(lang Lang) string { return statusNames[s].In(lang) }

// Open reports whether the ticket still waits for work or an answer: every status but solved and closed.
func (s Status) Open() bool { return s != StatusSolved && s != StatusClosed && s != "" }

// ParseStatus returns the status named s (its code, e.g. "pending").
func ParseStatus(s string) (Status, error) {
	if _, ok := statusNames[Status(s)]; ok {
		return Status(s), nil
	}
	return "", fmt.Errorf("%w: %q (want one of new, assigned, planned, pending, solved, closed)", ErrUnknownStatus, s)
}

// Priority is how urgent a request is (seed 002).
type Priority string

const (
	PriorityLow    Priority = "low"
	PriorityNormal Priority = "normal"
	PriorityHigh   Priority = "high"
	PriorityUrgent Priority = "urgent"
)

// Priorities lists the priorities from the lowest.
var Priorities = []Priority{PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent}

var priorityNames = map[Priority]Names{
	PriorityLow:    {"Low", "Basse"},
	PriorityNormal: {"Normal", "Normale"},
	PriorityHigh:   {"High", "Haute"},
	PriorityUrgent: {"Urgent", "Urgente"},
}

// Name is the priority's display name.
func (p Priority) Name(lang Lang) string { return priorityNames[p].In(lang) }

// ParsePriority returns the priority named s.
func ParsePriority(s string) (Priority, error) {
	if _, ok := priorityNames[Priority(s)]; ok {
		return Priority(s), nil
	}
	return "", fmt.Errorf("%w: %q (want one of low, normal, high, urgent)", ErrUnknownPriority, s)
}

// TypeDef is one entry of the configurable list of ticket types.
type TypeDef struct {
	Code  string
	Names Names
}

// DefaultTypes are the ticket types of seed 002.
var DefaultTypes = []TypeDef{
	{"question", Names{"Question", "Question"}},
	{"bug", Names{"Bug", "Bug"}},
	{"feature", Names{"Feature request", "Demande de fonctionnalité"}},
	{"billing", Names{"Billing", "Facturation"}},
	{"technical", Names{"Technical", "Technique"}},
	{"other", Names{"Other", "Autre"}},
}

// Types is the list of ticket types a deployment accepts.
type Types []TypeDef

// Lookup returns the type whose code is code.
func (ts Types) Lookup(code string) (TypeDef, error) {
	for _, t := range ts {
		if t.Code == code {
			return t, nil
		}
	}
	codes := ""
	for i, t := range ts {
		if i > 0 {
			codes += ", "
		}
		codes += t.Code
	}
	return TypeDef{}, fmt.Errorf("%w: %q (want one of %s)", ErrUnknownType, code, codes)
}

// Name is the display name of the type code, or the code itself when it is not in the list.
func (ts Types) Name(code string, lang Lang) string {
	if t, err := ts.Lookup(code); err == nil {
		return t.Names.In(lang)
	}
	return code
}
