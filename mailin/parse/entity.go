package parse

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Walking the MIME tree: which parts are the body, which are attachments,
// and what multipart/alternative keeps.

// Limits against hostile structure.
const (
	maxNesting  = 40      // multipart levels
	maxParts    = 10000   // parts in one message
	maxPreamble = 1 << 20 // preamble kept in case a multipart has no part
)

// content collects what the parts of a multipart contribute.
type content struct {
	texts    []string
	htmls    []string
	enriched []string // text/enriched alternatives, used when there is no text/plain
	atts     []Part
	embedded []*Message
}

// partName names a part in warnings: "body" for the message itself,
// "part 1.2" for the second part of the first part.
func partName(path string) string {
	if path == "" {
		return "body"
	}
	return "part " + path
}

// entity processes one entity (the message or a part) whose header was
// read: its body is next in the scanner.
func (p *parser) entity(h Header, path, defType string, inAlt bool, out *content) {
	where := partName(path)
	ctRaw := h.Raw("Content-Type")
	ct, w := parseMediaHeader(ctRaw, p.hint)
	for _, x := range w {
		p.warn(where, x)
	}
	mt := ct.value
	switch {
	case mt == "":
		mt = defType
	case mt == "text":
		mt = "text/plain"
	case !strings.Contains(mt, "/") || strings.HasPrefix(mt, "/") || strings.HasSuffix(mt, "/"):
		// RFC 2045 says text/plain; a named part is rather a file whose
		// type its name tells.
		fix := defType
		if name := ct.params["name"]; name != "" {
			fix = "application/octet-stream"
			if t, _, err := mime.ParseMediaType(mime.TypeByExtension(filepath.Ext(name))); err == nil && t != "" {
				fix = t
			}
		}
		p.warn(where, fmt.Sprintf("invalid Content-Type %q, read as %s", mt, fix))
		mt = fix
	}
	if p.hint == "" {
		p.hint = charsetHint(ct.params["charset"])
	}
	if strings.HasPrefix(mt, "multipart/") {
		b := strings.TrimRight(ct.params["boundary"], " \t")
		switch {
		case b == "":
			p.warn(where, mt+" without boundary, read as text/plain")
			mt = "text/plain"
		case p.sc.isOpenBoundary(b):
			p.warn(where, "nested multipart reuses the boundary of an enclosing one: its parts are read as parts of the enclosing one")
			p.sc.skipToHit()
			return
		case len(p.sc.bounds) >= maxNesting:
			p.warn(where, "multiparts nested too deep: the rest is kept as one attachment")
			mt = "application/octet-stream"
		default:
			p.multipart(mt, ct, b, path, out)
			return
		}
	}
	p.leaf(h, mt, ct, path, inAlt, out)
}

// multipart reads the parts of a multipart entity.
func (p *parser) multipart(mt string, ct mediaHeader, boundary, path string, out *content) {
	where := partName(path)
	sc := p.sc
	if mt == "multipart/report" && p.msg.ReportType == "" {
		p.msg.ReportType = strings.ToLower(strings.TrimSpace(ct.params["report-type"]))
	}
	level := sc.push(boundary)
	var pre []byte
	for line := sc.next(); line != nil; line = sc.next() {
		if len(pre) < maxPreamble {
			pre = append(pre, line...)
		}
	}
	alt := mt == "multipart/alternative"
	childType := "text/plain"
	if mt == "multipart/digest" {
		childType = "message/rfc822"
	}
	var alts []*content
	n := 0
	for sc.hit.kind == hitBoundary && sc.hit.level == level && !sc.hit.final {
		sc.clearHit()
		n++
		if p.nparts >= maxParts {
			if p.nparts == maxParts {
				p.warn(where, fmt.Sprintf("more than %d parts: the rest is skipped", maxParts))
				p.nparts++
			}
			sc.skipToHit()
			continue
		}
		p.nparts++
		cpath := strconv.Itoa(n)
		if path != "" {
			cpath = path + "." + cpath
		}
		ch, _ := readHeader(sc, func(w string) { p.warn(partName(cpath), w) })
		ch.hint = p.hint
		target := out
		if alt {
			target = &content{}
			alts = append(alts, target)
		}
		p.entity(ch, cpath, childType, alt, target)
		sc.skipToHit()
	}
	switch {
	case sc.hit.kind == hitBoundary && sc.hit.level == level:
		// The final boundary: the epilogue follows, up to the enclosing
		// boundary. Our own boundary no longer counts there.
		sc.clearHit()
		sc.pop(level)
		sc.skipToHit()
	case sc.hit.kind == hitBoundary:
		p.warn(where, "multipart not closed before the next boundary of the enclosing one")
	default:
		if n > 0 {
			p.warn(where, "multipart not closed: final boundary missing (truncated message?)")
		}
	}
	sc.pop(level)
	if alt {
		mergeAlternative(alts, out)
	}
	if n == 0 {
		p.warn(where, fmt.Sprintf("%s without any part (boundary %q not found)", mt, boundary))
		if len(bytes.TrimSpace(pre)) > 0 {
			text, w := decodeCharset(pre, ct.params["charset"], p.hint)
			if w != "" {
				p.warn(where, w)
			}
			out.texts = append(out.texts, cleanBody(text))
		}
	}
}

