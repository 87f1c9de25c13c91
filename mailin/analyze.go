package mailin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"guichet/mailin/bounce"
	"guichet/mailin/parse"
	"guichet/mailin/reply"
	"guichet/mailin/tnef"
	"guichet/signed"
	"guichet/ticket"
)

// Envelope is what the transport knows beyond the message itself.
type Envelope struct {
	From   string   // SMTP MAIL FROM ("" for a bounce)
	To     []string // SMTP RCPT TO, or the mailbox's address
	Source string   // smtp, lmtp, imap, pipe, cli
	// Sent marks mail read from the shared mailbox's own Sent folder: a reply the team sent
	// from it. It is trusted like authenticated agent mail (we logged in to read it), stored as
	// a public staff message, and never notified (the requester already has it).
	Sent bool
	// Agent is who wrote Sent mail when its From and Sender name no agent: the mailbox's agent.
	Agent string
}

// ErrStore wraps a storage failure during analysis: the message was not looked at to the end,
// and the caller should retry later (451 in SMTP, 75 for a pipe).
var ErrStore = errors.New("mailin: store")

// Analyze runs parse, classify, thread and route on one raw message and changes nothing.
// It returns an error only when the store cannot be read; everything wrong with the message
// itself is in the analysis: its kind, its warnings.
func (p *Pipeline) Analyze(ctx context.Context, raw []byte, env *Envelope) (*Analysis, error) {
	if env == nil {
		env = &Envelope{}
	}
	a := &Analysis{To: []Address{}, Cc: []Address{}, Attachments: []Attachment{}, Commands: []Command{},
		Bounces: []Bounce{}, Warnings: []string{}, Received: p.now().UTC()}
	m, err := p.parse(raw)
	if err != nil {
		a.Kind, a.Why = KindUnreadable, "not a message: "+err.Error()
		a.Warnings = append(a.Warnings, a.Why)
		a.Dedup = contentKey(raw, nil)
		return a, nil
	}
	a.msg = m
	if m.HTML == "" && !m.Header.Has("Content-Type") && looksHTML(m.Text) {
		m.HTML, m.Text = m.Text, "" // an HTML body sent without a Content-Type, or handed over bare
	}
	a.MessageID, a.Subject = m.MessageID, m.Subject
	a.From, a.To, a.Cc = toAddress(m.From), toAddresses(m.To), toAddresses(m.Cc)
	if !m.Date.IsZero() {
		a.Date = ptr(m.Date.UTC().Format(time.RFC3339))
	}
	a.Warnings = append(a.Warnings, m.Warnings...)
	a.Dedup = contentKey(raw, m)
	h := headerOf(m)
	if a.From.Address == "" {
		a.From = toAddress(m.Sender)
	}
	if a.From.Address == "" && env.From != "" {
		a.From = Address{Address: ticket.NormalizeAddress(env.From)}
	}
	a.Requester = a.From
	recipients := allRecipients(h, env.To)
	a.Route = p.route(recipients)
	for _, at := range m.Attachments {
		a.Attachments = append(a.Attachments, Attachment{Filename: at.Filename, ContentType: at.ContentType,
			Size: len(at.Data), Inline: at.Inline, ContentID: at.ContentID, Data: at.Data})
	}
	if m.HTML != "" {
		a.HTML = parse.Sanitize(m.HTML)
	}

	// Classify: loop, bounce, autoreply, spam, list — the first that applies wins.
	kind, why := p.classifyHeaders(h, a.From.Address, a.Subject)
	var feedback bool
	if kind != KindLoop {
		r, isBounce, isFeedback := bounce.Classify(raw)
		feedback = isFeedback
		if isBounce {
			kind, why = KindBounce, "a delivery failure report"
			for _, rc := range r.Recipients {
				a.Bounces = append(a.Bounces, Bounce{Recipient: rc.Address, Status: rc.Status, Permanent: rc.Permanent, Diag: rc.Diagnostic})
			}
			if err := p.threadBounce(ctx, a, r, env); err != nil {
				return a, err
			}
		}
	}
	if kind == "" && feedback {
		kind, why = KindAutoReply, "an abuse feedback report (RFC 5965)"
		a.Warnings = append(a.Warnings, "feedback report: kept, never answered")
	}

	// The text: only what the author wrote this time.
	full := m.Text
	if full == "" && m.HTML != "" {
		full = reply.HTMLToText(m.HTML)
	}
	opts := &reply.Options{Markers: []string{signed.Marker}}
	if m.Text != "" {
		a.Text, a.QuotedRemoved = reply.Strip(m.Text, opts)
	} else if m.HTML != "" {
		a.Text, a.QuotedRemoved = reply.StripHTML(m.HTML, opts)
	}

	if env.Sent {
		return a, p.sentMail(ctx, a, h, recipients, env)
	}
	if kind == KindLoop || kind == KindSpam || kind == KindBounce {
		a.Kind, a.Why = kind, why
		return a, nil
	}
	if err := p.thread(ctx, a, h, recipients); err != nil {
		return a, err
	}
	if a.Ticket == nil && kind != KindAutoReply {
		p.forward(ctx, a, m, full)
	}
	if err := p.agentMail(ctx, a, raw, h); err != nil {
		return a, err
	}
	switch {
	case kind != "":
		a.Kind, a.Why = kind, why
	case a.Ticket != nil:
		a.Kind = KindFollowUp
	default:
		a.Kind = KindNew
	}
	return a, nil
}

