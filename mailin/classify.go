package mailin

import (
	"regexp"
	"strings"

	"github.com/emersion/go-msgauth/authres"
)

// autoReplySubject matches the subjects of out-of-office and other automatic replies,
// in English and French first, then the languages of the clients seen in the wild.
var autoReplySubject = regexp.MustCompile(`(?i)^\s*(` +
	`automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|automated response|out of (the )?office|ooo\b|on vacation|vacation reply|away from (the )?office|` +
	`réponse automatique|reponse automatique|absence|absent\b|message d'absence|je suis absente?|` +
	`automatische antwort|abwesenheitsnotiz|abwesend|respuesta automática|fuera de la oficina|risposta automatica|fuori ufficio|` +
	`resposta automática|automatisch antwoord|afwezig|autosvar|automaattinen vastaus|odpowiedź automatyczna|автоответ|自动回复|自動返信` +
	`)`)

// classifyHeaders returns the kind the headers alone say, or "" for an ordinary message.
// Order: loop, autoreply, spam, list (bounces are recognised from the structure, before).
func (p *Pipeline) classifyHeaders(h headers, from string, subject string) (kind, why string) {
	for _, v := range h.Values("X-Guichet-Loop") {
		if p.signer != nil && p.signer.IsLoop(v) {
			return KindLoop, "it carries our own loop header"
		}
	}
	if base, ok := p.ours(from); ok && base == p.cfg.NoreplyAddress {
		return KindLoop, "it comes from our own noreply address"
	}
	if v := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); v != "" && v != "no" {
		return KindAutoReply, "Auto-Submitted: " + v
	}
	for _, name := range []string{"X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Response-Suppress"} {
		if v := strings.TrimSpace(h.Get(name)); v != "" && !strings.EqualFold(v, "no") && !strings.EqualFold(v, "none") {
			return KindAutoReply, name + ": " + v
		}
	}
	switch v := strings.ToLower(strings.TrimSpace(h.Get("Precedence"))); v {
	case "bulk", "junk", "auto_reply":
		return KindAutoReply, "Precedence: " + v
	}
	if autoReplySubject.MatchString(stripReplyPrefixes(subject)) {
		return KindAutoReply, "its subject is an automatic reply's"
	}
	if strings.EqualFold(strings.TrimSpace(h.Get("X-Spam-Flag")), "yes") {
		return KindSpam, "X-Spam-Flag: YES"
	}
	if v := strings.ToLower(strings.TrimSpace(h.Get("X-Spam-Status"))); strings.HasPrefix(v, "yes") {
		return KindSpam, "X-Spam-Status: Yes"
	}
	if id, ok := p.dmarcFail(h); ok {
		return KindSpam, "DMARC fail reported by " + id
	}
	if h.Get("List-Id") != "" {
		return KindList, "List-Id: " + h.Get("List-Id")
	}
	return "", ""
}

// dmarcFail reports a DMARC failure in an Authentication-Results header from a trusted server.
func (p *Pipeline) dmarcFail(h headers) (string, bool) {
	for _, v := range h.Values("Authentication-Results") {
		id, results, err := authres.Parse(v)
		if err != nil || !p.trusted(id) {
			continue
		}
		for _, r := range results {
			if d, ok := r.(*authres.DMARCResult); ok && d.Value == authres.ResultFail {
				return id, true
			}
		}
	}
	return "", false
}

func (p *Pipeline) trusted(authservID string) bool {
	for _, t := range p.cfg.TrustedAuthServ {
		if strings.EqualFold(strings.TrimSpace(t), strings.TrimSpace(authservID)) {
			return true
		}
	}
	return false
}

// replyPrefix matches one reply or forward prefix: Re:, RE :, AW:, WG:, TR:, Fwd:, VS:, SV:, Réf. …
var replyPrefix = regexp.MustCompile(`(?i)^\s*(re|r|aw|antw|antwort|wg|tr|fw|fwd|vs|sv|vl|réf|ref|rif|odp|pd|rv|enc|doorst|antw|ynt|yan|res|回复|转发|答复|返信|転送)\s*(\[\d+\]|\(\d+\))?\s*[:：.]\s*`)

// stripReplyPrefixes removes every reply and forward prefix at the start of a subject.
func stripReplyPrefixes(subject string) string {
	for {
		loc := replyPrefix.FindStringIndex(subject)
		if loc == nil || loc[1] == 0 {
			return strings.TrimSpace(subject)
		}
		subject = subject[loc[1]:]
	}
}

// forwardPrefix matches a forward prefix only.
var forwardPrefix = regexp.MustCompile(`(?i)^\s*((re|aw|r)\s*:\s*)*(fw|fwd|tr|wg|vs|vl|rv|enc|doorst|转发|転送)\s*[:：]`)
