package bounce

import (
	"regexp"
	"strings"
)

// Non-standard bounces (qmail, Exim, Postfix without DSN, Exchange, Domino, Yahoo, Gmail,
// Japanese carriers …) are read here: the failed recipients and their codes are found in the
// human-readable text by the way MTAs lay it out.

// addrRe matches an e-mail address (ASCII, with a dotted domain).
var addrRe = regexp.MustCompile(`[A-Za-z0-9!#$%&*+/=?^_{|}~-][A-Za-z0-9!#$%&'*+/=?^_{|}~.-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+`)

var (
	// cutMarkerRe: the line after which a bounce quotes the returned message (checked on the line
	// stripped of surrounding dashes and punctuation, lower case).
	cutMarkerRe = regexp.MustCompile(`^(?:` + strings.Join([]string{
		`(?:the |an? )?(?:original|returned|unsent|undelivered|rejected|bounced) (?:message|mail|e-?mail)(?: (?:headers?|text|body))?(?: (?:follows?|is (?:attached|below|included|following)|below|attached|as follows))?`,
		`(?:the )?headers? of the original message(?: is| are)? (?:following|below|attached|as follows)`,
		`(?:(?:this|here) is |below (?:this line )?is |included is |attached is |follows )?(?:a |the )?copy of (?:the|your) (?:original )?message.*`,
		`(?:the )?(?:original )?message headers?(?: follows?| below)?`,
		`message text follows`,
		`(?:les )?en-têtes? (?:du|de) message d'origine`, `(?:le )?message (?:d'origine|original)(?: suit)?`,
		`(?:kopfzeilen der )?ursprüngliche(?:n)? nachricht(?: folgt)?`, `original-nachricht`,
		`(?:encabezados del )?mensaje original`,
	}, "|") + `)$`)

	// triggerRe: the sentence that introduces the list of failed recipients.
	triggerRe = regexp.MustCompile(`(?i)following (?:recipients?|address(?:es)?|users?|destinations?)|recipients?(?:\(s\))?\s*:|(?:was|were|could|has|have) not (?:be(?:en)? )?(?:delivered|reach)|did not reach|not delivered to|undeliverable|delivery (?:has )?failed|failed:|failed permanently|delivery (?:errors|problems)|fatal errors|permanent (?:delivery )?errors|unable to deliver|affected:|could(?: not|n't) be delivered|destinataires? suivants?|n'a pas pu être (?:remis|distribué)|folgenden? empfänger|nicht zugestellt|destinatarios? siguientes?|no se (?:pudo|ha podido) entregar|以下の|宛先|送信に失敗|配信でき`)

	// failureWordsRe: a line that says why an address failed.
	failureWordsRe = regexp.MustCompile(`(?i)user unknown|unknown user|no such (?:user|recipient|mailbox|address)|unknown (?:recipient|address|mailbox|e-?mail)|invalid (?:recipient|address|user|mailbox)|not (?:a )?member|not listed|does ?n[o']t exist|not found|mailbox (?:is )?(?:full|unavailable|disabled)|mailfolder is full|over ?quota|quota|exceed|limit|too (?:large|big|many)|rejected|refused|denied|blocked|disabled|not accepted|not delivered|undeliverable|could not be delivered|failed|does ?n[o']t have|restricted|no valid recipients`)

	rcptPrefixRe    = regexp.MustCompile(`(?i)rcpt to\s*:?\s*<?\s*$`)
	senderPrefixRe  = regexp.MustCompile(`(?i)(?:\bfrom|\bsender|envelope-from|envelope-sender|reply-to|return-path|mail from)(?:\s*[:=]?\s*[<"(]?|\s*:\s*[^<>:]{0,60}<)\s*$`)
	contactPrefixRe = regexp.MustCompile(`(?i)(?:send (?:an? )?(?:e-?)?mail to|contact(?: us)?(?: at)?|write to|reply to|e-?mail us at)\s*:?\s*[<"(]?\s*$`)
	phrasePrefixRe  = regexp.MustCompile(`(?i)(?:\bto|\bfor|recipients?(?:\(s\))?|address(?:es)?|\buser|errors?|mailbox|account|\blist|destinataire|empfänger|destinatario)\s*:?\s*["<(\[]?\s*$`)
	expandedRe      = regexp.MustCompile(`(?i)expanded from\s*<?\s*$`)
	instructionRe   = regexp.MustCompile(`(?i)(?:to the address|send (?:an? )?(?:e-?)?mail to|contact(?: us)?(?: at)?|write to)\s*:?$`)
	bulletRe        = regexp.MustCompile(`^(?:[*•·>-]|\d{1,2}[.)])\s+`)
	reasonLeadRe    = regexp.MustCompile(`(?i)(?:response was|returned was|error message below|because(?: of)?|following reason|reason for the problem|\breason|server message|technical details[^:]*|diagnostic (?:information|code)[^:]*|remote host said|error message)\s*:?\s*$`)

	permanentTextRe = regexp.MustCompile(`(?i)permanent|fatal|given up|gave up|will not (?:continue|retry|be retried|try)|no further (?:delivery )?attempts|not be retried|will not be redelivered`)
	temporaryTextRe = regexp.MustCompile(`(?i)will (?:keep|continue) (?:on )?trying|will (?:be )?retr(?:y|ied)|still trying|delayed|deferred|temporar(?:y|ily)|try again later|not yet been delivered|still undelivered|could not send message for past`)
)

