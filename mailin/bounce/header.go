package bounce

import (
	"bytes"
	"fmt"
	"mime"
	"net/textproto"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// field is one header field: the name as written and the unfolded value.
type field struct {
	name  string
	value string
}

// header is a header block in its original order. Bounces quote broken headers, so it is read
// by a forgiving parser rather than net/textproto.
type header []field

// get returns the first value of the named field (case-insensitive), or "".
func (h header) get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			return f.value
		}
	}
	return ""
}

// values returns every value of the named field.
func (h header) values(name string) []string {
	var vs []string
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			vs = append(vs, f.value)
		}
	}
	return vs
}

// has reports whether the named field is present.
func (h header) has(name string) bool {
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			return true
		}
	}
	return false
}

// toMap returns the block as a map keyed by canonical names, values decoded.
func (h header) toMap() map[string][]string {
	if len(h) == 0 {
		return nil
	}
	m := make(map[string][]string, len(h))
	for _, f := range h {
		k := textproto.CanonicalMIMEHeaderKey(f.name)
		m[k] = append(m[k], decodeWords(f.value))
	}
	return m
}

// Bounds of one header block.
const (
	maxHeaderFields = 1000
	maxFieldBytes   = 64 << 10
)

// splitHeader reads the header block at the start of b and returns it with the rest (the body).
// It tolerates what bounces contain: a missing blank line, junk lines, fields without a space
// after the colon. A first line that is not a field means there is no header at all.
func splitHeader(b []byte) (header, []byte) {
	var (
		h    header
		cont []byte // continuation lines of the last field, joined
	)
	flush := func() {
		if len(cont) > 0 && len(h) > 0 {
			last := &h[len(h)-1]
			if last.value == "" {
				last.value = string(cont[1:])
			} else {
				last.value += string(cont)
			}
		}
		cont = cont[:0]
	}
	rest := b
	for len(rest) > 0 {
		line, next := cutLine(rest)
		if len(line) == 0 {
			flush()
			return h, next // the blank line that ends the block
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(h) == 0 {
				return nil, b
			}
			if t := bytes.TrimSpace(line); len(t) > 0 && len(cont) < maxFieldBytes {
				cont = append(append(cont, ' '), t...)
			}
			rest = next
			continue
		}
		name, value, ok := headerLine(line)
		if !ok || len(h) >= maxHeaderFields {
			flush()
			if len(h) == 0 {
				return nil, b
			}
			return h, rest // the body starts without a blank line
		}
		flush()
		h = append(h, field{name: name, value: value})
		rest = next
	}
	flush()
	return h, nil
}

// headerLine splits "Name: value"; ok is false when the line is not a header field.
func headerLine(line []byte) (name, value string, ok bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 || i > 76 {
		return "", "", false
	}
	n := bytes.TrimRight(line[:i], " \t")
	if len(n) == 0 {
		return "", "", false
	}
	for _, c := range n {
		if c <= ' ' || c >= 0x7f {
			return "", "", false
		}
	}
	return string(n), string(bytes.TrimSpace(line[i+1:])), true
}

// cutLine returns the first line of b (without its "\n") and what follows it.
func cutLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// wordDecoder decodes RFC 2047 encoded words in any charset go-message knows.
var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// decodeWords decodes RFC 2047 encoded words and raw ISO-2022-JP, and returns valid UTF-8.
func decodeWords(s string) string {
	if strings.Contains(s, "=?") {
		if d, err := wordDecoder.DecodeHeader(s); err == nil {
			s = d
		}
	}
	if strings.Contains(s, "\x1b$") {
		if d, err := decodeCharset([]byte(s), "iso-2022-jp"); err == nil {
			s = d
		}
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

// parseContentType returns the lower-case media type (text/plain when absent or broken) and its
// parameters, recovering the boundary and charset from values mime.ParseMediaType rejects.
func parseContentType(v string) (string, map[string]string) {
	mt, params, err := mime.ParseMediaType(v)
	if err == nil && strings.Contains(mt, "/") {
		return mt, params
	}
	t, rest, _ := strings.Cut(v, ";")
	mt = strings.ToLower(strings.TrimSpace(t))
	if !strings.Contains(mt, "/") || strings.ContainsAny(mt, " \t\"") {
		mt = "text/plain"
	}
	params = map[string]string{}
	for _, name := range []string{"boundary", "charset", "report-type", "name"} {
		if val, ok := looseParam(rest, name); ok {
			params[name] = val
		}
	}
	return mt, params
}

// looseParam finds name=value or name="value" in a parameter list that did not parse.
func looseParam(s, name string) (string, bool) {
	ls := strings.ToLower(s)
	from := 0
	for {
		i := strings.Index(ls[from:], name)
		if i < 0 {
			return "", false
		}
		i += from
		from = i + len(name)
		if i > 0 && !strings.ContainsRune(" \t;", rune(ls[i-1])) {
			continue
		}
		j := from
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		if j >= len(s) || s[j] != '=' {
			continue
		}
		j++
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		if j < len(s) && s[j] == '"' {
			if k := strings.IndexByte(s[j+1:], '"'); k >= 0 {
				return s[j+1 : j+1+k], true
			}
			return strings.TrimSpace(s[j+1:]), true
		}
		k := j
		for k < len(s) && !strings.ContainsRune(" \t;", rune(s[k])) {
			k++
		}
		if k > j {
			return s[j:k], true
		}
		return "", false
	}
}

// errNoCharset reports a charset no decoder is known for.
var errNoCharset = fmt.Errorf("bounce: unknown charset")
