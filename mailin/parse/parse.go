// Package parse turns a raw e-mail message (RFC 5322 + MIME) into the
// Message the rest of the pipeline works with: decoded addresses, subject,
// date and Message-IDs, the text and HTML bodies in UTF-8, the attachments
// and inline images, and each attached message parsed in turn.
//
// The parser is built not to lose mail. Everything that is wrong with a
// message but can be recovered from — an unknown or lying charset, a
// malformed header, a truncated or badly nested multipart, invalid base64,
// an unparseable date — is repaired as well as can be and reported in
// Message.Warnings; Parse returns an error only when the input is empty,
// binary, or cannot be read. Every decoded string it returns is valid
// UTF-8 (Header.Raw and Header.Fields give the fields as received).
//
// Charsets: a label is first looked up in a table of aliases seen in mail
// (ks_c_5601-1987, cp936, ansi_x3.4-1968, x-unknown …), then in the WHATWG
// index (so that iso-8859-1 decodes as windows-1252, gb2312 as GBK, euc-kr
// as windows-949: the supersets mailers really use), then in the IANA
// index, then in go-message's charset package. UTF-7 and ISO-2022-KR have
// decoders of their own. Text that does not fit its label — invalid UTF-8,
// 8-bit "us-ascii", UTF-8 under a legacy label, 8-bit ISO-2022-JP — and
// text without a label are detected: a BOM; ISO-2022 escapes; valid UTF-8;
// UTF-8 with a few stray bytes; the legacy charset the rest of the message
// declares, when it decodes cleanly; Cyrillic (KOI8-R or windows-1251);
// else windows-1252, which decodes every byte. Each guess is a warning.
//
// The MIME structure is read by a streaming, line-based reader of this
// package rather than go-message's, which refuses a message whose header
// has one malformed line and stops a multipart at the first malformed part
// header or missing boundary. This reader ends a part at the boundary of
// any enclosing multipart, takes a part without header for what it is,
// joins header lines that lost their indentation, and keeps going. Only
// the content that is kept (decoded bodies and attachments) is held in
// memory, each once, plus its chunks while it is being read: about 1.5
// times the size of a message made of one big base64 attachment.
//
// Parse and Sanitize keep no state between calls and are safe for
// concurrent use.
package parse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Address is a mailbox.
type Address struct {
	Address string // local@domain, lower-cased; "" when the header gave only a name
	Name    string // display name, decoded
}

// Part is an attachment or an inline image.
type Part struct {
	Filename    string // decoded (RFC 2047 and RFC 2231), as sent: the caller sanitizes it
	ContentType string // media type only, lower-case, e.g. "image/png"
	Data        []byte
	Inline      bool   // Content-Disposition inline, or a cid: image referenced from the HTML
	ContentID   string // without angle brackets
}

// Message is a parsed message.
type Message struct {
	MessageID  string   // without <>; "" when missing
	InReplyTo  []string // Message-IDs without <>
	References []string
	From       Address
	Sender     Address
	ReplyTo    []Address
	To, Cc     []Address
	Subject    string    // decoded, unfolded
	Date       time.Time // UTC; zero when missing or unparseable (then a warning)
	Header     Header    // every header field, raw or decoded

	Text        string     // the text/plain body(ies) in UTF-8; "" if the mail is HTML-only
	HTML        string     // the text/html body(ies) in UTF-8, unsanitized; "" if none
	Attachments []Part     // every non-body part, in order (attached messages included, as message/rfc822)
	Embedded    []*Message // each attached message/rfc822 part, parsed (depth-limited)
	ReportType  string     // for multipart/report: the report-type parameter, e.g. "delivery-status"

	Warnings []string // what was wrong and recovered from
	Size     int64    // raw size in bytes

	// HeaderOnly is true when the input is a header block with no body at
	// all (not even the blank line that separates them).
	HeaderOnly bool
	// NoHeader is true when the input did not start with a header block:
	// it was then taken as a plain text body (see Parse).
	NoHeader bool
}

