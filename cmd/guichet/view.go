package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"guichet/config"
	"guichet/store"
	"guichet/ticket"
)

// The JSON shapes of `ticket show --json` and `ticket list --json`. They are documented in
// README and stable: fields are added, never renamed or removed. Times are RFC 3339 UTC;
// a time that has not happened, and an assignee who is not there, are null.

type jsonPerson struct {
	Address string `json:"address"`
	Name    string `json:"name"`
}

type jsonTicket struct {
	Number         int64         `json:"number"`
	Subject        string        `json:"subject"`
	Status         string        `json:"status"`
	Type           string        `json:"type"`
	Priority       string        `json:"priority"`
	Requester      jsonPerson    `json:"requester"`
	Participants   []jsonPerson  `json:"participants"`
	Assignee       *string       `json:"assignee"`
	Group          string        `json:"group"`
	SupportAddress string        `json:"support_address"`
	Channel        string        `json:"channel"`
	LinkedTo       *int64        `json:"linked_to"`
	Created        *string       `json:"created"`
	Updated        *string       `json:"updated"`
	FirstResponse  *string       `json:"first_response"`
	Solved         *string       `json:"solved"`
	Closed         *string       `json:"closed"`
	Messages       []jsonMessage `json:"messages,omitempty"`
	Events         []jsonEvent   `json:"events,omitempty"`
	Timers         []jsonTimer   `json:"timers,omitempty"`
}

// jsonTimer is a timed rule waiting to fire on the ticket.
type jsonTimer struct {
	Kind string  `json:"kind"`
	Due  *string `json:"due"`
}

type jsonAuthor struct {
	Address string `json:"address"`
	Name    string `json:"name"`
	Role    string `json:"role"`
}

type jsonAttachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

type jsonMessage struct {
	ID          int64            `json:"id"`
	Time        *string          `json:"time"`
	Author      jsonAuthor       `json:"author"`
	Visibility  string           `json:"visibility"`
	Text        string           `json:"text"`
	MessageID   *string          `json:"message_id"`
	Attachments []jsonAttachment `json:"attachments"`
}

type jsonEvent struct {
	Time   *string `json:"time"`
	Actor  string  `json:"actor"`
	Kind   string  `json:"kind"`
	From   string  `json:"from"`
	To     string  `json:"to"`
	Reason string  `json:"reason"`
}

func jsonTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toJSON(t ticket.Ticket) jsonTicket {
	j := jsonTicket{Number: t.Number, Subject: t.Subject, Status: string(t.Status), Type: t.Type, Priority: string(t.Priority),
		Requester:    jsonPerson{t.Requester.Address, t.Requester.Name},
		Participants: []jsonPerson{}, Assignee: nullable(t.Assignee), Group: t.Group, SupportAddress: t.SupportAddress,
		Channel: string(t.Channel), Created: jsonTime(t.Created), Updated: jsonTime(t.Updated),
		FirstResponse: jsonTime(t.FirstResponse), Solved: jsonTime(t.Solved), Closed: jsonTime(t.Closed)}
	for _, p := range t.Participants {
		j.Participants = append(j.Participants, jsonPerson{p.Address, p.Name})
	}
	if t.LinkedTo != 0 {
		j.LinkedTo = &t.LinkedTo
	}
	return j
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func ticketList(e *env, fs *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	f := store.Filter{Type: flagString(fs, "type"), Requester: flagString(fs, "requester")}
	if s := flagString(fs, "status"); s != "" {
		st, err := ticket.ParseStatus(s)
		if err != nil {
			return err
		}
		f.Status = st
	}
	if f.Type != "" {
		if _, err := e.cfg.Policy().Types.Lookup(f.Type); err != nil {
			return err
		}
	}
	f.Limit = flagInt(fs, "limit")
	if f.Limit < 0 {
		return usagef("--limit must be 0 or more")
	}
	return withStore(e, func(s *store.Store) error {
		ts, err := s.Tickets(e.ctx, f)
		if err != nil {
			return err
		}
		if flagBool(fs, "json") {
			out := make([]jsonTicket, 0, len(ts))
			for _, t := range ts {
				out = append(out, toJSON(t))
			}
			return writeJSON(e.stdout, out)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NUMBER\tSTATUS\tTYPE\tPRIORITY\tREQUESTER\tASSIGNEE\tUPDATED\tSUBJECT")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ticket.Tag(e.cfg.TagPrefix, t.Number), t.Status, t.Type, t.Priority,
				t.Requester.Address, orDash(t.Assignee), t.Updated.Format("2006-01-02 15:04"), oneLine(t.Subject, 60))
		}
		return tw.Flush()
	})
}

