package parse

import (
	"strings"
	"unicode/utf8"
)

// RFC 2047 encoded-words, decoded leniently. Unlike mime.WordDecoder this
// accepts words glued to other text or to each other, Q text with spaces,
// base64 without padding, unknown charsets (guessed), and decodes the bytes
// of adjacent words in the same charset together, so that a multi-byte
// character split across two words comes out whole.

// encodedWord is one parsed "=?charset?enc?text?=".
type encodedWord struct {
	charset string
	data    []byte // the decoded bytes, still in charset
}

// maxEncodedWord bounds the text of one word, so that a stray "=?" does
// not swallow a whole header.
const maxEncodedWord = 2000

// parseEncodedWord parses the encoded-word starting at s[i] ("=?"). It
// returns the word and the index just past it.
func parseEncodedWord(s string, i int) (encodedWord, int, bool) {
	if !strings.HasPrefix(s[i:], "=?") {
		return encodedWord{}, 0, false
	}
	k := i + 2
	for k < len(s) && s[k] != '?' {
		c := s[k]
		if c <= ' ' || c >= 0x7f || c == '=' || k-i > 80 {
			return encodedWord{}, 0, false
		}
		k++
	}
	if k+2 >= len(s) || s[k] != '?' || s[k+2] != '?' {
		return encodedWord{}, 0, false
	}
	charset := s[i+2 : k]
	enc := s[k+1] | 0x20
	if enc != 'b' && enc != 'q' {
		return encodedWord{}, 0, false
	}
	t := k + 3
	rest := s[t:]
	if len(rest) > maxEncodedWord+2 {
		rest = rest[:maxEncodedWord+2] // bounded: no quadratic scan on junk
	}
	end := strings.Index(rest, "?=")
	if end < 0 {
		return encodedWord{}, 0, false
	}
	text := s[t : t+end]
	if strings.ContainsAny(text, "\r\n") {
		return encodedWord{}, 0, false
	}
	w := encodedWord{charset: charset}
	if enc == 'b' {
		w.data = decodeBase64String(text)
	} else {
		w.data = decodeQWord(text)
	}
	return w, t + end + 2, true
}

// decodeQWord decodes the "Q" encoding: '_' is a space, "=XX" a byte.
func decodeQWord(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			out = append(out, ' ')
		case c == '=' && i+2 < len(s) && unhex(s[i+1]) >= 0 && unhex(s[i+2]) >= 0:
			out = append(out, byte(unhex(s[i+1])<<4|unhex(s[i+2])))
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out
}

// isFWS reports whether s is only folding white space.
func isFWS(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\r', '\n':
		default:
			return false
		}
	}
	return true
}

// decodeHeaderText decodes the encoded-words of an unstructured header value
// (or of a phrase taken out of a structured one) and any raw 8-bit bytes
// (RFC 6532 UTF-8, or a legacy charset guessed with hint). The result is
// valid UTF-8. warns lists what had to be guessed.
func decodeHeaderText(v, hint string) (string, []string) {
	if !strings.Contains(v, "=?") {
		if utf8.ValidString(v) {
			return v, nil
		}
		s, w := decodeCharset([]byte(v), "", hint)
		return s, warnList(w)
	}
	var out strings.Builder
	out.Grow(len(v))
	var warns []string
	var pend []byte
	pendCS := ""
	flush := func() {
		if len(pend) == 0 {
			return
		}
		s, w := decodeCharset(pend, pendCS, hint)
		out.WriteString(s)
		if w != "" {
			warns = append(warns, "encoded-word: "+w)
		}
		pend = pend[:0]
	}
	literal := func(lit string) {
		if lit == "" {
			return
		}
		flush()
		if utf8.ValidString(lit) {
			out.WriteString(lit)
			return
		}
		s, w := decodeCharset([]byte(lit), "", hint)
		out.WriteString(s)
		if w != "" {
			warns = append(warns, w)
		}
	}
	litStart := 0
	afterWord := false
	for i := 0; i < len(v); {
		j := strings.Index(v[i:], "=?")
		if j < 0 {
			break
		}
		j += i
		w, end, ok := parseEncodedWord(v, j)
		if !ok {
			i = j + 2
			continue
		}
		lit := v[litStart:j]
		if !(afterWord && isFWS(lit)) {
			literal(lit)
		}
		cs := cleanCharsetLabel(w.charset)
		if cs != pendCS {
			flush()
			pendCS = cs
		}
		pend = append(pend, w.data...)
		afterWord = true
		litStart, i = end, end
	}
	flush()
	literal(v[litStart:])
	return out.String(), warns
}

func warnList(w string) []string {
	if w == "" {
		return nil
	}
	return []string{w}
}