// Options tune Parse. The zero value is ready to use.
type Options struct {
	// MaxSize bounds what is kept in memory; 0 means 25 MB. Attachments
	// are kept while the input read so far and the attachments kept so far
	// each stay within MaxSize; the others are left out (Warnings says so,
	// with their count and names). Text and HTML bodies are still read,
	// each up to MaxSize.
	MaxSize int64
	// ExpandTNEF, when set, is called with the content of
	// application/ms-tnef parts and winmail.dat files; the parts it returns
	// replace the TNEF part. When it returns an error the winmail.dat is
	// kept as it is, with a warning.
	ExpandTNEF func(data []byte) ([]Part, error)
}

// DefaultMaxSize is the MaxSize used when Options.MaxSize is 0.
const DefaultMaxSize = 25 << 20

// maxEmbedDepth is how deep attached messages are parsed.
const maxEmbedDepth = 5

// ErrNotMessage is returned (wrapped) for input that is empty or binary.
var ErrNotMessage = errors.New("not a message")

// Parse reads a message from r.
//
// Parse returns an error only when the input is not a message at all:
// empty (or only white space), binary (NUL bytes or mostly control
// characters where a header or text should be), or unreadable (the read
// error is wrapped). Everything else gives a Message, with Warnings saying
// what had to be repaired.
//
// Input that does not start with a header block — a reply body pasted on
// its own, a text file — is not rejected: the whole input becomes Text
// (decoded from UTF-8, or by detection), NoHeader is set and a warning
// "no header block" is added. A blank first line is an empty header block
// (RFC 5322 allows it): what follows is the body.
func Parse(r io.Reader, o *Options) (*Message, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	if opts.MaxSize <= 0 {
		opts.MaxSize = DefaultMaxSize
	}
	p := &parser{opts: opts, budget: &budget{}}
	return p.parse(r)
}

// budget is shared by a message and the messages attached to it.
type budget struct {
	kept    int64    // bytes of attachment data kept
	text    int64    // bytes of text and HTML bodies kept
	dropped []string // attachments left out: names, or content types
}

// parser holds the state of one Parse (or of one attached message).
type parser struct {
	opts   Options
	budget *budget
	depth  int // of attached messages
	msg    *Message
	sc     *scanner
	cnt    *countingReader
	hint   string // a legacy charset declared somewhere in the message
	nparts int
	warned map[string]bool
	out    *content // what the parts gave so far
}

// salvage fills the message with what was parsed before a panic.
func (p *parser) salvage() {
	defer func() { _ = recover() }()
	if p.out != nil && p.msg.Text == "" && p.msg.HTML == "" && len(p.msg.Attachments) == 0 {
		p.assemble(p.out)
	}
	p.finish()
}

// maxWarnings bounds the warnings of one message.
const maxWarnings = 200

func (p *parser) warn(where, what string) {
	w := what
	if where != "" {
		w = where + ": " + what
	}
	if len(p.msg.Warnings) >= maxWarnings {
		if len(p.msg.Warnings) == maxWarnings {
			p.msg.Warnings = append(p.msg.Warnings, "more warnings left out")
		}
		return
	}
	w = validUTF8(w)
	if p.warned == nil {
		p.warned = map[string]bool{}
	}
	if !p.warned[w] {
		p.warned[w] = true
		p.msg.Warnings = append(p.msg.Warnings, w)
	}
}

// countingReader counts the bytes read.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// lenCountingReader is a countingReader that still tells the length of
// an in-memory input, so that the scanner can size its buffer.
type lenCountingReader struct {
	*countingReader
	l interface{ Len() int }
}

func (r lenCountingReader) Len() int { return r.l.Len() }

// crReader turns lone CRs into LFs and CRLF into LF, for messages stored
// with old Mac line endings.
type crReader struct {
	r      io.Reader
	lastCR bool
}

func (c *crReader) Read(b []byte) (int, error) {
	for {
		n, err := c.r.Read(b)
		w := 0
		for i := 0; i < n; i++ {
			ch := b[i]
			if ch == '\n' && c.lastCR {
				c.lastCR = false
				continue
			}
			c.lastCR = ch == '\r'
			if ch == '\r' {
				ch = '\n'
			}
			b[w] = ch
			w++
		}
		if w > 0 || err != nil || n == 0 {
			return w, err
		}
	}
}