// mergeAlternative keeps, of the alternatives, the first text/plain (a
// second one is rare, and rather a mislabelled HTML or enriched version),
// the last text/html (RFC 2046: the last is the preferred one),
// text/enriched converted when there is no text/plain, and the attachments
// and attached messages of all of them.
func mergeAlternative(alts []*content, out *content) {
	var textC, htmlC *content
	for _, c := range alts {
		if len(c.texts) > 0 && textC == nil {
			textC = c
		}
		if len(c.htmls) > 0 {
			htmlC = c
		}
	}
	if textC != nil {
		out.texts = append(out.texts, textC.texts...)
	} else {
		for _, c := range alts {
			if len(c.enriched) > 0 {
				out.texts = append(out.texts, c.enriched...)
				break
			}
		}
	}
	if htmlC != nil {
		out.htmls = append(out.htmls, htmlC.htmls...)
	}
	for _, c := range alts {
		out.atts = append(out.atts, c.atts...)
		out.embedded = append(out.embedded, c.embedded...)
	}
}

// leaf processes a part that is not a multipart.
func (p *parser) leaf(h Header, mt string, ct mediaHeader, path string, inAlt bool, out *content) {
	where := partName(path)
	cd, w := parseMediaHeader(h.Raw("Content-Disposition"), p.hint)
	for _, x := range w {
		p.warn(where, x)
	}
	disp := cd.value
	filename := ""
	for _, f := range []string{cd.params["filename"], ct.params["name"], cd.params["name"], ct.params["filename"]} {
		if f = cleanHeaderText(f); f != "" {
			filename = f
			break
		}
	}
	cteRaw := h.Raw("Content-Transfer-Encoding")
	cte := parseCTE(cteRaw)
	if cte == cteUnknown {
		p.warn(where, fmt.Sprintf("unknown Content-Transfer-Encoding %q, read as is", validUTF8(cteRaw)))
	}
	isBodyText := (mt == "text/plain" || mt == "text/html") && filename == "" && disp != "attachment"
	isEnriched := (mt == "text/enriched" || mt == "text/richtext") && inAlt && filename == "" && disp != "attachment"
	switch {
	case isBodyText || isEnriched:
		data, over, _ := p.readPart(cte, p.opts.MaxSize-p.budget.text, false, where)
		p.budget.text += int64(len(data))
		if over {
			p.warn(where, fmt.Sprintf("text beyond %d bytes left out", p.opts.MaxSize))
		}
		label := ct.params["charset"]
		if mt == "text/html" && label == "" && !utf8.Valid(data) {
			label = metaCharset(data)
		}
		text, w := decodeCharset(data, label, p.hint)
		if w != "" {
			p.warn(where, w)
		}
		text = cleanBody(text)
		switch {
		case isEnriched:
			out.enriched = append(out.enriched, enrichedToText(text))
		case mt == "text/html":
			out.htmls = append(out.htmls, text)
		default:
			out.texts = append(out.texts, text)
		}
	case mt == "message/rfc822" || mt == "message/global":
		p.attachedMessage(h, filename, disp, cte, where, out)
	default:
		data, over, uuName := p.readPart(cte, p.opts.MaxSize-p.budget.kept, true, where)
		if filename == "" {
			filename = uuName
		}
		part := Part{Filename: filename, ContentType: mt, Data: data, Inline: disp == "inline", ContentID: cleanCID(h.Raw("Content-ID"))}
		if over {
			p.drop(part)
			return
		}
		p.addPart(part, where, out)
	}
}

