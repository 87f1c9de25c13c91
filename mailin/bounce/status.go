package bounce

import (
	"regexp"
	"strconv"
	"strings"
)

// Status codes: RFC 3463 enhanced codes (class.subject.detail) and RFC 5321 reply codes.

var (
	enhancedRe = regexp.MustCompile(`([245])\.(\d{1,3})\.(\d{1,3})`)
	replyRe    = regexp.MustCompile(`[245][0-5]\d`)
)

// codes is what a piece of text says about a failure.
type codes struct {
	reply  string // "550"
	status string // "5.1.1"
}

func (c codes) empty() bool { return c.reply == "" && c.status == "" }

// findEnhanced returns the enhanced status codes in s, normalised, in order. A code must stand
// alone: not part of a version number, an IP address or a word.
func findEnhanced(s string) []string {
	var out []string
	for _, m := range enhancedRe.FindAllStringSubmatchIndex(s, 16) {
		if !enhancedBoundary(s, m[0], m[1]) {
			continue
		}
		subject, _ := strconv.Atoi(s[m[4]:m[5]])
		if subject > 7 {
			continue
		}
		out = append(out, normStatus(s[m[0]:m[1]]))
	}
	return out
}

func enhancedBoundary(s string, start, end int) bool {
	if start > 0 {
		c := s[start-1]
		if isWordByte(c) || c == '.' {
			return false
		}
	}
	if end < len(s) {
		c := s[end]
		if isWordByte(c) {
			return false
		}
		if c == '.' && end+1 < len(s) && isDigit(s[end+1]) {
			return false
		}
	}
	return true
}

// replyMatch is a reply code found in text and where it ends.
type replyMatch struct {
	code string
	end  int
}

// findReplies returns the SMTP reply codes in s: three digits set off the way MTAs quote them
// ("550 ", "550-", "said: 550", "#550", "[554 ", "ERROR_CODE :550,").
func findReplies(s string) []replyMatch {
	var out []replyMatch
	for _, m := range replyRe.FindAllStringIndex(s, 32) {
		start, end := m[0], m[1]
		if start > 0 && !strings.ContainsRune(" \t;:#[(<>'\"=", rune(s[start-1])) {
			continue
		}
		if start > 1 && s[start-1] == ':' && isDigit(s[start-2]) {
			continue // a time, 10:550
		}
		if end < len(s) {
			c := s[end]
			switch {
			case strings.ContainsRune(" \t:])'\",;", rune(c)):
			case c == '-':
				// "550-5.1.1" or "550-Mailbox", not a phone number
				if end+1 < len(s) && isDigit(s[end+1]) && !(end+2 < len(s) && s[end+2] == '.') {
					continue
				}
			case c == '.':
				if end+1 < len(s) && s[end+1] != ' ' && s[end+1] != '\t' {
					continue
				}
			default:
				continue
			}
		}
		out = append(out, replyMatch{code: s[start:end], end: end})
	}
	return out
}

// scanCodes reads the codes of a diagnostic: a reply code directly followed by an enhanced code
// ("550 5.1.1", "550-'5.7.1") is the most reliable reading, then the first of each.
func scanCodes(s string) codes {
	if len(s) > 64<<10 {
		s = s[:64<<10]
	}
	replies := findReplies(s)
	for _, r := range replies {
		rest := s[r.end:]
		i := 0
		for i < len(rest) && i < 4 && strings.ContainsRune(" -'\"#(", rune(rest[i])) {
			i++
		}
		if i == 0 {
			continue
		}
		if m := enhancedRe.FindStringSubmatchIndex(rest[i:]); m != nil && m[0] == 0 && enhancedBoundary(rest, i, i+m[1]) {
			st := normStatus(rest[i : i+m[1]])
			if st[0] == r.code[0] {
				return codes{reply: r.code, status: st}
			}
		}
	}
	var c codes
	if st := findEnhanced(s); len(st) > 0 {
		c.status = st[0]
	}
	if len(replies) > 0 {
		c.reply = replies[0].code
	}
	if c.status != "" && c.reply != "" && c.status[0] != c.reply[0] {
		// "550 ... 4.4.1" reads as two different errors; trust the enhanced code's class
		for _, r := range replies {
			if r.code[0] == c.status[0] {
				c.reply = r.code
				return c
			}
		}
		c.reply = ""
	}
	return c
}

// normStatus writes an enhanced code without leading zeros: "5.01.001" is "5.1.1".
func normStatus(s string) string {
	parts := strings.SplitN(strings.TrimSpace(s), ".", 3)
	if len(parts) != 3 {
		return ""
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 999 {
			return ""
		}
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ".")
}

// statusField reads a DSN Status field ("5.1.1 (user unknown)").
func statusField(v string) string {
	if st := findEnhanced(v); len(st) > 0 {
		return st[0]
	}
	return ""
}

// refine replaces a generic X.0.0 status by the more precise code the diagnostic gives in the
// same class, as MTAs that only know the class write X.0.0 (RFC 3463 section 3.1).
func refine(status string, diag codes) string {
	if diag.status == "" || status == "" {
		if status == "" {
			return diag.status
		}
		return status
	}
	if strings.HasSuffix(status, ".0.0") && diag.status[0] == status[0] && diag.status != status {
		return diag.status
	}
	return status
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isWordByte(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}