// crOnly reports whether the first line break of b is a lone CR.
func crOnly(b []byte) bool {
	i := bytes.IndexAny(b, "\r\n")
	return i >= 0 && b[i] == '\r' && i+1 < len(b) && b[i+1] != '\n'
}

func (p *parser) parse(r io.Reader) (m *Message, err error) {
	p.msg = &Message{}
	m = p.msg
	defer func() {
		// Last line of defence: a bug must cost a warning, not the mail.
		if rec := recover(); rec != nil {
			p.warn("", fmt.Sprintf("internal error, message partly parsed: %v", rec))
			p.salvage()
			m, err = p.msg, nil
		}
	}()
	p.cnt = &countingReader{r: r}
	var src io.Reader = p.cnt
	if l, ok := r.(interface{ Len() int }); ok {
		src = lenCountingReader{p.cnt, l}
	}
	sc := newScanner(src)
	head, _ := sc.br.Peek(readBufSize)
	if crOnly(head) {
		sc = newScanner(&crReader{r: sc.br})
		head, _ = sc.br.Peek(readBufSize)
		p.warn("", "lone CR line endings converted")
	}
	p.sc = sc
	if len(head) == 0 {
		if sc.readErr != nil {
			return nil, fmt.Errorf("parse: reading message: %w", sc.readErr)
		}
		if _, e := sc.br.Peek(1); e != nil && e != io.EOF {
			return nil, fmt.Errorf("parse: reading message: %w", e)
		}
		return nil, fmt.Errorf("parse: empty input: %w", ErrNotMessage)
	}
	if len(head) < readBufSize && len(bytes.TrimSpace(head)) == 0 {
		return nil, fmt.Errorf("parse: input holds only white space: %w", ErrNotMessage)
	}
	kind, skip, notes := classifyStart(head)
	for _, n := range notes {
		p.warn("header", n)
	}
	if kind == startText {
		return p.parseText()
	}
	if skip > 0 {
		_, _ = sc.br.Discard(skip)
	}
	h, end := readHeader(sc, func(w string) { p.warn("header", w) })
	if kind == startEmpty {
		p.warn("header", "empty header block")
	}
	p.msg.Header = h
	p.hint = headerHint(h)
	p.msg.Header.hint = p.hint
	p.fillHeader()
	if end == endHit && sc.hit.kind == hitEOF {
		m.HeaderOnly = true
	}
	p.out = &content{}
	p.entity(h, "", "text/plain", false, p.out)
	if sc.readErr != nil {
		return nil, fmt.Errorf("parse: reading message: %w", sc.readErr)
	}
	p.assemble(p.out)
	p.finish()
	return m, nil
}

// parseText handles input without a header block: all of it is the text.
func (p *parser) parseText() (*Message, error) {
	data, over, err := readAllLimit(p.sc.body(), p.opts.MaxSize, true, nil)
	if err != nil {
		return nil, fmt.Errorf("parse: reading message: %w", err)
	}
	if over {
		p.warn("", fmt.Sprintf("text longer than %d bytes truncated", p.opts.MaxSize))
		_, _ = io.Copy(io.Discard, p.sc.body())
	}
	if p.sc.readErr != nil {
		return nil, fmt.Errorf("parse: reading message: %w", p.sc.readErr)
	}
	if isBinary(data) {
		return nil, fmt.Errorf("parse: binary input, no header and no text: %w", ErrNotMessage)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("parse: input holds only white space: %w", ErrNotMessage)
	}
	text, w := decodeCharset(data, "", "")
	if w != "" {
		p.warn("body", w)
	}
	p.msg.NoHeader = true
	p.msg.Text = cleanBody(text)
	p.warn("", "no header block: the whole input was taken as text")
	p.finish()
	return p.msg, nil
}

// isBinary reports whether data looks like binary rather than text: a NUL
// byte, or more than 10% control characters, in its first 8 KB (UTF-16
// with a byte order mark is text).
func isBinary(data []byte) bool {
	if bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) {
		return false
	}
	if len(data) > 8192 {
		data = data[:8192]
	}
	ctl := 0
	for _, c := range data {
		if c == 0 {
			return true
		}
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1b {
			ctl++
		}
	}
	return ctl*10 > len(data)
}

