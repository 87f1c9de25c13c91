package mailin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"guichet/ticket"
)

// Ingest runs the pipeline on one raw message and stores the result: a ticket, a follow-up,
// a note, a delivery failure, or a quarantine entry. The error is non-nil only when nothing was
// stored (the database is unavailable): the sender must keep the message and retry.
func (p *Pipeline) Ingest(ctx context.Context, raw []byte, env *Envelope) (*Analysis, ticket.Delivered, error) {
	if p.store == nil {
		return nil, ticket.Delivered{}, fmt.Errorf("mailin: ingest needs a store")
	}
	a, in, err := p.Decide(ctx, raw, env)
	if err != nil {
		return a, ticket.Delivered{}, err
	}
	d, err := p.store.Deliver(ctx, in, p.cfg.Policy)
	if err != nil {
		return a, d, fmt.Errorf("%w: %w", ErrStore, err)
	}
	p.log.Info("ingested", "message_id", a.MessageID, "kind", a.Kind, "ticket", d.Number,
		"created", d.Created, "quarantine", d.Quarantine, "duplicate", d.Duplicate)
	return a, d, nil
}

// Decide analyzes a message and says what the store should record for it, without storing it:
// Ingest stores it, a quarantine retry hands it to the store with the entry to release.
func (p *Pipeline) Decide(ctx context.Context, raw []byte, env *Envelope) (*Analysis, *ticket.Inbound, error) {
	if env == nil {
		env = &Envelope{}
	}
	a, err := p.Analyze(ctx, raw, env)
	if err != nil {
		return a, nil, err
	}
	in, err := p.inbound(ctx, a, raw, env)
	return a, in, err
}

