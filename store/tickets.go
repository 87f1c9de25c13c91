package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"guichet/ticket"
)

// isDomain reports whether err is a refusal of the lifecycle, passed to the caller as it is.
func isDomain(err error) bool {
	for _, e := range []error{
		ticket.ErrInvalidTransition, ticket.ErrReasonRequired, ticket.ErrNotAllowed, ticket.ErrReopenExpired,
		ticket.ErrNotDue, ticket.ErrAssigneeRequired, ticket.ErrEmptyText, ticket.ErrUnknownStatus,
		ticket.ErrUnknownPriority, ticket.ErrUnknownType, ticket.ErrInvalid,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

const ticketColumns = `id, number, subject, requester_address, requester_name, requester_lang, type, priority,
	status, assignee, grp, support_address, channel, linked_to, created, updated, status_since,
	first_response, solved, closed`

type ticketRow struct {
	ID               int64         `db:"id"`
	Number           int64         `db:"number"`
	Subject          string        `db:"subject"`
	RequesterAddress string        `db:"requester_address"`
	RequesterName    string        `db:"requester_name"`
	RequesterLang    string        `db:"requester_lang"`
	Type             string        `db:"type"`
	Priority         string        `db:"priority"`
	Status           string        `db:"status"`
	Assignee         string        `db:"assignee"`
	Group            string        `db:"grp"`
	SupportAddress   string        `db:"support_address"`
	Channel          string        `db:"channel"`
	LinkedTo         sql.NullInt64 `db:"linked_to"`
	Created          dbTime        `db:"created"`
	Updated          dbTime        `db:"updated"`
	StatusSince      dbTime        `db:"status_since"`
	FirstResponse    dbTime        `db:"first_response"`
	Solved           dbTime        `db:"solved"`
	Closed           dbTime        `db:"closed"`
}

func (r ticketRow) ticket() ticket.Ticket {
	return ticket.Ticket{
		ID: r.ID, Number: r.Number, Subject: r.Subject,
		Requester: ticket.Person{Address: r.RequesterAddress, Name: r.RequesterName, Lang: ticket.Lang(r.RequesterLang)},
		Type:      r.Type, Priority: ticket.Priority(r.Priority), Status: ticket.Status(r.Status),
		Assignee: r.Assignee, Group: r.Group, SupportAddress: r.SupportAddress,
		Channel: ticket.Channel(r.Channel), LinkedTo: r.LinkedTo.Int64,
		Created: r.Created.Time, Updated: r.Updated.Time, StatusSince: r.StatusSince.Time,
		FirstResponse: r.FirstResponse.Time, Solved: r.Solved.Time, Closed: r.Closed.Time,
	}
}

// querier is what reads need: the database or a transaction.
type querier interface {
	sqlx.QueryerContext
	sqlx.ExecerContext
	Rebind(string) string
}

// File is an attachment with its content.
type File = ticket.File

// CreateInput is a new ticket with its first message.
type CreateInput struct {
	Ticket    ticket.NewTicket
	By        ticket.Actor // who opens the ticket; recorded in the creation event
	Author    ticket.Actor // author of the first message; the requester when empty
	Text      string
	HTML      string
	MessageID string
	Files     []File
	Now       time.Time
}

// CreateTicket allocates the next number and stores the ticket, its first message and its
// creation event in one transaction. A message whose Message-ID is already stored gets
// ErrDuplicateMessage, and nothing is written.
func (s *Store) CreateTicket(ctx context.Context, in CreateInput, p ticket.Policy) (ticket.Ticket, error) {
	t, ev, err := ticket.Open(in.Ticket, p, in.By, in.Now)
	if err != nil {
		return ticket.Ticket{}, err
	}
	author := in.Author
	if author.Role == "" {
		author = ticket.Actor{Role: ticket.RoleRequester, Address: t.Requester.Address, Name: t.Requester.Name}
	}
	msg := &ticket.Message{Time: t.Created, Author: author, Visibility: ticket.Public,
		Text: strings.TrimSpace(in.Text), HTML: in.HTML, MessageID: in.MessageID, Attachments: describe(in.Files)}
	if msg.Text == "" && len(msg.Attachments) == 0 {
		msg = nil
	}
	err = s.tx(ctx, "create ticket", func(tx *sqlx.Tx) error {
		if msg != nil {
			if err := s.checkNewMessageID(ctx, tx, msg.MessageID); err != nil {
				return err
			}
		}
		var err error
		t, err = s.insertTicket(ctx, tx, t, ev)
		if err != nil {
			return err
		}
		if msg != nil {
			msg.TicketID = t.ID
			if _, err = s.insertMessage(ctx, tx, msg, in.Files); err != nil {
				return err
			}
		}
		return s.notify(ctx, tx, Notice{Ticket: t, Events: []ticket.Event{ev}, Message: msg, Actor: in.By}, in.Now)
	})
	return t, err
}

// nextNumber takes the next ticket number inside tx. The counter row is locked until commit,
// so concurrent writers get distinct numbers, and a rolled-back transaction gives its number back:
// numbers have no gaps and are never reused.
func (s *Store) nextNumber(ctx context.Context, tx *sqlx.Tx) (int64, error) {
	var n int64
	err := tx.GetContext(ctx, &n, tx.Rebind(`UPDATE counters
		SET next = (CASE WHEN next < ? THEN ? ELSE next END) + 1
		WHERE name = 'ticket'
		RETURNING next - 1`), s.start, s.start)
	if err != nil {
		return 0, fmt.Errorf("allocate ticket number: %w", err)
	}
	return n, nil
}

func (s *Store) insertTicket(ctx context.Context, tx *sqlx.Tx, t ticket.Ticket, created ticket.Event) (ticket.Ticket, error) {
	n, err := s.nextNumber(ctx, tx)
	if err != nil {
		return t, err
	}
	t.Number = n
	var linked any
	if t.LinkedTo != 0 {
		linked = t.LinkedTo
	}
	err = tx.GetContext(ctx, &t.ID, tx.Rebind(`INSERT INTO tickets (number, subject, requester_address,
		requester_name, requester_lang, type, priority, status, assignee, grp, support_address, channel,
		linked_to, created, updated, status_since, first_response, solved, closed)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		t.Number, t.Subject, t.Requester.Address, t.Requester.Name, string(t.Requester.Lang), t.Type,
		string(t.Priority), string(t.Status), t.Assignee, t.Group, t.SupportAddress, string(t.Channel), linked,
		s.tv(t.Created), s.tv(t.Updated), s.tv(t.StatusSince), s.tv(t.FirstResponse), s.tv(t.Solved), s.tv(t.Closed))
	if err != nil {
		return t, fmt.Errorf("insert ticket: %w", err)
	}
	if err := s.saveParticipants(ctx, tx, t); err != nil {
		return t, err
	}
	if err := s.setTimers(ctx, tx, t); err != nil {
		return t, err
	}
	return t, s.insertEvents(ctx, tx, t.ID, []ticket.Event{created})
}

func (s *Store) saveParticipants(ctx context.Context, tx *sqlx.Tx, t ticket.Ticket) error {
	if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM participants WHERE ticket_id = ?`), t.ID); err != nil {
		return fmt.Errorf("participants: %w", err)
	}
	for _, p := range t.Participants {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO participants (ticket_id, address, name, lang) VALUES (?, ?, ?, ?)`),
			t.ID, p.Address, p.Name, string(p.Lang)); err != nil {
			return fmt.Errorf("participants: %w", err)
		}
	}
	return nil
}

func (s *Store) updateTicket(ctx context.Context, tx *sqlx.Tx, before, t ticket.Ticket) error {
	_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE tickets SET subject = ?, type = ?, priority = ?, status = ?,
		assignee = ?, grp = ?, updated = ?, status_since = ?, first_response = ?, solved = ?, closed = ?
		WHERE id = ?`),
		t.Subject, t.Type, string(t.Priority), string(t.Status), t.Assignee, t.Group,
		s.tv(t.Updated), s.tv(t.StatusSince), s.tv(t.FirstResponse), s.tv(t.Solved), s.tv(t.Closed), t.ID)
	if err != nil {
		return fmt.Errorf("update ticket %d: %w", t.Number, err)
	}
	if timersMoved(before, t) {
		return s.setTimers(ctx, tx, t)
	}
	return nil
}

// Ticket returns the ticket with the given public number.
func (s *Store) Ticket(ctx context.Context, number int64) (ticket.Ticket, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	t, err := s.loadTicket(ctx, s.db, number, "")
	if err != nil && !errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("store: ticket %d: %w", number, s.classify(err))
	}
	return t, err
}