// headerHint returns the first legacy charset the header declares, in
// Content-Type or in an encoded-word of Subject, From or To.
func headerHint(h Header) string {
	ct, _ := parseMediaHeader(h.Raw("Content-Type"), "")
	if cs := charsetHint(ct.params["charset"]); cs != "" {
		return cs
	}
	for _, name := range []string{"Subject", "From", "To", "Cc"} {
		v := h.Raw(name)
		for i := strings.Index(v, "=?"); i >= 0 && i < len(v); {
			if w, end, ok := parseEncodedWord(v, i); ok {
				if cs := charsetHint(w.charset); cs != "" {
					return cs
				}
				i = end
			} else {
				i += 2
			}
			j := strings.Index(v[i:], "=?")
			if j < 0 {
				break
			}
			i += j
		}
	}
	return ""
}

// fillHeader sets the fields of the message taken from its header.
func (p *parser) fillHeader() {
	h, m := p.msg.Header, p.msg
	subj, w := decodeHeaderText(h.Raw("Subject"), p.hint)
	for _, x := range w {
		p.warn("Subject", x)
	}
	m.Subject = cleanHeaderText(subj)
	if ids := parseMsgIDs(h.Raw("Message-ID")); len(ids) > 0 {
		m.MessageID = ids[0]
	}
	m.InReplyTo = parseMsgIDs(strings.Join(h.RawValues("In-Reply-To"), " "))
	m.References = parseMsgIDs(strings.Join(h.RawValues("References"), " "))
	first := func(name string) Address {
		for _, v := range h.RawValues(name) {
			l, w := parseAddressList(v, p.hint)
			for _, x := range w {
				p.warn(name, x)
			}
			for _, a := range l {
				if a.Address != "" {
					return a
				}
			}
			if len(l) > 0 {
				return l[0]
			}
		}
		return Address{}
	}
	list := func(name string) []Address {
		var all []Address
		for _, v := range h.RawValues(name) {
			l, w := parseAddressList(v, p.hint)
			for _, x := range w {
				p.warn(name, x)
			}
			all = append(all, l...)
		}
		return all
	}
	m.From = first("From")
	m.Sender = first("Sender")
	m.ReplyTo = list("Reply-To")
	m.To = list("To")
	m.Cc = list("Cc")
	dates := h.RawValues("Date")
	for _, d := range dates {
		if t, ok := parseDate(d); ok {
			m.Date = t
			break
		}
	}
	switch {
	case len(dates) == 0 || (len(dates) == 1 && strings.TrimSpace(dates[0]) == ""):
		if h.Len() > 0 {
			p.warn("Date", "missing")
		}
	case m.Date.IsZero():
		p.warn("Date", fmt.Sprintf("cannot parse %q", validUTF8(dates[0])))
	}
}

// finish makes the last checks: sizes, dropped attachments, valid UTF-8.
func (p *parser) finish() {
	m := p.msg
	if p.cnt != nil {
		m.Size = p.cnt.n
	}
	if p.depth == 0 && len(p.budget.dropped) > 0 {
		names := p.budget.dropped
		more := ""
		if len(names) > 20 {
			more = fmt.Sprintf(" and %d more", len(names)-20)
			names = names[:20]
		}
		p.warn("", fmt.Sprintf("message larger than the %d bytes limit: %d attachment(s) left out: %s%s",
			p.opts.MaxSize, len(p.budget.dropped), strings.Join(names, ", "), more))
	}
	m.Text = validUTF8(m.Text)
	m.HTML = validUTF8(m.HTML)
	m.Subject = validUTF8(m.Subject)
	m.From.Name, m.From.Address = validUTF8(m.From.Name), validUTF8(m.From.Address)
	for i := range m.Attachments {
		m.Attachments[i].Filename = validUTF8(m.Attachments[i].Filename)
		m.Attachments[i].ContentID = validUTF8(m.Attachments[i].ContentID)
	}
}

// cleanBody normalises a decoded body: CRLF becomes LF, NUL characters
// (which databases refuse in text) are dropped, the result is valid UTF-8.
func cleanBody(s string) string {
	if strings.Contains(s, "\r\n") {
		s = strings.ReplaceAll(s, "\r\n", "\n")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}