// candidate is one mention of a possibly failed recipient in a notification text.
type candidate struct {
	addr     string
	strength int // 3: laid out as a failed recipient; 2: named by a phrase; 1: merely present
	diag     string
	codes    codes
}

// notice is the part of a notification text before the returned message.
type notice struct {
	lines    []string
	returned string // what follows the cut: the quoted original, often its headers
}

// Bounds of the text read by heuristics: notices are short, and regular expressions over
// megabytes of one line are slow.
const (
	maxNoticeBytes = 256 << 10
	maxNoticeLines = 2000
	maxLineBytes   = 2000
)

// splitNotice cuts a notification text where the returned message begins: at a marker line
// ("--- Below this line is a copy of the message.") or at a quoted header block.
func splitNotice(text string) notice {
	if len(text) > maxNoticeBytes {
		text = text[:maxNoticeBytes]
	}
	lines := strings.SplitN(text, "\n", maxNoticeLines+1)
	if len(lines) > maxNoticeLines {
		lines = lines[:maxNoticeLines]
	}
	for i, l := range lines {
		if len(l) > maxLineBytes {
			lines[i] = l[:maxLineBytes]
		}
	}
	for i, l := range lines {
		if isCutMarker(l) {
			return notice{lines: lines[:i], returned: strings.Join(lines[i+1:], "\n")}
		}
		if headerBlockStarts(lines, i) {
			return notice{lines: lines[:i], returned: strings.Join(lines[i:], "\n")}
		}
	}
	return notice{lines: lines}
}

func isCutMarker(l string) bool {
	s := strings.Trim(strings.TrimSpace(l), "-=*_#.:~ \t")
	if len(s) < 8 || len(s) > 100 {
		return false
	}
	return cutMarkerRe.MatchString(strings.ToLower(s))
}

// headerBlockStarts reports whether a quoted header block (not indented) starts at line i.
func headerBlockStarts(lines []string, i int) bool {
	name, ok := headerName(lines[i])
	if !ok || i+1 >= len(lines) {
		return false
	}
	next := lines[i+1]
	nextName, nextOK := headerName(next)
	continued := len(next) > 0 && (next[0] == ' ' || next[0] == '\t') && strings.TrimSpace(next) != ""
	if strongHeaderName(name) {
		return nextOK || continued
	}
	if !weakHeaderName(name) || !nextOK || !(weakHeaderName(nextName) || strongHeaderName(nextName)) {
		return false
	}
	// weak names: three header lines at least, one of them From or To ("Subject:" and "Date:"
	// alone are a notice summing up the message)
	n, fromTo := 0, false
	for j := i; j < len(lines) && j < i+8; j++ {
		nm, ok := headerName(lines[j])
		if !ok {
			if len(lines[j]) > 0 && (lines[j][0] == ' ' || lines[j][0] == '\t') {
				continue
			}
			break
		}
		n++
		fromTo = fromTo || nm == "from" || nm == "to"
	}
	return n >= 3 && fromTo
}

