package ticket

import (
	"regexp"
	"strings"
)

// approveLine and refuseLine are the first lines that answer a proposed solution by e-mail,
// in English and French: "approve", "J'approuve.", "refuse: it still crashes", "Refuser : toujours en panne".
var (
	approveLine = regexp.MustCompile(`(?i)^\s*(?:i\s+approve|approved?|j['’]\s*approuve|approuv(?:er|e|é)|je\s+valide|valider?)\s*[.!]*\s*$`)
	refuseLine  = regexp.MustCompile(`(?i)^\s*(?:i\s+refuse|refused?|je\s+refuse|refus(?:er|é)?)\s*[:：\-–—]\s*(.*)$`)
)

// ParseAnswer reads a requester's answer to a proposed solution from the first non-empty line of
// what they wrote (quotes already removed): ActApprove with the rest as an optional comment, or
// ActRefuse with the reason (the rest of the line and what follows; a refusal without a reason is
// not an answer). ok is false for anything else.
func ParseAnswer(text string) (kind ActionKind, rest string, ok bool) {
	text = strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n"))
	first, after, _ := strings.Cut(text, "\n")
	after = strings.TrimSpace(after)
	if approveLine.MatchString(first) {
		return ActApprove, after, true
	}
	if m := refuseLine.FindStringSubmatch(first); m != nil {
		reason := strings.TrimSpace(strings.TrimSpace(m[1]) + "\n" + after)
		if reason != "" {
			return ActRefuse, reason, true
		}
	}
	return "", "", false
}
