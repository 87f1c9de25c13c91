// Package signed makes and checks the tokens guichet puts in the mail it sends, so that what
// comes back can be trusted to name a ticket or a notification without a database lookup:
//
//   - the reply address of a ticket, support+<number>-<signature>@domain (a plus-form of the
//     support address the ticket came in through), set as Reply-To so a reply threads back even
//     when its subject was edited;
//   - the return address of each notification, noreply+b<outbox id>-<signature>@domain, its envelope
//     sender, so a bounce names exactly which notification failed (VERP);
//   - the Message-ID of each notification, <g<number>.<nonce>.<signature>@domain>, found again in
//     In-Reply-To and References;
//   - the loop header stamped on everything guichet sends, so its own mail coming back is caught;
//   - the "reply above this line" marker that notifications carry and the quote remover cuts at.
//
// Signatures are truncated HMAC-SHA256 with the installation's secret, in lower-case base32 so
// that they survive MTAs that fold the case of local parts. Ten characters carry 50 bits: guessing
// one takes on the order of 10^15 mails.
package signed

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"strconv"
	"strings"
)

// LoopHeader is the header guichet stamps on every message it sends.
const LoopHeader = "X-Guichet-Loop"

// Marker is the line above which a reply is written; everything from it down is history.
const Marker = "## Répondez au-dessus de cette ligne / Reply above this line ##"

// sigLen is the length of a signature in characters (5 bits each).
const sigLen = 10

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ErrShortKey is returned for a secret too short to sign with.
var ErrShortKey = errors.New("signed: the secret must be at least 16 bytes")

// Signer signs and checks tokens with one secret.
type Signer struct {
	key []byte
}

// New returns a Signer for the secret.
func New(secret []byte) (*Signer, error) {
	if len(secret) < 16 {
		return nil, ErrShortKey
	}
	return &Signer{key: append([]byte(nil), secret...)}, nil
}

// NewSecret returns a fresh random secret, for an installation that has none yet.
func NewSecret() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

func (s *Signer) sign(kind, value string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return b32.EncodeToString(m.Sum(nil))[:sigLen]
}

func (s *Signer) valid(kind, value, sig string) bool {
	return hmac.Equal([]byte(s.sign(kind, value)), []byte(strings.ToLower(sig)))
}

// ReplyAddress is the signed reply address of ticket number, a plus-form of base (the support address).
func (s *Signer) ReplyAddress(base string, number int64) string {
	local, domain, ok := strings.Cut(strings.ToLower(base), "@")
	if !ok {
		return base
	}
	local, _, _ = strings.Cut(local, "+")
	n := strconv.FormatInt(number, 10)
	return local + "+" + n + "-" + s.sign("reply", n) + "@" + domain
}

// ParseReplyAddress returns the ticket number of a signed reply address, and the base address
// it is a plus-form of. A wrong or missing signature gives ok false.
func (s *Signer) ParseReplyAddress(addr string) (number int64, base string, ok bool) {
	local, domain, tag, found := splitPlus(addr)
	if !found {
		return 0, "", false
	}
	n, sig, found := strings.Cut(tag, "-")
	if !found || !s.valid("reply", n, sig) {
		return 0, "", false
	}
	number, err := strconv.ParseInt(n, 10, 64)
	if err != nil || number < 1 {
		return 0, "", false
	}
	return number, local + "@" + domain, true
}

// ReturnAddress is the signed envelope sender of the notification with the given outbox id.
func (s *Signer) ReturnAddress(base string, outboxID int64) string {
	local, domain, ok := strings.Cut(strings.ToLower(base), "@")
	if !ok {
		return base
	}
	local, _, _ = strings.Cut(local, "+")
	id := strconv.FormatInt(outboxID, 10)
	return local + "+b" + id + "-" + s.sign("return", id) + "@" + domain
}

// ParseReturnAddress returns the outbox id of a signed return address.
func (s *Signer) ParseReturnAddress(addr string) (outboxID int64, ok bool) {
	_, _, tag, found := splitPlus(addr)
	if !found || !strings.HasPrefix(tag, "b") {
		return 0, false
	}
	id, sig, found := strings.Cut(tag[1:], "-")
	if !found || !s.valid("return", id, sig) {
		return 0, false
	}
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil && n > 0
}

// splitPlus splits local+tag@domain, lower-cased.
func splitPlus(addr string) (local, domain, tag string, ok bool) {
	addr = strings.ToLower(strings.Trim(strings.TrimSpace(addr), "<>"))
	l, d, found := strings.Cut(addr, "@")
	if !found || d == "" {
		return "", "", "", false
	}
	base, t, found := strings.Cut(l, "+")
	if !found || base == "" || t == "" {
		return "", "", "", false
	}
	return base, d, t, true
}

// MessageID makes the Message-ID (without angle brackets) of a message guichet sends about
// ticket number; nonce makes it unique (an outbox id, say).
func (s *Signer) MessageID(number int64, nonce, domain string) string {
	n := strconv.FormatInt(number, 10)
	return "g" + n + "." + nonce + "." + s.sign("msgid", n+"."+nonce) + "@" + domain
}

// ParseMessageID returns the ticket number of a Message-ID that MessageID made.
func (s *Signer) ParseMessageID(id string) (number int64, ok bool) {
	id = strings.ToLower(strings.Trim(strings.TrimSpace(id), "<>"))
	local, _, found := strings.Cut(id, "@")
	if !found || !strings.HasPrefix(local, "g") {
		return 0, false
	}
	parts := strings.Split(local[1:], ".")
	if len(parts) != 3 || !s.valid("msgid", parts[0]+"."+parts[1], parts[2]) {
		return 0, false
	}
	n, err := strconv.ParseInt(parts[0], 10, 64)
	return n, err == nil && n > 0
}

// LoopValue is the value of LoopHeader for this installation.
func (s *Signer) LoopValue() string { return s.sign("loop", "guichet") }

// IsLoop reports whether a LoopHeader value is ours.
func (s *Signer) IsLoop(value string) bool {
	return s.valid("loop", "guichet", strings.TrimSpace(value))
}