// parse reads the message with the configured size limit, unpacking TNEF attachments.
func (p *Pipeline) parse(raw []byte) (*parse.Message, error) {
	return parse.Parse(bytes.NewReader(raw), &parse.Options{MaxSize: p.cfg.MaxMessageSize, ExpandTNEF: expandTNEF})
}

// expandTNEF unpacks a winmail.dat into its files.
func expandTNEF(data []byte) ([]parse.Part, error) {
	t, err := tnef.Decode(data)
	if err != nil {
		return nil, err
	}
	var parts []parse.Part
	for _, f := range t.Files {
		parts = append(parts, parse.Part{Filename: f.Name, ContentType: f.ContentType, Data: f.Data})
	}
	return parts, nil
}

// contentKey is the dedup key: the Message-ID, else a hash of what identifies the content.
func contentKey(raw []byte, m *parse.Message) string {
	if m != nil && m.MessageID != "" {
		return "mid:" + m.MessageID
	}
	h := sha256.New()
	if m == nil {
		h.Write(raw)
	} else {
		hd := headerOf(m)
		for _, name := range []string{"From", "To", "Cc", "Date", "Subject"} {
			fmt.Fprintf(h, "%s:%s\n", name, hd.Get(name))
		}
		fmt.Fprintf(h, "%d\n%s\n%d\n%s\n", len(m.Text), m.Text, len(m.HTML), m.HTML)
		for _, at := range m.Attachments {
			sum := sha256.Sum256(at.Data)
			fmt.Fprintf(h, "%s %x\n", at.Filename, sum)
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// thread finds the ticket a message belongs to: the signed reply address, then In-Reply-To and
// References, then the subject tag — the tag only from someone already on that ticket, since
// ticket numbers are guessable.
func (p *Pipeline) thread(ctx context.Context, a *Analysis, h headers, recipients []string) error {
	if p.signer != nil {
		for _, r := range recipients {
			if n, _, ok := p.signer.ParseReplyAddress(r); ok {
				if found, err := p.exists(ctx, n); err != nil || found {
					a.Ticket, a.ThreadBy = ptr(n), ptr(ByReplyAddress)
					return err
				}
			}
		}
	}
	refs := append(append([]string(nil), a.msg.References...), a.msg.InReplyTo...)
	if p.signer != nil {
		for i := len(refs) - 1; i >= 0; i-- {
			if n, ok := p.signer.ParseMessageID(refs[i]); ok {
				if found, err := p.exists(ctx, n); err != nil || found {
					a.Ticket, a.ThreadBy = ptr(n), ptr(ByReferences)
					return err
				}
			}
		}
	}
	if p.store != nil && len(refs) > 0 {
		n, err := p.store.TicketByMessageID(ctx, refs)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrStore, err)
		}
		if n != 0 {
			a.Ticket, a.ThreadBy = ptr(n), ptr(ByReferences)
			return nil
		}
	}
	n, ok := ticket.ParseTag(p.cfg.TagPrefix, a.Subject)
	if !ok || p.store == nil {
		return nil
	}
	t, err := p.store.Ticket(ctx, n)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	agent, err := p.isAgent(ctx, a.From.Address)
	if err != nil {
		return err
	}
	if t.RoleOf(a.From.Address, agent) == ticket.RoleStranger {
		a.Mentions = ptr(n)
		a.Warnings = append(a.Warnings, fmt.Sprintf("subject tag %s from %s, who is not on that ticket: a new ticket", ticket.Tag(p.cfg.TagPrefix, n), a.From.Address))
		return nil
	}
	a.Ticket, a.ThreadBy = ptr(n), ptr(BySubjectTag)
	return nil
}

// threadBounce finds the ticket whose notification bounced: our Message-ID in the returned headers.
func (p *Pipeline) threadBounce(ctx context.Context, a *Analysis, r bounce.Report, env *Envelope) error {
	// A bounce comes back to the notification's signed return address (VERP): it names the
	// notification, hence the ticket, even when the report quotes no headers.
	if p.signer != nil && p.store != nil {
		var rcpts []string
		if env != nil {
			rcpts = append(rcpts, env.To...)
		}
		for _, t := range a.To {
			rcpts = append(rcpts, t.Address)
		}
		if h := headerOf(a.msg); h != nil {
			rcpts = append(rcpts, h.Get("Delivered-To"), h.Get("X-Original-To"), h.Get("Envelope-To"))
		}
		for _, rc := range rcpts {
			if id, ok := p.signer.ParseReturnAddress(rc); ok {
				n, err := p.store.NotificationTicket(ctx, id)
				if err != nil {
					return fmt.Errorf("%w: %w", ErrStore, err)
				}
				if n != 0 {
					a.Ticket, a.ThreadBy = ptr(n), ptr(ByReturnAddress)
					return nil
				}
			}
		}
	}
	if r.OriginalMessageID == "" {
		return nil
	}
	if p.signer != nil {
		if n, ok := p.signer.ParseMessageID(r.OriginalMessageID); ok {
			if found, err := p.exists(ctx, n); err != nil || found {
				a.Ticket, a.ThreadBy = ptr(n), ptr(ByReferences)
				return err
			}
		}
	}
	if p.store == nil {
		return nil
	}
	n, err := p.store.TicketByMessageID(ctx, []string{r.OriginalMessageID})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	if n != 0 {
		a.Ticket, a.ThreadBy = ptr(n), ptr(ByReferences)
	}
	return nil
}

func (p *Pipeline) exists(ctx context.Context, n int64) (bool, error) {
	if p.store == nil {
		return true, nil // inspect without a database: trust the signature
	}
	_, err := p.store.Ticket(ctx, n)
	if err == nil {
		return true, nil
	}
	if isNotFound(err) {
		return false, nil
	}
	return false, fmt.Errorf("%w: %w", ErrStore, err)
}

func (p *Pipeline) isAgent(ctx context.Context, address string) (bool, error) {
	if p.store == nil || address == "" {
		return false, nil
	}
	agent, err := p.store.IsAgent(ctx, address) // cached by the store for a few seconds
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrStore, err)
	}
	return agent, nil
}

