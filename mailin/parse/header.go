package parse

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Field is one header field as received.
type Field struct {
	Name  string // as sent, e.g. "Content-type"
	Value string // unfolded (line breaks removed), trimmed, not decoded: may hold encoded-words and 8-bit bytes that are not UTF-8
}

// Header gives access to every header field of a message or part, in
// order. Get and Values return decoded values (RFC 2047 encoded-words and
// 8-bit bytes turned into UTF-8); Raw and Fields give them as received.
// Names are matched case-insensitively.
type Header struct {
	fields []Field
	hint   string // charset for undeclared 8-bit bytes, from the message
}

// Len returns the number of fields.
func (h Header) Len() int { return len(h.fields) }

// Fields returns a copy of the fields, in order.
func (h Header) Fields() []Field { return append([]Field(nil), h.fields...) }

// Has reports whether a field named name is present.
func (h Header) Has(name string) bool {
	for _, f := range h.fields {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// Raw returns the raw value of the first field named name, "" if none.
func (h Header) Raw(name string) string {
	for _, f := range h.fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// RawValues returns the raw values of every field named name.
func (h Header) RawValues(name string) []string {
	var vs []string
	for _, f := range h.fields {
		if strings.EqualFold(f.Name, name) {
			vs = append(vs, f.Value)
		}
	}
	return vs
}

// Get returns the decoded value of the first field named name, "" if none.
func (h Header) Get(name string) string {
	for _, f := range h.fields {
		if strings.EqualFold(f.Name, name) {
			s, _ := decodeHeaderText(f.Value, h.hint)
			return cleanHeaderText(s)
		}
	}
	return ""
}

// Values returns the decoded values of every field named name.
func (h Header) Values(name string) []string {
	var vs []string
	for _, f := range h.fields {
		if strings.EqualFold(f.Name, name) {
			s, _ := decodeHeaderText(f.Value, h.hint)
			vs = append(vs, cleanHeaderText(s))
		}
	}
	return vs
}

// cleanHeaderText turns control characters (tabs and line breaks left by
// folding included) into spaces and trims: header text is one line.
func cleanHeaderText(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			clean = false
			break
		}
	}
	if !clean {
		s = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return ' '
			}
			return r
		}, s)
	}
	return strings.TrimSpace(s)
}

// collapseSpaces replaces runs of white space with one space.
func collapseSpaces(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Limits on a header block, against hostile input.
const (
	maxHeaderBytes = 1 << 20  // one header block
	maxFieldBytes  = 64 << 10 // one field, folded lines included
	maxFields      = 5000
)

// headerEnd says how a header block ended.
type headerEnd int

const (
	endBlank headerEnd = iota // the blank line: the body follows
	endBody                   // a line that is no header: it starts the body
	endHit                    // a boundary line or the end of the input: no body
)

// fieldNameLen returns the length of the field name at the start of line
// when line is "name:" or "name :" (a name is printable ASCII without ':'
// or spaces), else 0. colon is the index of the colon.
func fieldNameLen(line []byte) (n, colon int) {
	i := 0
	for i < len(line) && i < 200 {
		c := line[i]
		if c <= ' ' || c >= 0x7f || c == ':' {
			break
		}
		i++
	}
	if i == 0 {
		return 0, 0
	}
	j := i
	for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
		j++
	}
	if j >= len(line) || line[j] != ':' {
		return 0, 0
	}
	return i, j
}

// trimEOL removes the line break of a line.
func trimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}

// isBlankLine reports whether line holds nothing but white space.
func isBlankLine(line []byte) bool {
	return len(bytes.Trim(line, " \t\r\n")) == 0
}