func (s *Store) loadTicket(ctx context.Context, q querier, number int64, lock string) (ticket.Ticket, error) {
	var r ticketRow
	err := sqlx.GetContext(ctx, q, &r, q.Rebind(`SELECT `+ticketColumns+` FROM tickets WHERE number = ?`+lock), number)
	if errors.Is(err, sql.ErrNoRows) {
		return ticket.Ticket{}, fmt.Errorf("store: ticket %d: %w", number, ErrNotFound)
	}
	if err != nil {
		return ticket.Ticket{}, err
	}
	t := r.ticket()
	return t, s.loadParticipants(ctx, q, &t)
}

// loadParticipants fills in the participants of tickets, in one query.
func (s *Store) loadParticipants(ctx context.Context, q querier, ts ...*ticket.Ticket) error {
	if len(ts) == 0 {
		return nil
	}
	byID := map[int64]*ticket.Ticket{}
	ids := make([]int64, len(ts))
	for i, t := range ts {
		byID[t.ID], ids[i] = t, t.ID
	}
	query, args, err := sqlx.In(`SELECT ticket_id, address, name, lang FROM participants WHERE ticket_id IN (?) ORDER BY ticket_id, address`, ids)
	if err != nil {
		return err
	}
	var parts []struct {
		TicketID int64  `db:"ticket_id"`
		Address  string `db:"address"`
		Name     string `db:"name"`
		Lang     string `db:"lang"`
	}
	if err := sqlx.SelectContext(ctx, q, &parts, q.Rebind(query), args...); err != nil {
		return err
	}
	for _, p := range parts {
		t := byID[p.TicketID]
		t.Participants = append(t.Participants, ticket.Person{Address: p.Address, Name: p.Name, Lang: ticket.Lang(p.Lang)})
	}
	return nil
}

