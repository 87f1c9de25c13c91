package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"guichet/ticket"
)

// describe computes what the domain knows of files: safe names, sizes and hashes.
func describe(files []File) []ticket.Attachment {
	var as []ticket.Attachment
	for _, f := range files {
		sum := sha256.Sum256(f.Data)
		ct := strings.TrimSpace(f.ContentType)
		if ct == "" {
			ct = "application/octet-stream"
		}
		as = append(as, ticket.Attachment{Filename: ticket.SanitizeFilename(f.Filename), ContentType: ct,
			Size: int64(len(f.Data)), SHA256: hex.EncodeToString(sum[:])})
	}
	return as
}

// checkNewMessageID fails with ErrDuplicateMessage when a message with this Message-ID is stored.
// The unique index backs it against concurrent writers.
func (s *Store) checkNewMessageID(ctx context.Context, tx *sqlx.Tx, id string) error {
	if id == "" {
		return nil
	}
	var number int64
	err := tx.GetContext(ctx, &number, tx.Rebind(`SELECT t.number FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE m.message_id = ?`), id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("store: message <%s>: %w on ticket %d", id, ErrDuplicateMessage, number)
}

// insertMessage stores a message and its attachments; contents are stored once per hash.
func (s *Store) insertMessage(ctx context.Context, tx *sqlx.Tx, m *ticket.Message, files []File) (int64, error) {
	var mid any
	if m.MessageID != "" {
		mid = m.MessageID
	}
	err := tx.GetContext(ctx, &m.ID, tx.Rebind(`INSERT INTO messages (ticket_id, time, author_role, author_address,
		author_name, visibility, text, html, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		m.TicketID, s.tv(m.Time), string(m.Author.Role), m.Author.Address, m.Author.Name, string(m.Visibility),
		m.Text, m.HTML, mid)
	if isUniqueViolation(err) {
		return 0, fmt.Errorf("store: message <%s>: %w", m.MessageID, ErrDuplicateMessage)
	}
	if err != nil {
		return 0, fmt.Errorf("insert message: %w", err)
	}
	data := map[string][]byte{}
	for _, f := range files {
		sum := sha256.Sum256(f.Data)
		data[hex.EncodeToString(sum[:])] = f.Data
	}
	for _, a := range m.Attachments {
		if content, ok := data[a.SHA256]; ok {
			if err := s.insertBlob(ctx, tx, a.SHA256, content); err != nil {
				return 0, err
			}
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO attachments (message_id, filename, content_type, size, sha256)
			VALUES (?, ?, ?, ?, ?)`), m.ID, a.Filename, a.ContentType, a.Size, a.SHA256); err != nil {
			return 0, fmt.Errorf("insert attachment %q: %w", a.Filename, err)
		}
	}
	return m.ID, nil
}

type messageRow struct {
	ID            int64          `db:"id"`
	TicketID      int64          `db:"ticket_id"`
	Time          dbTime         `db:"time"`
	AuthorRole    string         `db:"author_role"`
	AuthorAddress string         `db:"author_address"`
	AuthorName    string         `db:"author_name"`
	Visibility    string         `db:"visibility"`
	Text          string         `db:"text"`
	HTML          string         `db:"html"`
	MessageID     sql.NullString `db:"message_id"`
}

const messageColumns = `id, ticket_id, time, author_role, author_address, author_name, visibility, text, html, message_id`

func (r messageRow) message(atts []ticket.Attachment) ticket.Message {
	return ticket.Message{ID: r.ID, TicketID: r.TicketID, Time: r.Time.Time,
		Author:     ticket.Actor{Role: ticket.Role(r.AuthorRole), Address: r.AuthorAddress, Name: r.AuthorName},
		Visibility: ticket.Visibility(r.Visibility), Text: r.Text, HTML: r.HTML, MessageID: r.MessageID.String,
		Attachments: atts}
}

// Messages returns a ticket's messages in order, with their attachments.
func (s *Store) Messages(ctx context.Context, ticketID int64) ([]ticket.Message, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	ms, err := s.messagesOf(ctx, s.db, []int64{ticketID})
	if err != nil {
		return nil, fmt.Errorf("store: messages: %w", s.classify(err))
	}
	return ms[ticketID], nil
}