// readHeader reads a header block. It stops after the blank line that ends
// it; before the first line that can be neither a field nor a folded
// continuation (that line is left to be read as body); or at a boundary
// line or the end of the input. Problems are reported with warn.
func readHeader(s *scanner, warn func(string)) (Header, headerEnd) {
	var h Header
	var name string
	var val []byte
	size := 0
	finish := func() {
		if name == "" {
			return
		}
		if len(h.fields) < maxFields {
			if bytes.IndexByte(val, 0) >= 0 {
				val = bytes.ReplaceAll(val, []byte{0}, nil)
			}
			v := strings.TrimSpace(string(val))
			h.fields = append(h.fields, Field{Name: name, Value: v})
		}
		name, val = "", val[:0]
	}
	appendVal := func(b []byte) {
		if room := maxFieldBytes - len(val); len(b) > room {
			b = b[:room]
		}
		val = append(val, b...)
	}
	// longLine consumes the rest of a line longer than the buffer.
	longLine := func() {
		for s.midLine {
			piece := s.next()
			if piece == nil {
				return
			}
			appendVal(trimEOL(piece))
		}
	}
	first := true
	warnedTooBig := false
	for {
		line := s.next()
		if line == nil {
			finish()
			return h, endHit
		}
		size += len(line)
		if size > maxHeaderBytes {
			if !warnedTooBig {
				warn(fmt.Sprintf("header block larger than %d bytes: the rest is read as body", maxHeaderBytes))
				warnedTooBig = true
			}
			finish()
			s.unread(line)
			return h, endBody
		}
		content := trimEOL(line)
		if isBlankLine(content) {
			if len(content) > 0 && name != "" && s.nextIsHeaderLine() {
				// A folded line holding only white space.
				continue
			}
			finish()
			return h, endBlank
		}
		if content[0] == ' ' || content[0] == '\t' {
			if name != "" {
				appendVal(content)
				longLine()
				continue
			}
			t := bytes.TrimLeft(content, " \t")
			if n, _ := fieldNameLen(t); first && n > 0 {
				warn("header starts with white space")
				content = t
			} else {
				s.unread(line)
				return h, endBody
			}
		}
		if n, colon := fieldNameLen(content); n > 0 {
			finish()
			name = string(content[:n])
			appendVal(content[colon+1:])
			longLine()
			first = false
			continue
		}
		if first || s.midLine {
			s.unread(line)
			return h, endBody
		}
		if name != "" && looksLikeLostContinuation(val, content) {
			warn(fmt.Sprintf("header line without name or indentation joined to %s", name))
			appendVal([]byte(" "))
			appendVal(content)
			continue
		}
		if c := bytes.IndexByte(content, ':'); c > 0 && c <= 200 && content[0] > ' ' && content[0] < 0x7f {
			// Inside a header block, "bad name: value" is more likely a
			// field with a malformed name than the start of the body.
			warn(fmt.Sprintf("malformed field name %q", validUTF8(string(content[:c]))))
			finish()
			name = strings.TrimSpace(string(content[:c]))
			appendVal(content[c+1:])
			longLine()
			continue
		}
		if name != "" && s.headerContinuesAhead() {
			warn(fmt.Sprintf("header line without name or indentation joined to %s", name))
			appendVal([]byte(" "))
			appendVal(content)
			continue
		}
		warn("header block not ended by a blank line")
		finish()
		s.unread(line)
		return h, endBody
	}
}

// looksLikeLostContinuation guesses whether a line that is no field is a
// folded line whose indentation was lost ("name=\"x.zip\"" after a
// Content-Type ending with ';'), rather than the first body line.
func looksLikeLostContinuation(prev, line []byte) bool {
	p := bytes.TrimRight(prev, " \t")
	if len(p) > 0 && (p[len(p)-1] == ';' || p[len(p)-1] == ',') {
		return true
	}
	eq := bytes.IndexByte(line, '=')
	sp := bytes.IndexAny(line, " \t")
	return eq > 0 && (sp < 0 || sp > eq) && !bytes.ContainsAny(line[:eq], "<>\"")
}

