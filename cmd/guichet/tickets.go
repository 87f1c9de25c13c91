package main

import (
	"errors"
	"flag"
	"fmt"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"guichet/store"
	"guichet/ticket"
)

func init() {
	byFlag := func(def string) func(fs *flag.FlagSet) {
		return func(fs *flag.FlagSet) { fs.String("by", "", "`address` recorded as the actor (default "+def+")") }
	}
	register(&command{
		name: "ticket create", args: "--from ADDR [--name NAME] --subject S [--type T] [--priority P] [--text TEXT | --text-file F] [--attach FILE]... [--cc ADDR]... [--lang en|fr]",
		summary: "Open a ticket for a requester, with its first message.",
		flags: func(fs *flag.FlagSet) {
			fs.String("from", "", "requester's e-mail `address` (required)")
			fs.String("name", "", "requester's display `name`")
			fs.String("lang", "en", "requester's language, en or fr")
			fs.String("subject", "", "the ticket's `subject` (required)")
			fs.String("type", "", "ticket `type` (default: the configured default type)")
			fs.String("priority", "normal", "low, normal, high or urgent")
			fs.String("text", "", "the first message")
			fs.String("text-file", "", "read the first message from `file` (- for standard input)")
			fs.Var(&stringList{}, "attach", "attach a `file` (repeatable)")
			fs.Var(&stringList{}, "cc", "a participant's `address` (repeatable)")
		},
		run: ticketCreate,
	})
	register(&command{
		name: "ticket list", args: "[--status S] [--type T] [--requester ADDR] [--limit N] [--json]",
		summary: "List tickets, newest first.",
		flags: func(fs *flag.FlagSet) {
			fs.String("status", "", "only tickets in this `status`")
			fs.String("type", "", "only tickets of this `type`")
			fs.String("requester", "", "only tickets of this requester `address`")
			fs.Int("limit", 0, "at most `N` tickets (0: all)")
			fs.Bool("json", false, "print a JSON array")
		},
		run: ticketList,
	})
	register(&command{
		name: "ticket show", args: "N [--json]",
		summary: "Show a ticket with its messages (and their visibility) and its events.",
		flags:   func(fs *flag.FlagSet) { fs.Bool("json", false, "print JSON") },
		run:     ticketShow,
	})
	register(&command{
		name: "ticket assign", args: "N AGENT [--by ADDR]",
		summary: "Assign ticket N to a registered agent (status: assigned).",
		flags:   byFlag("cli"),
		run: func(e *env, fs *flag.FlagSet, args []string) error {
			if len(args) != 2 {
				return usagef("want a ticket number and an agent address")
			}
			return act(e, fs, args[0], ticket.Action{Kind: ticket.ActAssign, Agent: args[1]}, ticket.CLI, nil)
		},
	})
	register(&command{
		name: "ticket status", args: "N STATUS [--reason R] [--by ADDR]",
		summary: "Move ticket N to STATUS: assigned, planned, pending, solved (--reason is the solution) or closed.",
		flags: func(fs *flag.FlagSet) {
			byFlag("cli")(fs)
			fs.String("reason", "", "why, recorded in the event; for solved, the solution's text")
		},
		run: ticketStatus,
	})
	register(&command{
		name: "ticket reply", args: "N --from ADDR --text T [--internal] [--attach FILE]...",
		summary: "Add a message: from the requester or a participant it is their message, from an agent a staff reply\n" +
			"(--internal: a note the requester never sees).",
		flags: func(fs *flag.FlagSet) {
			fs.String("from", "", "author's `address` (required)")
			fs.String("text", "", "the message")
			fs.String("text-file", "", "read the message from `file` (- for standard input)")
			fs.Bool("internal", false, "staff only: never sent to the requester")
			fs.Var(&stringList{}, "attach", "attach a `file` (repeatable)")
		},
		run: ticketReply,
	})
	register(&command{
		name: "ticket solve", args: "N --from AGENT --text T",
		summary: "Propose a solution (status: solved); an unassigned ticket is assigned to the agent.",
		flags: func(fs *flag.FlagSet) {
			fs.String("from", "", "the agent's `address` (required)")
			fs.String("text", "", "the solution (required)")
		},
		run: func(e *env, fs *flag.FlagSet, args []string) error {
			if len(args) != 1 || flagString(fs, "from") == "" {
				return usagef("want a ticket number and --from")
			}
			return act(e, fs, args[0], ticket.Action{Kind: ticket.ActSolve, Text: flagString(fs, "text")},
				ticket.Actor{Address: flagString(fs, "from")}, nil)
		},
	})
	register(&command{
		name: "ticket approve", args: "N [--comment C] [--by ADDR]",
		summary: "Approve the solution of ticket N (status: closed).",
		flags: func(fs *flag.FlagSet) {
			byFlag("the requester")(fs)
			fs.String("comment", "", "an optional comment")
		},
		run: func(e *env, fs *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return usagef("want a ticket number")
			}
			return act(e, fs, args[0], ticket.Action{Kind: ticket.ActApprove, Text: flagString(fs, "comment")},
				ticket.Actor{Role: ticket.RoleRequester}, nil)
		},
	})
	register(&command{
		name: "ticket refuse", args: "N --reason R [--by ADDR]",
		summary: "Refuse the solution of ticket N, saying why (status: back to assigned).",
		flags: func(fs *flag.FlagSet) {
			byFlag("the requester")(fs)
			fs.String("reason", "", "why the solution does not do (required)")
		},
		run: func(e *env, fs *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return usagef("want a ticket number")
			}
			return act(e, fs, args[0], ticket.Action{Kind: ticket.ActRefuse, Reason: flagString(fs, "reason")},
				ticket.Actor{Role: ticket.RoleRequester}, nil)
		},
	})
	for _, c := range []struct {
		name, summary string
		kind          ticket.ActionKind
	}{
		{"reopen", "Reopen a solved or closed ticket (status: assigned, or new when nobody is assigned).", ticket.ActReopen},
		{"close", "Close ticket N.", ticket.ActClose},
	} {
		register(&command{
			name: "ticket " + c.name, args: "N [--reason R] [--by ADDR]", summary: c.summary,
			flags: func(fs *flag.FlagSet) {
				byFlag("cli")(fs)
				fs.String("reason", "", "why, recorded in the event")
			},
			run: func(e *env, fs *flag.FlagSet, args []string) error {
				if len(args) != 1 {
					return usagef("want a ticket number")
				}
				return act(e, fs, args[0], ticket.Action{Kind: c.kind, Reason: flagString(fs, "reason")}, ticket.CLI, nil)
			},
		})
	}
	register(&command{
		name: "ticket set", args: "N [--priority P] [--type T] [--by ADDR]",
		summary: "Change the priority or the type of ticket N.",
		flags: func(fs *flag.FlagSet) {
			byFlag("cli")(fs)
			fs.String("priority", "", "low, normal, high or urgent")
			fs.String("type", "", "a configured ticket `type`")
		},
		run: func(e *env, fs *flag.FlagSet, args []string) error {
			prio, typ := flagString(fs, "priority"), flagString(fs, "type")
			if len(args) != 1 || prio == "" && typ == "" {
				return usagef("want a ticket number and --priority or --type")
			}
			if prio != "" {
				if err := act(e, fs, args[0], ticket.Action{Kind: ticket.ActPriority, Priority: ticket.Priority(prio)}, ticket.CLI, nil); err != nil {
					return err
				}
			}
			if typ != "" {
				return act(e, fs, args[0], ticket.Action{Kind: ticket.ActType, Type: typ}, ticket.CLI, nil)
			}
			return nil
		},
	})
}

