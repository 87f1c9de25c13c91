package parse

import (
	"sort"
	"strconv"
	"strings"
)

// Content-Type and Content-Disposition values with their parameters,
// parsed leniently: mime.ParseMediaType rejects duplicate parameters,
// unquoted spaces, missing semicolons and most RFC 2231 charsets, all of
// which occur in real mail.

// mediaHeader is a parsed Content-Type or Content-Disposition value.
type mediaHeader struct {
	value  string            // lower-case "type/subtype", or the disposition type
	params map[string]string // lower-case names; values decoded to UTF-8
}

// paramSegment is one piece of an RFC 2231 parameter.
type paramSegment struct {
	section int  // -1 when the name has no section number
	encoded bool // name ended with '*': charset'lang'%XX…
	value   string
}

// isTokenChar reports whether c may appear in a parameter name.
func isTokenChar(c byte) bool {
	return c > ' ' && c < 0x7f && !strings.ContainsRune("()<>@,;:\\\"/[]?=", rune(c))
}

// skipComment returns the index just past the comment that starts at s[i]
// ('('), nested comments and quoted pairs included.
func skipComment(s string, i int) int {
	depth := 0
	for ; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return len(s)
}

// stripComments removes RFC 5322 comments outside quoted strings.
func stripComments(s string) string {
	if !strings.Contains(s, "(") {
		return s
	}
	var b strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '\\' && i+1 < len(s):
			b.WriteByte(c)
			b.WriteByte(s[i+1])
			i++
			continue
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == '(':
			i = skipComment(s, i) - 1
			b.WriteByte(' ')
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// missingSemicolon finds, in an unquoted parameter value, the start of a
// next parameter written without its ';' (" name=value"), or returns -1.
func missingSemicolon(v string) int {
	for i := 1; i < len(v); i++ {
		if v[i-1] != ' ' && v[i-1] != '\t' {
			continue
		}
		j := i
		for j < len(v) && isTokenChar(v[j]) {
			j++
		}
		if j > i && j < len(v) && v[j] == '=' {
			return i
		}
	}
	return -1
}

// parseMediaHeader parses "type/subtype; name=value; …". It never fails:
// what cannot be understood is skipped.
func parseMediaHeader(v, hint string) (mediaHeader, []string) {
	h := mediaHeader{params: map[string]string{}}
	s := strings.TrimSpace(v)
	i := 0
	for i < len(s) && s[i] != ';' && s[i] != ' ' && s[i] != '\t' && s[i] != '(' && s[i] != ',' {
		i++
	}
	h.value = strings.ToLower(strings.Trim(s[:i], "\"'"))
	var warns []string
	segments := map[string][]paramSegment{}
	for i < len(s) {
		c := s[i]
		if c == ';' || c == ' ' || c == '\t' || c == ',' || c == '\r' || c == '\n' {
			i++
			continue
		}
		if c == '(' {
			i = skipComment(s, i)
			continue
		}
		// Name.
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ';' {
			i++
		}
		name := strings.ToLower(strings.TrimSpace(s[start:i]))
		if i >= len(s) || s[i] != '=' {
			continue // a name without value: ignored
		}
		i++ // '='
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		var val string
		if i < len(s) && s[i] == '"' {
			var b strings.Builder
			i++
			qstart := i
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				if c == '"' {
					closed = true
					i++
					break
				}
				b.WriteByte(c)
				i++
			}
			val = b.String()
			if !closed {
				// An unterminated quote: keep up to a ';' if there is one.
				if k := strings.IndexByte(s[qstart:], ';'); k >= 0 {
					val = s[qstart : qstart+k]
					i = qstart + k
				}
			}
		} else {
			start := i
			for i < len(s) && s[i] != ';' {
				if s[i] == '(' {
					break
				}
				i++
			}
			raw := s[start:i]
			if k := missingSemicolon(raw); k >= 0 {
				raw = raw[:k]
				i = start + k
			}
			val = strings.Trim(strings.TrimSpace(raw), "'\"")
			if i < len(s) && s[i] == '(' {
				i = skipComment(s, i)
			}
		}
		if name == "" || !isParamName(name) {
			continue
		}
		base, seg := splitParamName(name)
		seg.value = val
		if seg.section >= 0 || seg.encoded {
			if len(segments[base]) < 1000 {
				segments[base] = append(segments[base], seg)
			}
			continue
		}
		if _, dup := h.params[base]; dup {
			continue // the first one wins
		}
		if strings.Contains(val, "=?") || has8bit([]byte(val)) {
			d, w := decodeHeaderText(val, hint)
			warns = append(warns, w...)
			val = d
		}
		h.params[base] = val
	}
	for base, segs := range segments {
		v, w := joinRFC2231(segs, hint)
		if w != "" {
			warns = append(warns, "parameter "+base+": "+w)
		}
		if v != "" || h.params[base] == "" {
			h.params[base] = v
		}
	}
	return h, warns
}

// isParamName reports whether name is made of token characters and '*'.
func isParamName(name string) bool {
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) && name[i] != '*' {
			return false
		}
	}
	return true
}

// splitParamName splits an RFC 2231 parameter name: "filename*1*" →
// "filename", section 1, encoded.
func splitParamName(name string) (string, paramSegment) {
	seg := paramSegment{section: -1}
	if strings.HasSuffix(name, "*") {
		seg.encoded = true
		name = name[:len(name)-1]
	}
	if i := strings.LastIndexByte(name, '*'); i > 0 {
		if n, err := strconv.Atoi(name[i+1:]); err == nil && n >= 0 && n < 10000 {
			seg.section = n
			name = name[:i]
		}
	}
	return name, seg
}

// joinRFC2231 assembles the sections of one RFC 2231 parameter and decodes
// them from the charset named by the first one.
func joinRFC2231(segs []paramSegment, hint string) (string, string) {
	sort.SliceStable(segs, func(a, b int) bool { return segs[a].section < segs[b].section })
	var raw []byte
	charset := ""
	for k, s := range segs {
		v := s.value
		if s.encoded {
			if k == 0 {
				// charset'language'value; tolerate a missing language part.
				if a := strings.IndexByte(v, '\''); a >= 0 {
					rest := v[a+1:]
					if b := strings.IndexByte(rest, '\''); b >= 0 {
						charset = v[:a]
						v = rest[b+1:]
					} else if a < 40 && !strings.Contains(v[:a], "%") {
						charset = v[:a]
						v = rest
					}
				}
			}
			raw = append(raw, percentDecode(v)...)
		} else {
			raw = append(raw, v...)
		}
	}
	if strings.Contains(string(raw), "=?") && charset == "" {
		s, w := decodeHeaderText(string(raw), hint)
		return s, strings.Join(w, "; ")
	}
	return decodeCharset(raw, charset, hint)
}

// percentDecode decodes %XX escapes; a '%' without two hex digits stays.
func percentDecode(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && unhex(s[i+1]) >= 0 && unhex(s[i+2]) >= 0 {
			out = append(out, byte(unhex(s[i+1])<<4|unhex(s[i+2])))
			i += 2
			continue
		}
		out = append(out, s[i])
	}
	return out
}