// knownFields are field names that make a first line a header for sure.
var knownFields = map[string]bool{
	"from": true, "to": true, "cc": true, "bcc": true, "subject": true, "date": true,
	"message-id": true, "received": true, "return-path": true, "delivered-to": true,
	"mime-version": true, "reply-to": true, "sender": true, "in-reply-to": true,
	"references": true, "envelope-to": true, "thread-topic": true, "thread-index": true,
	"user-agent": true, "importance": true, "priority": true, "precedence": true,
	"comments": true, "keywords": true, "organization": true, "errors-to": true,
	"dkim-signature": true, "domainkey-signature": true, "authentication-results": true,
	"received-spf": true, "newsgroups": true, "path": true, "xref": true, "lines": true,
	"status": true, "apparently-to": true, "disposition-notification-to": true,
	"auto-submitted": true, "x-mailer": true, "mail-followup-to": true, "followup-to": true,
	"openpgp": true, "autocrypt": true, "feedback-id": true, "return-receipt-to": true,
	"recieved": true, "x-original-to": true, "original-recipient": true, "final-recipient": true,
}

// isKnownField reports whether name is a common header field name.
func isKnownField(name string) bool {
	l := strings.ToLower(name)
	if knownFields[l] {
		return true
	}
	for _, p := range []string{"x-", "content-", "list-", "resent-", "arc-", "dkim-", "mime-"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// startKind classifies the beginning of the input.
type startKind int

const (
	startHeader startKind = iota // a header block
	startEmpty                   // a blank first line: an empty header block
	startText                    // no header: not a message
)

// lines splits the first lines of b (at most max), without their breaks.
// The last one is left out when b does not reach its end.
func firstLines(b []byte, max int) [][]byte {
	var ls [][]byte
	for len(b) > 0 && len(ls) < max {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			ls = append(ls, b)
			break
		}
		ls = append(ls, trimEOL(b[:i+1]))
		b = b[i+1:]
	}
	return ls
}

// isHeaderStart reports whether ls (the first lines of the input, or of
// what follows skipped lines) begin a header block: the first line is a
// field ("Name: value", possibly indented by mistake), and a well-known
// field name (From, Subject, Received, X-… ) appears before the first line
// that is neither a field nor a continuation. Reply bodies that start with
// "Note: …" or with a quoted Outlook header in another language ("Da: …",
// "Oggetto: …") are thus not taken for a header.
func isHeaderStart(ls [][]byte) bool {
	if len(ls) == 0 {
		return false
	}
	for i, l := range ls {
		if i == 0 {
			l = bytes.TrimLeft(l, " \t")
		} else if len(l) > 0 && (l[0] == ' ' || l[0] == '\t') && !isBlankLine(l) {
			continue // a continuation line
		}
		n, _ := fieldNameLen(l)
		if n == 0 {
			return false
		}
		if isKnownField(string(l[:n])) {
			return true
		}
	}
	return false
}

// classifyStart looks at the first bytes of the input and says whether a
// header block starts there, and how many bytes to skip first (a UTF-8
// byte order mark, an mbox "From " line, blank lines before the header).
func classifyStart(b []byte) (startKind, int, []string) {
	skip := 0
	var notes []string
	if bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		skip = 3
	}
	ls := firstLines(b[skip:], 40)
	if len(ls) == 0 {
		return startText, 0, nil
	}
	if bytes.HasPrefix(ls[0], []byte("From ")) && isHeaderStart(ls[1:]) {
		skip += bytes.IndexByte(b[skip:], '\n') + 1
		ls = ls[1:]
	}
	if isBlankLine(ls[0]) {
		// Blank lines before a header block are skipped; otherwise a blank
		// first line is an empty header block.
		k := 0
		off := skip
		for k < len(ls) && isBlankLine(ls[k]) {
			off += bytes.IndexByte(b[off:], '\n') + 1
			k++
		}
		if k < len(ls) && isHeaderStart(firstLines(b[off:], 40)) {
			notes = append(notes, "blank lines before the header block skipped")
			return startHeader, off, notes
		}
		return startEmpty, skip, nil
	}
	if isHeaderStart(ls) {
		return startHeader, skip, nil
	}
	return startText, 0, nil
}

// validUTF8 returns s, with invalid bytes replaced when there are any.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