// Filter selects tickets; zero fields match everything.
type Filter struct {
	Status    ticket.Status
	Type      string
	Requester string
	Limit     int // 0: no limit
}

// Tickets returns the matching tickets, newest number first, without participants.
func (s *Store) Tickets(ctx context.Context, f Filter) ([]ticket.Ticket, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var where []string
	var args []any
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	}
	if f.Type != "" {
		where, args = append(where, "type = ?"), append(args, f.Type)
	}
	if f.Requester != "" {
		where, args = append(where, "requester_address = ?"), append(args, ticket.NormalizeAddress(f.Requester))
	}
	q := `SELECT ` + ticketColumns + ` FROM tickets`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY number DESC`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	var rows []ticketRow
	if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("store: list tickets: %w", s.classify(err))
	}
	ts := make([]ticket.Ticket, len(rows))
	for i, r := range rows {
		ts[i] = r.ticket()
	}
	return ts, nil
}

// ApplyInput is one action on one ticket.
type ApplyInput struct {
	Number int64
	Action ticket.Action
	// Actor does the action. When its Role is empty the store works it out from its Address:
	// the ticket's requester, a registered agent, a participant, else a stranger. A requester
	// without an address is the ticket's own requester.
	Actor ticket.Actor
	Files []File // attachment contents; their descriptions go on the message
	Now   time.Time
	// Solution, when set, is the solution the action answers: the action fails with ErrStale
	// unless the ticket is solved with exactly that solution waiting.
	Solution int64
	// Token, when set, is a single-use link: the action fails with ErrUsed if it was used before.
	Token string
}

// Result is what an action did.
type Result struct {
	ticket.Change
	// FollowUp is the new ticket a late message opened, when Change.FollowUp is set.
	FollowUp *ticket.Ticket
}

// Apply runs the lifecycle on one ticket inside one transaction: it locks the ticket, applies
// the action, and stores the ticket, its events and the message together, or nothing. A message
// after the reopen window is stored on a new ticket linked to the closed one, in the same transaction.
func (s *Store) Apply(ctx context.Context, in ApplyInput, p ticket.Policy) (Result, error) {
	in.Action.Attachments = append(in.Action.Attachments, describe(in.Files)...)
	var res Result
	err := s.tx(ctx, fmt.Sprintf("ticket %d: %s", in.Number, in.Action.Kind), func(tx *sqlx.Tx) error {
		if err := s.checkNewMessageID(ctx, tx, in.Action.MessageID); err != nil {
			return err
		}
		t, err := s.loadTicket(ctx, tx, in.Number, s.forUpdate())
		if err != nil {
			return err
		}
		by, err := s.resolveActor(ctx, tx, t, in.Actor)
		if err != nil {
			return err
		}
		if in.Solution != 0 {
			id, err := s.solutionID(ctx, tx, t)
			if err != nil {
				return err
			}
			if id != in.Solution {
				return fmt.Errorf("store: ticket %d: %w", t.Number, ErrStale)
			}
		}
		if in.Token != "" {
			if err := s.useToken(ctx, tx, in.Token, in.Now); err != nil {
				return err
			}
		}
		res, err = s.applyLocked(ctx, tx, t, in.Action, by, in.Files, in.Now, p)
		return err
	})
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

// applyLocked applies one action to t, locked by tx, and stores the ticket, its events and
// its message (or the follow-up ticket a late message opens).
func (s *Store) applyLocked(ctx context.Context, tx *sqlx.Tx, t ticket.Ticket, a ticket.Action, by ticket.Actor, files []File, now time.Time, p ticket.Policy) (Result, error) {
	var res Result
	c, err := ticket.Apply(t, a, by, now, p)
	if err != nil {
		return res, err
	}
	res.Change = c
	if c.FollowUp {
		err := s.followUp(ctx, tx, &res, t, by, now, files, p)
		return res, err
	}
	if err := s.updateTicket(ctx, tx, t, c.Ticket); err != nil {
		return res, err
	}
	if err := s.insertEvents(ctx, tx, t.ID, c.Events); err != nil {
		return res, err
	}
	if c.Message != nil {
		if _, err = s.insertMessage(ctx, tx, c.Message, files); err != nil {
			return res, err
		}
	}
	return res, s.notify(ctx, tx, Notice{Ticket: c.Ticket, Events: c.Events, Message: c.Message, Actor: by}, now)
}

// followUp opens the ticket that a message on a long-closed ticket starts, linked to it.
func (s *Store) followUp(ctx context.Context, tx *sqlx.Tx, res *Result, closed ticket.Ticket, by ticket.Actor, now time.Time, files []File, p ticket.Policy) error {
	req := closed.Requester
	if by.Role == ticket.RoleParticipant {
		req = ticket.Person{Address: by.Address, Name: by.Name, Lang: closed.Requester.Lang}
	}
	nt := ticket.NewTicket{Subject: closed.Subject, Requester: req, Type: closed.Type, Priority: closed.Priority,
		Group: closed.Group, SupportAddress: closed.SupportAddress, Channel: closed.Channel, LinkedTo: closed.Number}
	t, ev, err := ticket.Open(nt, p, by, now)
	if err != nil {
		return err
	}
	t, err = s.insertTicket(ctx, tx, t, ev)
	if err != nil {
		return err
	}
	link := ticket.Event{Time: now.UTC(), Actor: by.ID(), Kind: ticket.EventFollowedUp, To: fmt.Sprint(t.Number),
		Reason: "message after the reopen window"}
	if err := s.insertEvents(ctx, tx, closed.ID, []ticket.Event{link}); err != nil {
		return err
	}
	msg := *res.Message
	msg.TicketID = t.ID
	msg.Author.Role = ticket.RoleRequester
	if _, err := s.insertMessage(ctx, tx, &msg, files); err != nil {
		return err
	}
	if err := s.notify(ctx, tx, Notice{Ticket: t, Events: []ticket.Event{ev}, Message: &msg, Actor: by}, now); err != nil {
		return err
	}
	res.Message = &msg
	res.Events = append(res.Events, link)
	res.FollowUp = &t
	return nil
}

// resolveActor fills in the actor's role from its address, as seen from ticket t.
func (s *Store) resolveActor(ctx context.Context, q querier, t ticket.Ticket, a ticket.Actor) (ticket.Actor, error) {
	a.Address = ticket.NormalizeAddress(a.Address)
	if a.Role == ticket.RoleRequester && a.Address == "" {
		a.Address = t.Requester.Address
		if a.Name == "" {
			a.Name = t.Requester.Name
		}
	}
	if a.Role != "" {
		return a, nil
	}
	agent, err := s.agent(ctx, q, a.Address)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return a, err
	}
	a.Role = t.RoleOf(a.Address, err == nil)
	if a.Name == "" {
		switch a.Role {
		case ticket.RoleAgent:
			a.Name = agent.Name
		case ticket.RoleRequester:
			a.Name = t.Requester.Name
		}
	}
	return a, nil
}

func sqlxGet(ctx context.Context, q querier, dest any, query string, args ...any) error {
	return sqlx.GetContext(ctx, q, dest, q.Rebind(query), args...)
}

// SetRequesterLang stores the language a requester reads, learnt from their browser.
func (s *Store) SetRequesterLang(ctx context.Context, number int64, lang ticket.Lang) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE tickets SET requester_lang = ? WHERE number = ?`), string(lang), number); err != nil {
		return fmt.Errorf("store: ticket %d: language: %w", number, s.classify(err))
	}
	return nil
}
