package bounce

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// Limits that keep hostile input cheap: bounces are small, and the part that matters comes first.
const (
	maxInput      = 8 << 20 // bytes of a message looked at
	maxParts      = 256     // MIME parts walked
	maxDepth      = 8       // multipart nesting
	maxNested     = 3       // bounces wrapped in bounces (message/rfc822 inside a report)
	maxTextDecode = 1 << 20 // bytes of one part decoded to text
)

// part is one leaf of the MIME tree (or a container, for the structure checks).
type part struct {
	mediaType string            // lower case, e.g. "message/delivery-status"
	params    map[string]string // Content-Type parameters
	hdr       header            // the part's own header
	body      []byte            // transfer-decoded content
	text      string            // UTF-8 text, for textual parts
	depth     int
	container bool // a multipart/* node
	attached  bool // Content-Disposition: attachment
}

// message is a message read once, with the facts the classifiers and the parser share.
type message struct {
	hdr       header
	mediaType string
	params    map[string]string
	parts     []part
	nested    int // how deep inside other bounces this message is
}

// readMessage reads raw leniently; it never fails, a message it cannot make sense of is one text part.
func readMessage(raw []byte, nested int) *message {
	b := normalize(raw)
	h, body := splitHeader(b)
	m := &message{hdr: h, nested: nested}
	m.mediaType, m.params = parseContentType(h.get("Content-Type"))
	w := &walker{}
	w.walk(h, body, 0, "")
	m.parts = w.parts
	return m
}

// normalize bounds the input, turns CRLF and lone CR line endings into LF and drops an mbox
// "From " line.
func normalize(raw []byte) []byte {
	if len(raw) > maxInput {
		raw = raw[:maxInput]
	}
	var b []byte
	switch {
	case bytes.IndexByte(raw, '\n') >= 0:
		b = make([]byte, 0, len(raw))
		for i := 0; i < len(raw); i++ {
			c := raw[i]
			if c == '\r' {
				j := i
				for j < len(raw) && raw[j] == '\r' {
					j++
				}
				if j < len(raw) && raw[j] == '\n' {
					i = j - 1 // CRLF, CRCRLF: the CRs go
					continue
				}
			}
			b = append(b, c)
		}
	case bytes.IndexByte(raw, '\r') >= 0:
		b = bytes.ReplaceAll(raw, []byte{'\r'}, []byte{'\n'})
	default:
		b = raw
	}
	b = bytes.TrimLeft(b, "\n")
	if bytes.HasPrefix(b, []byte("From ")) {
		_, b = cutLine(b)
	}
	return b
}

// walker flattens a MIME tree into parts.
type walker struct {
	parts []part
}

func (w *walker) walk(h header, body []byte, depth int, defaultType string) {
	if len(w.parts) >= maxParts {
		return
	}
	ct := h.get("Content-Type")
	mt, params := parseContentType(ct)
	if ct == "" && defaultType != "" {
		mt = defaultType
	}
	body = transferDecode(h.get("Content-Transfer-Encoding"), body)
	disp := strings.ToLower(h.get("Content-Disposition"))
	p := part{mediaType: mt, params: params, hdr: h, depth: depth, attached: strings.HasPrefix(strings.TrimSpace(disp), "attachment")}
	if strings.HasPrefix(mt, "multipart/") && depth < maxDepth {
		boundary := params["boundary"]
		if boundary == "" {
			boundary = guessBoundary(body)
		}
		if chunks := splitMultipart(body, boundary); len(chunks) > 0 {
			p.container = true
			w.parts = append(w.parts, p)
			childType := ""
			if mt == "multipart/digest" {
				childType = "message/rfc822"
			}
			for _, c := range chunks {
				ch, cb := splitHeader(c)
				w.walk(ch, cb, depth+1, childType)
			}
			return
		}
		p.mediaType = "text/plain" // a multipart without parts: read it as text
	}
	p.body = body
	switch {
	case isTextual(p.mediaType):
		p.text = toText(body, params["charset"])
		if p.mediaType == "text/html" {
			p.text = htmlToText(p.text)
		}
	case isStatusType(p.mediaType), isHeadersType(p.mediaType):
		p.text = toText(body, "")
	}
	w.parts = append(w.parts, p)
}

func isTextual(mt string) bool {
	return strings.HasPrefix(mt, "text/") && !isHeadersType(mt)
}

func isStatusType(mt string) bool {
	return mt == "message/delivery-status" || mt == "message/global-delivery-status"
}

func isHeadersType(mt string) bool {
	return mt == "text/rfc822-headers" || mt == "message/rfc822-headers" || mt == "message/global-headers"
}

func isMessageType(mt string) bool {
	return mt == "message/rfc822" || mt == "message/global" || mt == "message/partial"
}