// isNotFound recognises a store's not-found error without importing the store.
func isNotFound(err error) bool { return errors.Is(err, ticket.ErrNotFound) }

// forward credits a message forwarded by an agent or by our own support inbox to the original
// sender, who becomes the requester; the forwarder is recorded. A support inbox that redirects
// keeps the original From, so there is nothing to do but say it was forwarded.
func (p *Pipeline) forward(ctx context.Context, a *Analysis, m *parse.Message, full string) {
	h := headerOf(m)
	if h.Get("Resent-From") != "" || h.Get("X-Forwarded-To") != "" || h.Get("X-Forwarded-For") != "" {
		a.Forwarded = true
	}
	agent, err := p.isAgent(ctx, a.From.Address)
	if err != nil || !agent && !p.isSupport(a.From.Address) {
		return
	}
	f, ok := findForward(m, full)
	if !ok || f.From.Address == "" || strings.EqualFold(f.From.Address, a.From.Address) {
		return
	}
	if isAgent, _ := p.isAgent(ctx, f.From.Address); isAgent {
		return // an agent forwarding a colleague's mail opens a ticket of their own
	}
	a.Forwarded = true
	a.ForwardedBy = a.From
	a.Requester = f.From
	if f.Subject != "" {
		a.Subject = f.Subject
	} else {
		a.Subject = stripReplyPrefixes(a.Subject)
	}
	text, removed := reply.Strip(f.Text, &reply.Options{Markers: []string{signed.Marker}})
	a.Text, a.QuotedRemoved = text, removed || a.QuotedRemoved
	if note, _ := reply.Strip(f.Note, nil); note != "" {
		a.AgentNote = note
	}
}

