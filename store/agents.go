package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"guichet/ticket"
)

// Agent is a member of the support team.
type Agent struct {
	Address string    `db:"address"`
	Name    string    `db:"name"`
	Created time.Time `db:"-"`
}

// AddAgent registers an agent, or renames one already registered.
func (s *Store) AddAgent(ctx context.Context, address, name string, now time.Time) error {
	address = ticket.NormalizeAddress(address)
	if !ticket.ValidAddress(address) {
		return fmt.Errorf("store: agent %q: %w: not an e-mail address", address, ticket.ErrInvalid)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO agents (address, name, created) VALUES (?, ?, ?)
		ON CONFLICT (address) DO UPDATE SET name = excluded.name`), address, strings.TrimSpace(name), s.tv(now))
	if err != nil {
		return fmt.Errorf("store: add agent %s: %w", address, s.classify(err))
	}
	s.forgetAgents()
	return nil
}

// RemoveAgent unregisters an agent. Tickets assigned to them keep the address.
func (s *Store) RemoveAgent(ctx context.Context, address string) error {
	address = ticket.NormalizeAddress(address)
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	r, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM agents WHERE address = ?`), address)
	if err != nil {
		return fmt.Errorf("store: remove agent %s: %w", address, s.classify(err))
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("store: agent %s: %w", address, ErrNotFound)
	}
	s.forgetAgents()
	return nil
}

// Agents lists the agents by address.
func (s *Store) Agents(ctx context.Context) ([]Agent, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var rows []struct {
		Agent
		Created dbTime `db:"created"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT address, name, created FROM agents ORDER BY address`); err != nil {
		return nil, fmt.Errorf("store: agents: %w", s.classify(err))
	}
	as := make([]Agent, len(rows))
	for i, r := range rows {
		as[i] = r.Agent
		as[i].Created = r.Created.Time
	}
	return as, nil
}

// Agent returns the agent with this address, or ErrNotFound.
func (s *Store) Agent(ctx context.Context, address string) (Agent, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	a, err := s.agent(ctx, s.db, address)
	if err != nil && !errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("store: agent %s: %w", address, s.classify(err))
	}
	return a, err
}

func (s *Store) agent(ctx context.Context, q querier, address string) (Agent, error) {
	var a Agent
	err := sqlxGet(ctx, q, &a, `SELECT address, name FROM agents WHERE address = ?`, ticket.NormalizeAddress(address))
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("store: agent %s: %w", address, ErrNotFound)
	}
	return a, err
}