// splitMultipart returns the bodies between the boundary delimiters. A missing close delimiter
// ends the last part at the end of the input.
func splitMultipart(body []byte, boundary string) [][]byte {
	if boundary == "" {
		return nil
	}
	delim := []byte("--" + boundary)
	var chunks [][]byte
	start := -1
	for pos := 0; pos < len(body); {
		line, rest := cutLine(body[pos:])
		next := len(body) - len(rest)
		if rest == nil {
			next = len(body)
		}
		if bytes.HasPrefix(line, delim) {
			tail := bytes.TrimRight(line[len(delim):], " \t")
			closing := bytes.Equal(tail, []byte("--"))
			if len(tail) == 0 || closing {
				if start >= 0 {
					end := pos - 1 // the newline before the delimiter belongs to it
					if end < start {
						end = start
					}
					chunks = append(chunks, body[start:end])
				}
				if closing || len(chunks) >= maxParts {
					return chunks
				}
				start = next
			}
		}
		pos = next
	}
	if start >= 0 && start <= len(body) {
		chunks = append(chunks, body[start:])
	}
	return chunks
}

// guessBoundary finds the delimiter of a multipart whose boundary parameter is missing.
func guessBoundary(body []byte) string {
	for pos, n := 0, 0; pos < len(body) && n < 50; n++ {
		line, rest := cutLine(body[pos:])
		if len(line) > 3 && bytes.HasPrefix(line, []byte("--")) && bytes.IndexByte(line, ' ') < 0 {
			return string(bytes.TrimSuffix(line[2:], []byte("--")))
		}
		if rest == nil {
			break
		}
		pos = len(body) - len(rest)
	}
	return ""
}

// transferDecode undoes base64 and quoted-printable, forgiving broken input.
func transferDecode(cte string, b []byte) []byte {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return decodeBase64(b)
	case "quoted-printable":
		return decodeQP(b)
	}
	return b
}

// decodeBase64 keeps the base64 alphabet, stops at padding and decodes what it can.
func decodeBase64(b []byte) []byte {
	clean := make([]byte, 0, len(b))
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		case c == '-':
			clean = append(clean, '+')
		case c == '_':
			clean = append(clean, '/')
		}
	}
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1]
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, _ := base64.RawStdEncoding.Decode(out, clean)
	return out[:n]
}

// decodeQP decodes quoted-printable, keeping malformed escapes as they are.
func decodeQP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '=' {
			out = append(out, c)
			continue
		}
		j := i + 1
		for j < len(b) && (b[j] == ' ' || b[j] == '\t') {
			j++
		}
		if j >= len(b) {
			i = j
			continue
		}
		if b[j] == '\n' {
			i = j // soft line break
			continue
		}
		if i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]) {
			out = append(out, unhex(b[i+1])<<4|unhex(b[i+2]))
			i += 2
			continue
		}
		out = append(out, c)
	}
	return out
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// toText converts a body in the given charset to valid UTF-8, guessing when the label is
// missing, wrong or unknown.
func toText(b []byte, cs string) string {
	if len(b) > maxTextDecode {
		b = b[:maxTextDecode]
	}
	cs = strings.ToLower(strings.Trim(strings.TrimSpace(cs), `"'`))
	hasESC := bytes.Contains(b, []byte("\x1b$")) || bytes.Contains(b, []byte("\x1b("))
	switch {
	case cs == "" || cs == "us-ascii" || cs == "ascii" || cs == "utf-8" || cs == "utf8" || strings.HasPrefix(cs, "unicode-1-1"):
		if hasESC {
			cs = "iso-2022-jp"
		} else if utf8.Valid(b) {
			return string(b)
		} else {
			cs = "windows-1252"
		}
	case strings.HasPrefix(cs, "iso-2022") && !hasESC && utf8.Valid(b):
		return string(b) // labelled ISO-2022 but sent as UTF-8
	}
	s, err := decodeCharset(b, cs)
	if err != nil {
		if utf8.Valid(b) {
			return string(b)
		}
		if s, err = decodeCharset(b, "windows-1252"); err != nil {
			return strings.ToValidUTF8(string(b), "\uFFFD")
		}
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// decodeCharset converts b from the named charset to UTF-8.
func decodeCharset(b []byte, cs string) (string, error) {
	r, err := charset.Reader(cs, bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("%w %q: %w", errNoCharset, cs, err)
	}
	out, err := io.ReadAll(io.LimitReader(r, 4*maxTextDecode))
	if err != nil && len(out) == 0 {
		return "", fmt.Errorf("bounce: decoding %s: %w", cs, err)
	}
	return string(out), nil
}

var (
	htmlDropRe  = regexp.MustCompile(`(?is)<(?:style|script|head)\b.*?</(?:style|script|head)\s*>`)
	htmlBreakRe = regexp.MustCompile(`(?i)<(?:br|/p|/div|/tr|/li|/h\d|p|div|tr|li|hr|pre|/pre|table|/table)\b[^>]*>`)
	htmlTagRe   = regexp.MustCompile(`<[^>]*>`)
)

// htmlToText reduces HTML to its lines of text, enough to find addresses and codes in.
func htmlToText(s string) string {
	s = htmlDropRe.ReplaceAllString(s, " ")
	s = strings.ReplaceAll(s, "\n", " ")
	s = htmlBreakRe.ReplaceAllString(s, "\n")
	s = htmlTagRe.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, "\n")
}
