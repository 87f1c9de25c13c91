package store

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"guichet/ticket"
)

// The handoff: the group commit of new tickets (PostgreSQL) writes their acknowledgements
// already claimed by this process's sender, and gives them to it in memory with the ticket and
// the message they carry, as committed. The sender then neither claims them nor reads them back
// — under load a claim and three reads for every few dozen notifications, with the claim
// rewriting each row. If the process dies first, the rows are what a claim by a sender that died
// leaves: another sender takes them when the lease ends.

// Handed is a notification written claimed for the sender, with what the sender would read for
// it: its row, its ticket and the ticket's messages, as a claim and TicketsWithMessages return
// them.
type Handed struct {
	Row      OutboxRow
	Ticket   ticket.Ticket
	Messages []ticket.Message
	Until    time.Time // the claim ends
}

// maxHanded is how many notifications wait in memory at most; beyond, the commits write them
// unclaimed, for the sender to claim.
const maxHanded = 4096

type handoff struct {
	mu     sync.Mutex
	worker string // "": off
	lease  time.Duration
	queue  []Handed
}

// HandOff makes the bulk deliveries hand their notifications to worker, claimed for lease:
// the sender of that name, in this process, takes them with Handed. PostgreSQL only.
func (s *Store) HandOff(worker string, lease time.Duration) {
	if s.dialect != Postgres {
		return
	}
	s.hand.mu.Lock()
	s.hand.worker, s.hand.lease = worker, lease
	s.hand.mu.Unlock()
}

// Handed takes up to max of the notifications handed to worker, oldest first.
func (s *Store) Handed(worker string, max int) []Handed {
	s.hand.mu.Lock()
	defer s.hand.mu.Unlock()
	if worker == "" || worker != s.hand.worker || len(s.hand.queue) == 0 {
		return nil
	}
	n := min(max, len(s.hand.queue))
	out := make([]Handed, n)
	copy(out, s.hand.queue)
	s.hand.queue = append(s.hand.queue[:0], s.hand.queue[n:]...)
	return out
}

// StopHandOff ends the handoff to worker and gives back the claims of what it did not take, so
// that the next sender — this process's or another's — sends them at once instead of when the
// lease ends.
func (s *Store) StopHandOff(ctx context.Context, worker string) error {
	s.hand.mu.Lock()
	if worker == "" || worker != s.hand.worker {
		s.hand.mu.Unlock()
		return nil
	}
	left := s.hand.queue
	s.hand.worker, s.hand.queue = "", nil
	s.hand.mu.Unlock()
	if len(left) == 0 {
		return nil
	}
	ids := make([]int64, len(left))
	for i, h := range left {
		ids[i] = h.Row.ID
	}
	q, args, err := sqlx.In(`UPDATE outbox SET claimed_until = NULL, claimed_by = '' WHERE id IN (?) AND claimed_by = ? AND state = 'pending'`, ids, worker)
	if err == nil {
		_, err = s.db.ExecContext(ctx, s.db.Rebind(q), args...)
	}
	if err != nil {
		return fmt.Errorf("store: give back %d handed notifications: %w", len(ids), s.classify(err))
	}
	return nil
}

// handing returns the worker and the claim's end for the notifications of a delivery being
// written now, or "" when they go unclaimed: no handoff, or too many waiting.
func (s *Store) handing(now time.Time) (string, time.Time) {
	s.hand.mu.Lock()
	defer s.hand.mu.Unlock()
	if s.hand.worker == "" || len(s.hand.queue) >= maxHanded {
		return "", time.Time{}
	}
	return s.hand.worker, now.Add(s.hand.lease)
}

// handedOf returns the notifications of a delivery, as the sender will take them once the
// delivery commits and their ids are known: t is the new ticket and m its first message, if
// any, as written.
func (s *Store) handedOf(t ticket.Ticket, m *ticket.Message, ns []Notification, now, until time.Time) []Handed {
	t.Participants = nil // as TicketsWithMessages reads it
	t.Created, t.Updated, t.StatusSince = dbT(t.Created), dbT(t.Updated), dbT(t.StatusSince)
	var msgs []ticket.Message
	if m != nil {
		mm := *m
		mm.Time = dbT(mm.Time)
		msgs = []ticket.Message{mm}
	}
	now = dbT(now)
	out := make([]Handed, len(ns))
	for i, n := range ns {
		data := maps.Clone(n.Data)
		if data == nil {
			data = map[string]string{} // as the row's "{}" reads back
		}
		lang := n.To.Lang
		if lang == "" {
			lang = ticket.English
		}
		out[i] = Handed{Ticket: t, Messages: msgs, Until: dbT(until), Row: OutboxRow{Created: now, TicketID: t.ID, Number: t.Number,
			Kind: n.Kind, Recipient: ticket.NormalizeAddress(n.To.Address), RecipientName: n.To.Name, Role: n.Role, Lang: lang,
			Message: n.Message, Data: data, MessageID: n.MessageID, Staff: n.Staff, State: OutboxPending,
			RetryFrom: now, NextAttempt: now}}
	}
	return out
}

// queueHanded queues the notifications of a committed delivery for worker, their ids read back
// by Message-ID. If the handoff to worker stopped meanwhile, or a row has no id (none should),
// they stay claimed until the lease ends, as when a sender dies.
func (s *Store) queueHanded(worker string, hs []Handed, ids map[string]int64) {
	s.hand.mu.Lock()
	defer s.hand.mu.Unlock()
	if worker != s.hand.worker {
		return
	}
	for _, h := range hs {
		if h.Row.ID = ids[h.Row.MessageID]; h.Row.ID != 0 {
			s.hand.queue = append(s.hand.queue, h)
		}
	}
}