// messagesOf loads the messages of several tickets, in order, with their attachments: two queries.
func (s *Store) messagesOf(ctx context.Context, q querier, ticketIDs []int64) (map[int64][]ticket.Message, error) {
	ms := map[int64][]ticket.Message{}
	if len(ticketIDs) == 0 {
		return ms, nil
	}
	query, args, err := sqlx.In(`SELECT `+messageColumns+` FROM messages WHERE ticket_id IN (?) ORDER BY id`, ticketIDs)
	if err != nil {
		return nil, err
	}
	var rows []messageRow
	if err := sqlx.SelectContext(ctx, q, &rows, q.Rebind(query), args...); err != nil {
		return nil, err
	}
	query, args, err = sqlx.In(`SELECT a.message_id, a.filename, a.content_type, a.size, a.sha256 FROM attachments a
		JOIN messages m ON m.id = a.message_id WHERE m.ticket_id IN (?) ORDER BY a.id`, ticketIDs)
	if err != nil {
		return nil, err
	}
	var atts []struct {
		MessageID   int64  `db:"message_id"`
		Filename    string `db:"filename"`
		ContentType string `db:"content_type"`
		Size        int64  `db:"size"`
		SHA256      string `db:"sha256"`
	}
	if err := sqlx.SelectContext(ctx, q, &atts, q.Rebind(query), args...); err != nil {
		return nil, err
	}
	byMsg := map[int64][]ticket.Attachment{}
	for _, a := range atts {
		byMsg[a.MessageID] = append(byMsg[a.MessageID], ticket.Attachment{Filename: a.Filename, ContentType: a.ContentType, Size: a.Size, SHA256: a.SHA256})
	}
	for _, r := range rows {
		ms[r.TicketID] = append(ms[r.TicketID], r.message(byMsg[r.ID]))
	}
	return ms, nil
}

// Blob returns the content of the attachment with the given SHA-256 (hex).
func (s *Store) Blob(ctx context.Context, sha string) ([]byte, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var b struct {
		Size int64  `db:"size"`
		Data []byte `db:"data"`
	}
	err := s.db.GetContext(ctx, &b, s.db.Rebind(`SELECT size, data FROM blobs WHERE sha256 = ?`), sha)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: blob %s: %w", sha, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: blob %s: %w", sha, s.classify(err))
	}
	if int64(len(b.Data)) >= b.Size {
		return b.Data, nil
	}
	// Stored in parts: the first was in blobs.
	data := make([]byte, len(b.Data), b.Size)
	copy(data, b.Data)
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT data FROM blob_parts WHERE sha256 = ? ORDER BY seq`), sha)
	if err != nil {
		return nil, fmt.Errorf("store: blob %s: %w", sha, s.classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		var part sql.RawBytes
		if err := rows.Scan(&part); err != nil {
			return nil, fmt.Errorf("store: blob %s: %w", sha, err)
		}
		data = append(data, part...)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: blob %s: %w", sha, s.classify(err))
	}
	if int64(len(data)) != b.Size {
		return nil, fmt.Errorf("store: blob %s: %d bytes stored of %d", sha, len(data), b.Size)
	}
	return data, nil
}

// TicketsWithMessages loads several tickets (by internal id) and their messages with their
// attachments, in three queries: what the notification sender needs for a batch.
func (s *Store) TicketsWithMessages(ctx context.Context, ids []int64) (map[int64]ticket.Ticket, map[int64][]ticket.Message, error) {
	ts := map[int64]ticket.Ticket{}
	if len(ids) == 0 {
		return ts, map[int64][]ticket.Message{}, nil
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	q, args, err := sqlx.In(`SELECT `+ticketColumns+` FROM tickets WHERE id IN (?)`, ids)
	if err != nil {
		return nil, nil, err
	}
	var trows []ticketRow
	if err := s.db.SelectContext(ctx, &trows, s.db.Rebind(q), args...); err != nil {
		return nil, nil, fmt.Errorf("store: tickets: %w", s.classify(err))
	}
	for _, r := range trows {
		ts[r.ID] = r.ticket()
	}
	ms, err := s.messagesOf(ctx, s.db, ids)
	if err != nil {
		return nil, nil, fmt.Errorf("store: messages: %w", s.classify(err))
	}
	return ts, ms, nil
}