// parseNumber reads a ticket number: 42, #42 or [#42].
func parseNumber(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(s, "["), "#"), "]")
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 1 {
		return 0, usagef("ticket number %q is not a positive whole number", s)
	}
	return n, nil
}

// act applies one action to ticket arg and prints what changed. --by, when given, replaces def.
func act(e *env, fs *flag.FlagSet, arg string, a ticket.Action, def ticket.Actor, files []store.File) error {
	n, err := parseNumber(arg)
	if err != nil {
		return err
	}
	by := def
	if addr := flagString(fs, "by"); addr != "" {
		by = ticket.Actor{Address: addr}
	}
	return withStore(e, func(s *store.Store) error {
		if a.Kind == ticket.ActAssign {
			if _, err := s.Agent(e.ctx, a.Agent); errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%s is not an agent: add it with `guichet agent add %s`", a.Agent, a.Agent)
			} else if err != nil {
				return err
			}
		}
		before, err := s.Ticket(e.ctx, n)
		if err != nil {
			return notFound(err, n)
		}
		res, err := s.Apply(e.ctx, store.ApplyInput{Number: n, Action: a, Actor: by, Files: files, Now: e.now()}, e.cfg.Policy())
		if err != nil {
			return notFound(err, n)
		}
		tag := ticket.Tag(e.cfg.TagPrefix, n)
		switch {
		case res.FollowUp != nil:
			fmt.Fprintf(e.stdout, "%s is closed since %s: the message opened ticket %s\n", tag,
				before.Closed.Format("2006-01-02"), ticket.Tag(e.cfg.TagPrefix, res.FollowUp.Number))
		case res.Ticket.Status != before.Status:
			fmt.Fprintf(e.stdout, "%s %s → %s\n", tag, before.Status, res.Ticket.Status)
		default:
			fmt.Fprintf(e.stdout, "%s %s (%s)\n", tag, describeChange(res), res.Ticket.Status)
		}
		return nil
	})
}

func describeChange(res store.Result) string {
	if len(res.Events) > 0 {
		ev := res.Events[len(res.Events)-1]
		return fmt.Sprintf("%s: %s → %s", ev.Kind, orNone(ev.From), ev.To)
	}
	if res.Message != nil {
		return string(res.Message.Visibility) + " message added"
	}
	return "unchanged"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func notFound(err error, n int64) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("ticket %d does not exist", n)
	}
	return err
}