// strongHeaderName: a field that starts a quoted header block on its own.
func strongHeaderName(name string) bool {
	switch name {
	case "received", "return-path", "message-id", "dkim-signature", "x-received", "arc-seal",
		"arc-message-signature", "arc-authentication-results", "delivered-to", "mime-version", "content-type",
		"authentication-results", "received-spf", "x-google-dkim-signature", "x-gm-message-state",
		"x-google-smtp-source", "x-originating-ip", "domainkey-signature", "x-apparently-to", "x-envelope-from",
		"x-envelope-to", "x-mailer", "x-guichet-loop":
		return true
	}
	return false
}

// weakHeaderName: a field that starts a quoted header block with others ("Subject:" alone may
// be a line of the notice).
func weakHeaderName(name string) bool {
	switch name {
	case "from", "to", "cc", "subject", "date", "sender", "reply-to", "in-reply-to", "references", "message-id":
		return true
	}
	return false
}

// headerName returns the lower-case field name of a header line that is not indented.
func headerName(l string) (string, bool) {
	if l == "" || l[0] == ' ' || l[0] == '\t' {
		return "", false
	}
	name, _, ok := headerLine([]byte(l))
	return strings.ToLower(name), ok
}

// findCandidates reads the addresses mentioned in a notice, with how strongly each looks like a
// failed recipient, its diagnostic and codes.
func findCandidates(lines []string, exclude map[string]bool) []candidate {
	var out []candidate
	lastTrigger := -100
	for i, line := range lines {
		if triggerRe.MatchString(line) {
			lastTrigger = i
		}
		stripped := bulletRe.ReplaceAllString(strings.TrimSpace(line), "")
		lower := strings.ToLower(line)
		if strings.Contains(lower, "message-id") || strings.Contains(lower, "message id") {
			continue
		}
		matches := addrRe.FindAllStringIndex(line, 8)
		lineStart := len(out)
		for _, mt := range matches {
			start, end := mt[0], mt[1]
			addr := strings.ToLower(line[start:end])
			if len(addr) > 254 || inURL(line, start) {
				continue
			}
			prefix := line[max(0, start-80):start]
			if expandedRe.MatchString(prefix) && len(out) > lineStart {
				// "<alias@host> (expanded from <user@example.org>)": the address the sender used
				out[len(out)-1].addr = addr
				continue
			}
			if exclude[addr] || senderPrefixRe.MatchString(prefix) || contactPrefixRe.MatchString(prefix) {
				continue
			}
			c := candidate{addr: addr, strength: 1}
			alone := isAddressAlone(stripped, addr)
			leads := strings.HasPrefix(strings.ToLower(strings.TrimLeft(stripped, `<"'(`)), addr)
			switch {
			case rcptPrefixRe.MatchString(prefix):
				c.strength = 3
			case alone:
				c.strength = 3
				if instructionRe.MatchString(previousLine(lines, i)) {
					c.strength = 1
				}
			case leads && colonFollows(line[end:]):
				c.strength = 3
			case leads && (i-lastTrigger <= 6 || failureWordsRe.MatchString(line)):
				c.strength = 3
			case phrasePrefixRe.MatchString(prefix), failureWordsRe.MatchString(line), i-lastTrigger <= 4:
				c.strength = 2
			}
			c.diag = blockAfter(lines, i, addr, alone)
			c.codes = scanCodes(c.diag)
			out = append(out, c)
		}
	}
	return out
}

// isAddressAlone: the line is the address, maybe in <>, quotes, or followed by a colon.
func isAddressAlone(stripped, addr string) bool {
	s := strings.ToLower(strings.TrimRight(stripped, ":;,. \t"))
	s = strings.Trim(s, `<>"'()[] `)
	return s == addr
}

