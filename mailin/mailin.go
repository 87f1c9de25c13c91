// Package mailin turns received mail into tickets and follow-ups. Every message, whatever
// brought it (SMTP, LMTP, IMAP, an MTA pipe), goes through one pipeline:
//
//	parse → classify → thread → route → apply
//
// Analyze runs the first four steps and changes nothing (guichet inspect); Ingest runs them
// and hands the decision to the store, which records it in one transaction. Nothing is lost:
// a message the pipeline cannot place goes to quarantine with its raw bytes and the reason.
//
// mailin does not import the store: it declares the small Store interface it needs.
package mailin

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"guichet/signed"
	"guichet/ticket"
)

// Kinds of message, in the order in which they win when several apply.
const (
	KindLoop       = "loop"       // our own mail coming back: quarantined
	KindBounce     = "bounce"     // a delivery failure report: recorded, never a ticket
	KindAutoReply  = "autoreply"  // out-of-office and other automatic replies: an internal note at most
	KindSpam       = "spam"       // marked as spam or forged by the receiving MTA: quarantined
	KindList       = "list"       // mailing-list mail: stored, never answered automatically
	KindFollowUp   = "followup"   // on an existing ticket
	KindNew        = "new"        // a new ticket
	KindUnreadable = "unreadable" // not a message at all: quarantined
	KindSent       = "sent"       // from our Sent folder but on no ticket: kept, nothing else
)

// Threading signals, in the order they are tried.
const (
	ByReplyAddress = "reply-address"
	ByReferences   = "references"
	BySubjectTag   = "subject-tag"
	// ByReturnAddress threads a bounce by the signed return address it came back to.
	ByReturnAddress = "return-address"
)

// Route is what a support address decides for the tickets that come in through it.
type Route struct {
	Address  string // the support address, lower-case
	Type     string
	Priority ticket.Priority
	Group    string
	Lang     ticket.Lang
}

// Config is the pipeline's settings.
type Config struct {
	SupportAddresses []string // our addresses customers write to, lower-case; the first is the default route
	NoreplyAddress   string
	Routes           map[string]Route // by support address; addresses without one take the defaults
	TagPrefix        string
	Policy           ticket.Policy
	MaxMessageSize   int64    // past it attachments are left out (IMAP, pipe); 0 = 25 MB
	FloodLimit       int      // new tickets per sender per hour; 0 = no limit
	TrustedAuthServ  []string // authserv-ids whose Authentication-Results headers are trusted
	AcceptDomains    []string // SMTP takes any recipient at these domains too
	// LookupTXT resolves DKIM keys; nil means the system resolver. Tests inject their own.
	LookupTXT func(domain string) ([]string, error)
}

// Store is what the pipeline needs from storage.
type Store interface {
	Ticket(ctx context.Context, number int64) (ticket.Ticket, error)
	TicketByMessageID(ctx context.Context, ids []string) (int64, error) // 0 when none
	IsAgent(ctx context.Context, address string) (bool, error)
	TicketsOpenedSince(ctx context.Context, requester string, since time.Time) (int, error)
	Deliver(ctx context.Context, in *ticket.Inbound, p ticket.Policy) (ticket.Delivered, error)
	// NotificationKind returns the ticket and kind of the notification sent with one of these
	// Message-IDs (latest first); kind "" when none was.
	NotificationKind(ctx context.Context, ids []string) (number int64, kind string, err error)
	// NotificationTicket returns the ticket of the notification with this outbox id; 0 when none.
	NotificationTicket(ctx context.Context, outboxID int64) (int64, error)
}

// Pipeline is the inbound pipeline with its configuration.
type Pipeline struct {
	cfg    Config
	store  Store // nil: Analyze works without threading (inspect without a database)
	signer *signed.Signer
	log    *slog.Logger
	now    func() time.Time
}

// Options are a pipeline's collaborators; nil fields take defaults.
type Options struct {
	Store  Store
	Logger *slog.Logger
	Now    func() time.Time
}

// New returns a pipeline. The signer checks our own reply addresses, Message-IDs and loop header.
func New(cfg Config, signer *signed.Signer, o *Options) *Pipeline {
	if o == nil {
		o = &Options{}
	}
	p := &Pipeline{cfg: cfg, store: o.Store, signer: signer, log: o.Logger, now: o.Now}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.cfg.MaxMessageSize <= 0 {
		p.cfg.MaxMessageSize = 25 << 20
	}
	for i, a := range p.cfg.SupportAddresses {
		p.cfg.SupportAddresses[i] = ticket.NormalizeAddress(a)
	}
	p.cfg.NoreplyAddress = ticket.NormalizeAddress(p.cfg.NoreplyAddress)
	return p
}

// ours reports whether address is one of our support addresses or the noreply address, or a
// plus-form of one, and returns the base address.
func (p *Pipeline) ours(address string) (string, bool) {
	a := ticket.NormalizeAddress(address)
	local, domain, ok := strings.Cut(a, "@")
	if !ok {
		return "", false
	}
	local, _, _ = strings.Cut(local, "+")
	base := local + "@" + domain
	if base == p.cfg.NoreplyAddress {
		return base, true
	}
	for _, s := range p.cfg.SupportAddresses {
		if base == s {
			return base, true
		}
	}
	return "", false
}

// AcceptsRecipient says whether mail for address is ours to take: one of our support
// addresses or the noreply address (bounces come back to its signed plus-forms), with any
// +tag, or any address at one of AcceptDomains. Anything else is refused at RCPT: guichet is
// never a relay, and refusing early sends no backscatter.
func (p *Pipeline) AcceptsRecipient(address string) bool {
	a := ticket.NormalizeAddress(strings.Trim(address, "<>"))
	if !ticket.ValidAddress(a) {
		return false
	}
	if _, ok := p.ours(a); ok {
		return true
	}
	_, domain, _ := strings.Cut(a, "@")
	for _, d := range p.cfg.AcceptDomains {
		if strings.EqualFold(strings.TrimSpace(d), domain) {
			return true
		}
	}
	return false
}

func (p *Pipeline) isSupport(address string) bool {
	base, ok := p.ours(address)
	return ok && base != p.cfg.NoreplyAddress
}