func ticketCreate(e *env, fs *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	from, subject := flagString(fs, "from"), flagString(fs, "subject")
	if from == "" || strings.TrimSpace(subject) == "" {
		return usagef("--from and --subject are required")
	}
	text, err := readText(e, fs)
	if err != nil {
		return err
	}
	files, err := readFiles(fs)
	if err != nil {
		return err
	}
	var cc []ticket.Person
	for _, a := range *fs.Lookup("cc").Value.(*stringList) {
		cc = append(cc, ticket.Person{Address: a})
	}
	lang := flagString(fs, "lang")
	if lang != "en" && lang != "fr" {
		return usagef("--lang %q: want en or fr", lang)
	}
	in := store.CreateInput{
		Ticket: ticket.NewTicket{Subject: subject, Requester: ticket.Person{Address: from, Name: flagString(fs, "name"), Lang: ticket.Lang(lang)},
			Participants: cc, Type: flagString(fs, "type"), Priority: ticket.Priority(flagString(fs, "priority")), Channel: ticket.ChannelCLI},
		By: ticket.CLI, Text: text, Files: files, Now: e.now(),
	}
	return withStore(e, func(s *store.Store) error {
		t, err := s.CreateTicket(e.ctx, in, e.cfg.Policy())
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s created: %s\n", ticket.Tag(e.cfg.TagPrefix, t.Number), t.Subject)
		return nil
	})
}

func ticketReply(e *env, fs *flag.FlagSet, args []string) error {
	if len(args) != 1 || flagString(fs, "from") == "" {
		return usagef("want a ticket number and --from")
	}
	text, err := readText(e, fs)
	if err != nil {
		return err
	}
	files, err := readFiles(fs)
	if err != nil {
		return err
	}
	vis := ticket.Public
	if flagBool(fs, "internal") {
		vis = ticket.Internal
	}
	return act(e, fs, args[0], ticket.Action{Kind: ticket.ActMessage, Text: text, Visibility: vis},
		ticket.Actor{Address: flagString(fs, "from")}, files)
}

func ticketStatus(e *env, fs *flag.FlagSet, args []string) error {
	if len(args) != 2 {
		return usagef("want a ticket number and a status")
	}
	n, err := parseNumber(args[0])
	if err != nil {
		return err
	}
	to, err := ticket.ParseStatus(args[1])
	if err != nil {
		return err
	}
	reason := flagString(fs, "reason")
	var a ticket.Action
	switch to {
	case ticket.StatusNew:
		return fmt.Errorf("%w: a ticket cannot be put back to new; use assigned, planned or pending", ticket.ErrInvalidTransition)
	case ticket.StatusPlanned:
		a = ticket.Action{Kind: ticket.ActPlan, Reason: reason}
	case ticket.StatusPending:
		a = ticket.Action{Kind: ticket.ActPending, Reason: reason}
	case ticket.StatusSolved:
		if strings.TrimSpace(reason) == "" {
			return fmt.Errorf("%w: a solution needs its text: give it with --reason, or use `guichet ticket solve`", ticket.ErrEmptyText)
		}
		a = ticket.Action{Kind: ticket.ActSolve, Text: reason}
	case ticket.StatusClosed:
		a = ticket.Action{Kind: ticket.ActClose, Reason: reason}
	case ticket.StatusAssigned:
		// Back to work: a solved or closed ticket is reopened; an open one is assigned to its agent.
		var t ticket.Ticket
		if err := withStore(e, func(s *store.Store) (err error) { t, err = s.Ticket(e.ctx, n); return err }); err != nil {
			return notFound(err, n)
		}
		switch {
		case !t.Status.Open():
			a = ticket.Action{Kind: ticket.ActReopen, Reason: reason}
		case t.Assignee != "":
			a = ticket.Action{Kind: ticket.ActAssign, Agent: t.Assignee, Reason: reason}
		default:
			return fmt.Errorf("%w: ticket %d has nobody assigned: use `guichet ticket assign %d AGENT`", ticket.ErrAssigneeRequired, n, n)
		}
	}
	return act(e, fs, args[0], a, ticket.CLI, nil)
}

// readText takes --text, or --text-file (- for standard input).
func readText(e *env, fs *flag.FlagSet) (string, error) {
	text, file := flagString(fs, "text"), flagString(fs, "text-file")
	if file == "" {
		return text, nil
	}
	if text != "" {
		return "", usagef("give --text or --text-file, not both")
	}
	var data []byte
	var err error
	if file == "-" {
		data, err = readAll(e.stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return "", fmt.Errorf("--text-file: %w", err)
	}
	return string(data), nil
}

// readFiles reads every --attach file; the content type comes from the extension, else the content.
func readFiles(fs *flag.FlagSet) ([]store.File, error) {
	var files []store.File
	for _, path := range *fs.Lookup("attach").Value.(*stringList) {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--attach: %w", err)
		}
		ct := mime.TypeByExtension(filepath.Ext(path))
		if ct == "" {
			ct = http.DetectContentType(data)
		}
		files = append(files, store.File{Filename: filepath.Base(path), ContentType: ct, Data: data})
	}
	return files, nil
}