// agentMail reads the commands at the top of an agent's message and checks that the message
// really comes from them.
func (p *Pipeline) agentMail(ctx context.Context, a *Analysis, raw []byte, h headers) error {
	agent, err := p.isAgent(ctx, a.From.Address)
	if err != nil || !agent {
		return err
	}
	a.SenderIsAgent = true
	src := a.Text
	if a.Forwarded && a.ForwardedBy.Address != "" {
		src = a.AgentNote
	}
	cmds, rest := splitCommands(src)
	if len(cmds) == 0 {
		return nil
	}
	a.Commands = cmds
	if a.Forwarded && a.ForwardedBy.Address != "" {
		a.AgentNote = rest
	} else {
		a.Text = rest
	}
	a.Authenticated, a.AuthWhy = p.authenticate(raw, h, a.From.Address)
	if !a.Authenticated {
		a.Warnings = append(a.Warnings, "commands not applied: the message is not authenticated ("+a.AuthWhy+")")
	}
	return nil
}

// looksHTML reports whether a body without headers is HTML.
func looksHTML(s string) bool {
	head := strings.TrimSpace(s)
	if !strings.HasPrefix(head, "<") {
		return false // every tag below starts with it
	}
	head = strings.ToLower(head[:min(len(head), 512)])
	for _, tag := range []string{"<html", "<!doctype html", "<div", "<p>", "<p ", "<body", "<table", "<blockquote", "<br"} {
		if strings.Contains(head, tag) {
			return true
		}
	}
	return false
}

// sentMail handles a message from our own Sent folder: the team's reply, on the ticket it threads
// to; one that threads to none (a technician's own mail) is kept without a ticket.
func (p *Pipeline) sentMail(ctx context.Context, a *Analysis, h headers, recipients []string, env *Envelope) error {
	a.Authenticated, a.AuthWhy = true, "read from our own Sent folder"
	agent := ""
	for _, cand := range []string{a.From.Address, ticket.NormalizeAddress(a.msg.Sender.Address), ticket.NormalizeAddress(env.Agent)} {
		ok, err := p.isAgent(ctx, cand)
		if err != nil {
			return err
		}
		if ok {
			agent = cand
			break
		}
	}
	if agent == "" {
		a.Kind, a.Why = KindSent, "sent mail whose author is no agent"
		a.Warnings = append(a.Warnings, "sent mail: neither From, Sender nor the mailbox's agent is a registered agent")
		return nil
	}
	if agent != a.From.Address {
		a.From = Address{Address: agent}
	}
	a.SenderIsAgent = true
	if err := p.thread(ctx, a, h, recipients); err != nil {
		return err
	}
	if a.Mentions != nil {
		a.Mentions = nil // an agent may write on any ticket
	}
	cmds, rest := splitCommands(a.Text)
	a.Commands, a.Text = append(a.Commands, cmds...), rest
	if a.Ticket == nil {
		a.Kind, a.Why = KindSent, "sent mail that names no ticket"
		return nil
	}
	a.Kind, a.Why = KindFollowUp, "sent from the shared mailbox"
	return nil
}