// readPart reads and decodes the body of the current part, keeping at most
// limit bytes. over says the part was bigger (or, for an attachment, that
// the input went past MaxSize): the rest of the part is then skipped, and
// the data is nil for an attachment, the first limit bytes for a body.
// uuName is the file name of uuencoded data.
func (p *parser) readPart(cte transferEncoding, limit int64, attachment bool, where string) (data []byte, over bool, uuName string) {
	var r io.Reader = p.sc.body()
	var b64 *base64Reader
	var qp *qpReader
	switch cte {
	case cteBase64:
		b64 = newBase64Reader(r)
		r = b64
	case cteQP:
		qp = newQPReader(r)
		r = qp
	}
	var stop func() bool
	if attachment && p.depth == 0 {
		stop = func() bool { return p.cnt.n > p.opts.MaxSize+readBufSize }
	}
	if limit < 0 {
		limit = 0
	}
	data, over, _ = readAllLimit(r, limit, !attachment, stop)
	if over {
		p.sc.skipToHit()
	}
	if cte == cteUU {
		data, uuName = decodeUU(data)
	}
	if b64 != nil && b64.junk > 0 {
		p.warn(where, fmt.Sprintf("%d byte(s) that are not base64 skipped", b64.junk))
	}
	if qp != nil && qp.junk > 0 {
		p.warn(where, fmt.Sprintf("%d malformed quoted-printable escape(s) kept as they are", qp.junk))
	}
	return data, over, uuName
}

// readAllLimit reads r to its end and returns its content. When r holds
// more than limit bytes, or when stop says so, it stops there and returns
// over = true with the bytes read if partial is set, else nil. The content
// is gathered in chunks and copied once at the end, so that memory peaks at
// twice its size (io.ReadAll's doubling reaches three times).
func readAllLimit(r io.Reader, limit int64, partial bool, stop func() bool) ([]byte, bool, error) {
	if limit < 0 {
		limit = 0
	}
	var chunks [][]byte
	var total int64
	size := 512
	over := false
	for {
		buf := make([]byte, size)
		n, err := io.ReadFull(r, buf)
		if int64(n) > limit-total {
			n = int(limit - total)
			over = true
		}
		if n > 0 {
			chunks = append(chunks, buf[:n])
			total += int64(n)
		}
		if over {
			break
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return joinChunks(chunks, total), false, err
		}
		if stop != nil && stop() {
			over = true
			break
		}
		if size < 1<<20 {
			size *= 2
		}
	}
	if over && !partial {
		return nil, true, nil
	}
	return joinChunks(chunks, total), over, nil
}

func joinChunks(chunks [][]byte, total int64) []byte {
	switch {
	case len(chunks) == 0:
		return []byte{}
	case len(chunks) == 1 && int64(cap(chunks[0])) <= 2*total+64:
		return chunks[0]
	}
	out := make([]byte, 0, total)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out
}

// cleanCID returns a Content-ID without brackets, spaces or comments.
func cleanCID(v string) string {
	v = strings.TrimSpace(stripComments(v))
	v = strings.TrimPrefix(v, "<")
	if i := strings.IndexByte(v, '>'); i >= 0 {
		v = v[:i]
	}
	return validUTF8(strings.Join(strings.Fields(v), ""))
}

// drop records an attachment left out for size.
func (p *parser) drop(part Part) {
	name := part.Filename
	if name == "" {
		name = "(" + part.ContentType + ")"
	}
	p.budget.dropped = append(p.budget.dropped, name)
}

// fits reports whether n more bytes of attachments may be kept.
func (p *parser) fits(n int) bool {
	if p.depth == 0 && p.cnt.n > p.opts.MaxSize+readBufSize {
		return false
	}
	return p.budget.kept+int64(n) <= p.opts.MaxSize
}

// isTNEF reports whether a part is a winmail.dat.
func isTNEF(mt, filename string) bool {
	return mt == "application/ms-tnef" || mt == "application/vnd.ms-tnef" || strings.EqualFold(filename, "winmail.dat")
}

