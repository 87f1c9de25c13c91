package parse

import (
	"strings"
	"unicode/utf8"
)

// Address lists (From, To, Cc, Reply-To …), parsed leniently. net/mail
// rejects a whole list for one bad address; here every address that can be
// recognised is kept: display names with unquoted commas or dots, encoded
// words inside quotes, missing angle brackets, groups, comments used as
// names, ';' as a separator.

// splitAddressList splits a raw address list at the ',' and ';' that are
// outside quotes, comments, angle brackets and encoded-words, dropping
// group names ("undisclosed-recipients:").
func splitAddressList(v string) []string {
	var out []string
	start := 0
	inQuote, inAngle := false, false
	seg := func(end int) {
		if s := strings.TrimSpace(v[start:end]); s != "" {
			out = append(out, s)
		}
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case inQuote:
			if c == '\\' {
				i++
			} else if c == '"' {
				inQuote = false
			}
		case c == '"':
			inQuote = true
		case c == '(':
			i = skipComment(v, i) - 1
		case c == '=' && i+1 < len(v) && v[i+1] == '?':
			if _, end, ok := parseEncodedWord(v, i); ok {
				i = end - 1
			}
		case c == '<':
			inAngle = true
		case c == '>':
			inAngle = false
		case inAngle:
		case c == ',' || c == ';':
			seg(i)
			start = i + 1
		case c == ':':
			// A group name: "name:" before any '@' or '<' of this segment.
			if !strings.ContainsAny(v[start:i], "@<") {
				start = i + 1
			}
		}
	}
	seg(len(v))
	return out
}

// parseAddressList parses an address list header value.
func parseAddressList(v, hint string) ([]Address, []string) {
	segs := splitAddressList(v)
	// "Doe, John <john@example.com>": a piece with neither '@' nor '<',
	// followed by one with a '<', is the first half of a display name.
	for i := 0; i+1 < len(segs); i++ {
		if !strings.ContainsAny(segs[i], "@<\"") && strings.Contains(segs[i+1], "<") &&
			!strings.HasPrefix(strings.TrimSpace(segs[i+1]), "<") {
			segs[i+1] = segs[i] + ", " + segs[i+1]
			segs = append(segs[:i], segs[i+1:]...)
			i--
		}
	}
	// "a@example.com b@example.com": bare addresses separated by spaces.
	for i := 0; i < len(segs); i++ {
		if strings.ContainsAny(segs[i], "<\"(") {
			continue
		}
		f := strings.Fields(segs[i])
		if len(f) < 2 {
			continue
		}
		all := true
		for _, w := range f {
			if !strings.Contains(w, "@") {
				all = false
				break
			}
		}
		if all {
			segs = append(segs[:i], append(f, segs[i+1:]...)...)
			i += len(f) - 1
		}
	}
	var list []Address
	var warns []string
	for _, s := range segs {
		a, w := parseMailbox(s, hint)
		warns = append(warns, w...)
		if a.Address == "" && a.Name == "" {
			continue
		}
		list = append(list, a)
		if len(list) >= 1000 {
			break
		}
	}
	return list, warns
}

// parseMailbox parses one "Name <addr>", "addr (Name)" or "addr".
func parseMailbox(s, hint string) (Address, []string) {
	var a Address
	var name string
	// Find a '<' outside quotes and comments.
	lt := -1
	inQuote := false
	for i := 0; i < len(s) && lt < 0; i++ {
		switch c := s[i]; {
		case inQuote:
			if c == '\\' {
				i++
			} else if c == '"' {
				inQuote = false
			}
		case c == '"':
			inQuote = true
		case c == '(':
			i = skipComment(s, i) - 1
		case c == '<':
			lt = i
		}
	}
	if lt >= 0 {
		rest := s[lt+1:]
		gt := strings.IndexByte(rest, '>')
		addr := rest
		after := ""
		if gt >= 0 {
			addr, after = rest[:gt], rest[gt+1:]
		}
		a.Address = cleanAddrSpec(addr)
		name = s[:lt]
		if strings.TrimSpace(stripComments(name)) == "" {
			name = commentText(name + after)
		}
	} else {
		plain := strings.TrimSpace(stripComments(s))
		comment := commentText(s)
		switch {
		case strings.Contains(plain, "@"):
			// "John Doe john@example.com": the address is the last word.
			fields := strings.Fields(plain)
			last := fields[len(fields)-1]
			if strings.Contains(last, "@") && !strings.Contains(last, "\"") && len(fields) > 1 {
				a.Address = cleanAddrSpec(last)
				name = strings.Join(fields[:len(fields)-1], " ")
			} else {
				a.Address = cleanAddrSpec(plain)
			}
			if name == "" {
				name = comment
			}
		default:
			// No address at all: a bare name ("From: Whomever").
			name = plain
			if name == "" {
				name = comment
			}
		}
	}
	n, warns := decodeDisplayName(name, hint)
	a.Name = n
	return a, warns
}

// commentText returns the text of the first comment in s, "" when none.
func commentText(s string) string {
	i := strings.IndexByte(s, '(')
	if i < 0 {
		return ""
	}
	end := skipComment(s, i)
	c := s[i+1 : end]
	c = strings.TrimSuffix(c, ")")
	return strings.TrimSpace(c)
}

// cleanAddrSpec normalises an addr-spec: no white space, comments, route,
// "mailto:" or stray quotes around the whole thing; lower-cased; valid UTF-8.
func cleanAddrSpec(s string) string {
	s = stripComments(s)
	s = strings.Join(strings.Fields(s), "")
	if i := strings.IndexByte(s, '<'); i > 0 && strings.Contains(s[:i], "@") {
		s = s[:i] // "a@b<mailto:a@b>" (Outlook quoting a link)
	}
	s = strings.Trim(s, "<>'\",;")
	if len(s) > 7 && strings.EqualFold(s[:7], "mailto:") {
		s = s[7:]
	}
	if i := strings.IndexByte(s, '?'); i >= 0 && strings.Contains(s[:i], "@") {
		s = s[:i] // mailto:a@b?subject=…
	}
	if strings.HasPrefix(s, "@") {
		if i := strings.IndexByte(s, ':'); i >= 0 {
			s = s[i+1:] // obsolete route "@a,@b:user@c"
		}
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ToLower(s)
}

// decodeDisplayName unquotes a phrase and decodes its encoded-words (also
// those inside quotes, which is wrong but common).
func decodeDisplayName(s, hint string) (string, []string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	var b strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == '(':
			end := skipComment(s, i)
			b.WriteString(s[i:end])
			i = end - 1
		default:
			b.WriteByte(c)
		}
	}
	d, warns := decodeHeaderText(b.String(), hint)
	d = collapseSpaces(cleanHeaderText(d))
	// Names wrapped in single quotes ('John Doe') by some mailers.
	if len(d) >= 2 && d[0] == '\'' && d[len(d)-1] == '\'' {
		d = strings.TrimSpace(d[1 : len(d)-1])
	}
	return d, warns
}