func ticketShow(e *env, fs *flag.FlagSet, args []string) error {
	if len(args) != 1 {
		return usagef("want a ticket number")
	}
	n, err := parseNumber(args[0])
	if err != nil {
		return err
	}
	return withStore(e, func(s *store.Store) error {
		t, err := s.Ticket(e.ctx, n)
		if err != nil {
			return notFound(err, n)
		}
		ms, err := s.Messages(e.ctx, t.ID)
		if err != nil {
			return err
		}
		evs, err := s.Events(e.ctx, t.ID)
		if err != nil {
			return err
		}
		timers, err := s.Timers(e.ctx, t.ID)
		if err != nil {
			return err
		}
		if flagBool(fs, "json") {
			j := toJSON(t)
			j.Messages, j.Events, j.Timers = []jsonMessage{}, []jsonEvent{}, []jsonTimer{}
			for _, tm := range timers {
				j.Timers = append(j.Timers, jsonTimer{string(tm.Kind), jsonTime(tm.Due)})
			}
			for _, m := range ms {
				jm := jsonMessage{ID: m.ID, Time: jsonTime(m.Time), Author: jsonAuthor{m.Author.Address, m.Author.Name, string(m.Author.Role)},
					Visibility: string(m.Visibility), Text: m.Text, MessageID: nullable(m.MessageID), Attachments: []jsonAttachment{}}
				for _, a := range m.Attachments {
					jm.Attachments = append(jm.Attachments, jsonAttachment{a.Filename, a.ContentType, a.Size, a.SHA256})
				}
				j.Messages = append(j.Messages, jm)
			}
			for _, ev := range evs {
				j.Events = append(j.Events, jsonEvent{jsonTime(ev.Time), ev.Actor, string(ev.Kind), ev.From, ev.To, ev.Reason})
			}
			return writeJSON(e.stdout, j)
		}
		printTicket(e.stdout, t, ms, evs, e.cfg.TagPrefix, e.cfg.Policy().Types)
		printTimers(e.stdout, timers, e.now())
		return nil
	})
}

func printTicket(w io.Writer, t ticket.Ticket, ms []ticket.Message, evs []ticket.Event, prefix string, types ticket.Types) {
	fmt.Fprintf(w, "%s %s\n", ticket.Tag(prefix, t.Number), t.Subject)
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	fmt.Fprintf(tw, "status:\t%s (%s)\n", t.Status.Name(ticket.English), t.Status)
	fmt.Fprintf(tw, "type:\t%s\tpriority: %s\n", types.Name(t.Type, ticket.English), t.Priority.Name(ticket.English))
	fmt.Fprintf(tw, "requester:\t%s\n", person(t.Requester))
	for _, p := range t.Participants {
		fmt.Fprintf(tw, "cc:\t%s\n", person(p))
	}
	fmt.Fprintf(tw, "assignee:\t%s\n", orDash(t.Assignee))
	fmt.Fprintf(tw, "channel:\t%s\n", t.Channel)
	if t.LinkedTo != 0 {
		fmt.Fprintf(tw, "follows:\t%s\n", ticket.Tag(prefix, t.LinkedTo))
	}
	fmt.Fprintf(tw, "created:\t%s\n", stamp(t.Created))
	fmt.Fprintf(tw, "updated:\t%s\n", stamp(t.Updated))
	tw.Flush()
	fmt.Fprintf(w, "\nmessages (%d):\n", len(ms))
	for _, m := range ms {
		who := m.Author.Address
		if who == "" {
			who = m.Author.Name
		}
		fmt.Fprintf(w, "  #%d %s %s %s [%s]\n", m.ID, stamp(m.Time), m.Author.Role, who, m.Visibility)
		for _, line := range strings.Split(m.Text, "\n") {
			fmt.Fprintf(w, "      %s\n", line)
		}
		for _, a := range m.Attachments {
			fmt.Fprintf(w, "      attachment: %s (%s, %d bytes)\n", a.Filename, a.ContentType, a.Size)
		}
	}
	fmt.Fprintf(w, "\nevents (%d):\n", len(evs))
	for _, ev := range evs {
		line := fmt.Sprintf("  %s %s %s", stamp(ev.Time), ev.Actor, ev.Kind)
		if ev.From != "" || ev.To != "" {
			line += fmt.Sprintf(" %s → %s", orNone(ev.From), ev.To)
		}
		if ev.Reason != "" {
			line += ": " + oneLine(ev.Reason, 80)
		}
		fmt.Fprintln(w, line)
	}
}

func person(p ticket.Person) string {
	if p.Name == "" {
		return p.Address
	}
	return fmt.Sprintf("%s <%s>", p.Name, p.Address)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}

func readAll(r io.Reader) ([]byte, error) { return io.ReadAll(io.LimitReader(r, 32<<20)) }

// timerWhat says what each timed rule does when it fires.
var timerWhat = map[ticket.TimerKind]string{
	ticket.TimerAutoClose: "closes the ticket automatically",
	ticket.TimerRemind:    "reminds the requester of the question",
	ticket.TimerEscalate:  "tells the agents it is still unassigned",
}

func printTimers(w io.Writer, timers []ticket.Timer, now time.Time) {
	if len(timers) == 0 {
		fmt.Fprintf(w, "\ntimers: none\n")
		return
	}
	fmt.Fprintf(w, "\ntimers (%d):\n", len(timers))
	for _, tm := range timers {
		in := tm.Due.Sub(now).Round(time.Second)
		when := "in " + config.Duration(in).String()
		if in <= 0 {
			when = "due now"
		}
		fmt.Fprintf(w, "  %s %s (%s): %s\n", stamp(tm.Due), tm.Kind, when, timerWhat[tm.Kind])
	}
}