func colonFollows(rest string) bool {
	rest = strings.TrimLeft(rest, `>"') `)
	return strings.HasPrefix(rest, ":")
}

func inURL(line string, start int) bool {
	i := strings.LastIndexAny(line[:start], " \t<>\"'(")
	tok := line[i+1 : start]
	return strings.Contains(tok, "://")
}

func previousLine(lines []string, i int) string {
	for j := i - 1; j >= 0 && j >= i-3; j-- {
		if t := strings.TrimSpace(lines[j]); t != "" {
			return t
		}
	}
	return ""
}

// blockAfter is the diagnostic that goes with a recipient line: the line itself (unless it is
// only the address) and the lines below it up to a blank line or the next recipient (a line
// that starts with another address and is not indented under this one).
func blockAfter(lines []string, i int, addr string, skipFirst bool) string {
	var parts []string
	if !skipFirst {
		parts = append(parts, strings.TrimSpace(lines[i]))
	}
	indent := indentOf(lines[i])
	for j := i + 1; j < len(lines) && j <= i+10; j++ {
		t := strings.TrimSpace(lines[j])
		if t == "" {
			break
		}
		s := bulletRe.ReplaceAllString(t, "")
		if loc := addrRe.FindStringIndex(s); loc != nil && loc[0] <= 1 &&
			indentOf(lines[j]) <= indent && !strings.EqualFold(s[loc[0]:loc[1]], addr) {
			break // the next recipient
		}
		parts = append(parts, t)
	}
	return strings.Join(parts, " ")
}

func indentOf(l string) int {
	return len(l) - len(strings.TrimLeft(l, " \t"))
}

// pickCandidates keeps the strongest mentions, one per address, merging what the other mentions
// of the same address say. Mentions that are all weak (strength 1) are returned as they are:
// the caller decides whether to trust them.
func pickCandidates(cands []candidate) []candidate {
	best := 0
	for _, c := range cands {
		best = max(best, c.strength)
	}
	var out []candidate
	index := map[string]int{}
	for _, c := range cands {
		if i, ok := index[c.addr]; ok {
			merge(&out[i], c)
			continue
		}
		if c.strength < best {
			continue
		}
		index[c.addr] = len(out)
		out = append(out, c)
	}
	// mentions weaker than the best still lend their codes to a kept address
	for _, c := range cands {
		if i, ok := index[c.addr]; ok {
			merge(&out[i], c)
		}
	}
	return out
}

func merge(dst *candidate, c candidate) {
	if dst.codes.empty() && !c.codes.empty() {
		dst.codes = c.codes
		if c.diag != "" {
			dst.diag = c.diag
		}
	}
	if dst.diag == "" {
		dst.diag = c.diag
	}
}

// globalDiagnostic finds the reason a notice gives when it is not next to an address: the lines
// after "The response was:", "because:" …, else the first line with a code or failure wording.
func globalDiagnostic(lines []string) (string, codes) {
	for i, l := range lines {
		if !reasonLeadRe.MatchString(strings.TrimSpace(l)) {
			continue
		}
		var parts []string
		for j := i + 1; j < len(lines) && len(parts) < 4; j++ {
			t := strings.TrimSpace(lines[j])
			if t == "" {
				if len(parts) > 0 {
					break
				}
				continue
			}
			parts = append(parts, t)
		}
		if d := strings.Join(parts, " "); d != "" {
			return d, scanCodes(d)
		}
	}
	for _, l := range lines {
		if c := scanCodes(l); !c.empty() {
			return strings.TrimSpace(l), c
		}
	}
	fallback := ""
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if !failureWordsRe.MatchString(t) || addrRe.FindString(t) != "" && isAddressAlone(t, strings.ToLower(addrRe.FindString(t))) {
			continue
		}
		if !triggerRe.MatchString(t) {
			return t, codes{}
		}
		if fallback == "" {
			fallback = t
		}
	}
	return fallback, codes{}
}