// addPart keeps an attachment if it fits, expanding TNEF first. It returns
// the index of the part in out.atts, or -1 when it was left out.
func (p *parser) addPart(part Part, where string, out *content) int {
	if isTNEF(part.ContentType, part.Filename) && p.opts.ExpandTNEF != nil {
		parts, err := p.expandTNEF(part.Data)
		switch {
		case err != nil:
			p.warn(where, fmt.Sprintf("winmail.dat kept as it is: %v", err))
		case len(parts) == 0:
			p.warn(where, "winmail.dat kept as it is: the TNEF decoder found nothing in it")
		default:
			for _, x := range parts {
				ctype, _ := parseMediaHeader(x.ContentType, "")
				x.ContentType = ctype.value
				if x.ContentType == "" || !strings.Contains(x.ContentType, "/") {
					x.ContentType = "application/octet-stream"
				}
				x.Filename = validUTF8(x.Filename)
				x.ContentID = validUTF8(strings.Trim(x.ContentID, "<> "))
				if !p.fits(len(x.Data)) {
					p.drop(x)
					continue
				}
				p.budget.kept += int64(len(x.Data))
				out.atts = append(out.atts, x)
			}
			return -1
		}
	}
	if !p.fits(len(part.Data)) {
		p.drop(part)
		return -1
	}
	p.budget.kept += int64(len(part.Data))
	out.atts = append(out.atts, part)
	return len(out.atts) - 1
}

// expandTNEF calls Options.ExpandTNEF; a panic in it is an error.
func (p *parser) expandTNEF(data []byte) (parts []Part, err error) {
	defer func() {
		if rec := recover(); rec != nil {
			parts, err = nil, fmt.Errorf("parse: TNEF decoder panicked: %v", rec)
		}
	}()
	parts, err = p.opts.ExpandTNEF(data)
	if err != nil {
		err = fmt.Errorf("parse: TNEF: %w", err)
	}
	return parts, err
}

// attachedMessage keeps a message/rfc822 part as an attachment and parses
// it into out.embedded.
func (p *parser) attachedMessage(h Header, filename, disp string, cte transferEncoding, where string, out *content) {
	data, over, _ := p.readPart(cte, p.opts.MaxSize-p.budget.kept, true, where)
	if !over && len(bytes.TrimSpace(data)) == 0 {
		p.warn(where, "empty attached message left out")
		return
	}
	part := Part{Filename: filename, ContentType: "message/rfc822", Data: data, Inline: disp == "inline", ContentID: cleanCID(h.Raw("Content-ID"))}
	if over || !p.fits(len(data)) {
		if part.Filename == "" {
			part.Filename = "message.eml"
		}
		p.drop(part)
		return
	}
	idx := p.addPart(part, where, out)
	if idx < 0 {
		return
	}
	var sub *Message
	if p.depth >= maxEmbedDepth {
		p.warn(where, "attached message nested too deep: kept, not parsed")
	} else {
		sp := &parser{opts: p.opts, budget: p.budget, depth: p.depth + 1}
		m, err := sp.parse(bytes.NewReader(data))
		switch {
		case err != nil:
			p.warn(where, fmt.Sprintf("attached message cannot be parsed: %v", err))
		case m.NoHeader:
			p.warn(where, "attached message has no header: kept as a file only")
			sub = m
		default:
			sub = m
			out.embedded = append(out.embedded, m)
		}
	}
	if filename == "" {
		name := "message.eml"
		if sub != nil && !sub.NoHeader && sub.Subject != "" {
			name = sub.Subject + ".eml"
		}
		out.atts[idx].Filename = name
	}
}

// assemble fills the message from what its parts gave.
func (p *parser) assemble(out *content) {
	m := p.msg
	m.Text = joinBodies(out.texts)
	m.HTML = joinBodies(out.htmls)
	m.Attachments = out.atts
	m.Embedded = out.embedded
	if m.HTML != "" {
		refs := cidRefs(m.HTML)
		for i := range m.Attachments {
			if id := m.Attachments[i].ContentID; id != "" && refs[strings.ToLower(id)] {
				m.Attachments[i].Inline = true
			}
		}
	}
}

// joinBodies joins the text (or HTML) bodies of a message, one per line.
func joinBodies(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	var b strings.Builder
	for _, s := range parts {
		if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
			b.WriteByte('\n')
		}
		b.WriteString(s)
	}
	return b.String()
}