func (p *Pipeline) inbound(ctx context.Context, a *Analysis, raw []byte, env *Envelope) (*ticket.Inbound, error) {
	in := &ticket.Inbound{Raw: raw, Dedup: a.Dedup, MessageID: a.MessageID, Source: env.Source, Received: a.Received,
		Kind: a.Kind, Sender: a.From.Address, Subject: a.Subject}
	if a.ThreadBy != nil {
		in.ThreadBy = *a.ThreadBy
	}
	var files []ticket.File
	for _, at := range a.Attachments {
		files = append(files, ticket.File{Filename: at.Filename, ContentType: at.ContentType, Data: at.Data})
	}
	var notes []string
	for _, w := range a.Warnings {
		if strings.Contains(w, "left out") || strings.Contains(w, "too large") {
			notes = append(notes, "When this message was received: "+w)
		}
	}
	switch a.Kind {
	case KindLoop, KindSpam, KindUnreadable:
		in.Quarantine = a.Why
		return in, nil
	case KindBounce:
		in.Number = a.ticketNumber()
		in.Actor = ticket.System
		var lines []string
		for _, b := range a.Bounces {
			in.Bounces = append(in.Bounces, ticket.Bounce{Recipient: b.Recipient, Status: b.Status, Permanent: b.Permanent, Diagnostic: b.Diag})
			kind := "temporary"
			if b.Permanent {
				kind = "permanent"
			}
			lines = append(lines, fmt.Sprintf("Delivery to %s failed (%s, %s): %s", b.Recipient, orUnknown(b.Status), kind, b.Diag))
		}
		if len(lines) == 0 {
			lines = []string{"A delivery failure report from " + a.From.Address + " names no recipient."}
		}
		in.Action = ticket.Action{Kind: ticket.ActMessage, Visibility: ticket.Internal, Text: strings.Join(lines, "\n"), MessageID: a.MessageID}
		return in, nil
	case KindSent:
		return in, nil // kept without a ticket
	case KindAutoReply:
		in.Number = a.ticketNumber()
		in.Actor = ticket.System
		text := fmt.Sprintf("Automatic reply from %s (%s):\n\n%s", a.From.Address, a.Why, a.Text)
		in.Action = ticket.Action{Kind: ticket.ActMessage, Visibility: ticket.Internal, Text: text, MessageID: a.MessageID}
		return in, nil
	}
	in.Notify = a.Kind != KindList && !env.Sent
	in.Actor = ticket.Actor{Address: a.From.Address, Name: a.From.Name}
	if env.Sent {
		in.Actor.Role = ticket.RoleAgent
	}
	text := a.Text
	if strings.TrimSpace(text) == "" && len(files) == 0 && a.msg != nil {
		// Nothing new above the quote (a bare forward, a reply with the text below): keep it all rather than nothing.
		text = strings.TrimSpace(a.msg.Text)
		if text == "" {
			text = strings.TrimSpace(htmlText(a.msg.HTML))
		}
	}
	base := ticket.Action{Kind: ticket.ActMessage, Text: text, HTML: a.HTML, MessageID: a.MessageID}
	in.Files = files
	in.Notes = notes
	if a.Ticket != nil {
		in.Number = *a.Ticket
		in.AddParticipant = in.ThreadBy == ByReplyAddress || in.ThreadBy == ByReferences
		in.Action = base
		if a.SenderIsAgent && len(a.Commands) > 0 {
			p.applyCommands(a, in, base)
			if err := p.checkAssignees(ctx, in); err != nil {
				return nil, err
			}
		}
		if !a.SenderIsAgent && !env.Sent {
			if err := p.answer(ctx, a, in, text); err != nil {
				return nil, err
			}
		}
		return in, nil
	}
	// A new ticket.
	if p.cfg.FloodLimit > 0 {
		n, err := p.store.TicketsOpenedSince(ctx, a.Requester.Address, a.Received.Add(-time.Hour))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStore, err)
		}
		if n >= p.cfg.FloodLimit {
			in.Quarantine = fmt.Sprintf("flood: %s opened %d tickets in the last hour (limit %d)", a.Requester.Address, n, p.cfg.FloodLimit)
			return in, nil
		}
	}
	if !ticket.ValidAddress(a.Requester.Address) {
		in.Quarantine = fmt.Sprintf("no usable sender address (From %q)", a.From.Address)
		return in, nil
	}
	subject := a.Subject
	if a.Mentions != nil {
		subject = strings.TrimSpace(strings.Replace(subject, ticket.Tag(p.cfg.TagPrefix, *a.Mentions), "", 1))
	}
	if strings.TrimSpace(subject) == "" {
		subject = "(no subject)"
	}
	r := a.Route
	lang := r.Lang
	if cl := headerOf(a.msg).Get("Content-Language"); strings.HasPrefix(strings.ToLower(strings.TrimSpace(cl)), "fr") {
		lang = ticket.French
	}
	nt := &ticket.NewTicket{Subject: subject, Requester: ticket.Person{Address: a.Requester.Address, Name: a.Requester.Name, Lang: lang},
		Type: r.Type, Priority: r.Priority, Group: r.Group, SupportAddress: r.Address, Channel: ticket.ChannelEmail}
	for _, c := range append(append([]Address(nil), a.To...), a.Cc...) {
		if _, ours := p.ours(c.Address); !ours && c.Address != a.Requester.Address && c.Address != a.ForwardedBy.Address && ticket.ValidAddress(c.Address) {
			nt.Participants = append(nt.Participants, ticket.Person{Address: c.Address, Name: c.Name, Lang: lang})
		}
	}
	in.Create = nt
	in.Action = base
	in.Actor = ticket.Actor{Role: ticket.RoleRequester, Address: a.Requester.Address, Name: a.Requester.Name}
	if a.ForwardedBy.Address != "" {
		in.ForwardedBy = ticket.Actor{Role: ticket.RoleAgent, Address: a.ForwardedBy.Address, Name: a.ForwardedBy.Name}
		if a.AgentNote != "" {
			in.Notes = append(in.Notes, fmt.Sprintf("Forwarded by %s, who wrote:\n\n%s", a.ForwardedBy.Address, a.AgentNote))
		}
		if a.SenderIsAgent && len(a.Commands) > 0 {
			if a.Authenticated {
				_, after, problems := actions(a.Commands, "", a.ForwardedBy.Address, ticket.Action{})
				in.Commands = after
				in.Notes = append(in.Notes, problems...)
			} else {
				in.Notes = append(in.Notes, "Commands not applied: "+a.AuthWhy)
			}
		}
	}
	return in, nil
}

// applyCommands turns an agent's commands into actions, or, when the message is not
// authenticated, keeps it as an internal note with why: a forged From must not reach the requester.
func (p *Pipeline) applyCommands(a *Analysis, in *ticket.Inbound, base ticket.Action) {
	if !a.Authenticated {
		base.Visibility = ticket.Internal
		in.Action = base
		names := make([]string, len(a.Commands))
		for i, c := range a.Commands {
			names[i] = "#" + strings.TrimSpace(c.Name+" "+strings.Join(c.Args, " "))
		}
		in.Notes = append(in.Notes, fmt.Sprintf("Commands %s from %s not applied, and the message kept as an internal note: %s",
			strings.Join(names, ", "), a.From.Address, a.AuthWhy))
		return
	}
	main, after, problems := actions(a.Commands, a.Text, a.From.Address, base)
	in.Action, in.Commands = main, after
	in.Notes = append(in.Notes, problems...)
}

func orUnknown(s string) string {
	if s == "" {
		return "status unknown"
	}
	return s
}

// checkAssignees drops #assign commands naming someone who is not an agent, with a note.
func (p *Pipeline) checkAssignees(ctx context.Context, in *ticket.Inbound) error {
	kept := in.Commands[:0]
	for _, c := range in.Commands {
		if c.Kind == ticket.ActAssign {
			ok, err := p.isAgent(ctx, c.Agent)
			if err != nil {
				return err
			}
			if !ok {
				in.Notes = append(in.Notes, fmt.Sprintf("#assign %s not applied: %s is not an agent", c.Agent, c.Agent))
				continue
			}
		}
		kept = append(kept, c)
	}
	in.Commands = kept
	return nil
}

// answer turns a requester's "approve" or "refuse: reason" reply into the approval or the
// refusal of the waiting solution — only when the reply is threaded by the signed reply address
// or names the solution's notification in In-Reply-To/References, both of which only a
// recipient of our mail knows. A subject tag alone is not enough: anyone can forge From.
func (p *Pipeline) answer(ctx context.Context, a *Analysis, in *ticket.Inbound, text string) error {
	kind, rest, ok := ticket.ParseAnswer(text)
	if !ok || p.store == nil {
		return nil
	}
	t, err := p.store.Ticket(ctx, in.Number)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	if t.Status != ticket.StatusSolved || ticket.NormalizeAddress(a.From.Address) != t.Requester.Address {
		return nil
	}
	trusted := in.ThreadBy == ByReplyAddress
	if !trusted && in.ThreadBy == ByReferences {
		refs := append(append([]string(nil), a.msg.References...), a.msg.InReplyTo...)
		n, k, err := p.store.NotificationKind(ctx, refs)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrStore, err)
		}
		trusted = n == t.Number && k == "solved"
	}
	what := map[ticket.ActionKind]string{ticket.ActApprove: "approval", ticket.ActRefuse: "refusal"}[kind]
	if !trusted {
		in.Notes = append(in.Notes, fmt.Sprintf("This reply reads as an %s of the solution but was not applied: it is not threaded "+
			"by the ticket's signed reply address nor by the solution's notification (thread: %s), and From alone can be forged. "+
			"The requester can use the links of the solution's mail.", what, orUnknown(in.ThreadBy)))
		return nil
	}
	action := ticket.Action{Kind: kind, MessageID: in.Action.MessageID, Attachments: in.Action.Attachments}
	if kind == ticket.ActApprove {
		action.Text = rest
		if action.Text == "" && len(in.Files) > 0 {
			action.Text = "(approved with attachments)"
		}
	} else {
		action.Reason = rest
	}
	in.Action = action
	in.Notes = append(in.Notes, fmt.Sprintf("Solution %s by e-mail from %s (threaded by %s).", map[ticket.ActionKind]string{
		ticket.ActApprove: "approved", ticket.ActRefuse: "refused"}[kind], t.Requester.Address, in.ThreadBy))
	return nil
}
