package bounce

import (
	"bytes"
	"strings"
)

// The returned message: which message bounced, from the headers the report gives back
// (text/rfc822-headers, message/rfc822, or a header block quoted in the text).

// returnedHeaders finds the header of the message that bounced. Sources, in order: a headers part,
// an attached message, a header block quoted in the notification, an attachment holding only
// headers, a part whose own header is the returned message's (a part sent without MIME header).
// The first block with a Message-ID wins; otherwise the first block found.
func (m *message) returnedHeaders() header {
	var blocks []header
	for _, p := range m.parts {
		if isHeadersType(p.mediaType) {
			if h, _ := splitHeader([]byte(strings.TrimLeft(p.text, "\n"))); len(h) > 0 {
				blocks = append(blocks, h)
			}
		}
	}
	for _, p := range m.parts {
		if isMessageType(p.mediaType) {
			if h, _ := splitHeader(trimLeadingBlank(p.body)); len(h) > 0 {
				blocks = append(blocks, h)
			}
		}
	}
	for _, t := range m.notificationTexts() {
		if n := splitNotice(t); n.returned != "" {
			if h := quotedHeader(n.returned); h != nil {
				blocks = append(blocks, h)
			}
		}
	}
	for _, p := range m.parts {
		if p.attached && isTextual(p.mediaType) {
			if h := quotedHeader(p.text); h != nil {
				blocks = append(blocks, h)
			}
		}
	}
	for _, p := range m.parts {
		if p.depth > 0 && !p.container && (p.hdr.has("Message-ID") || p.hdr.has("Received")) {
			blocks = append(blocks, p.hdr)
		}
	}
	for _, h := range blocks {
		if messageID(h.get("Message-ID")) != "" {
			return h
		}
	}
	if len(blocks) > 0 {
		return blocks[0]
	}
	return nil
}

// quotedHeader reads a header block at the start of text, after blank or rule lines, if it looks
// like a message header.
func quotedHeader(text string) header {
	for range 6 {
		line, rest, found := strings.Cut(text, "\n")
		t := strings.TrimSpace(line)
		if t != "" && strings.Trim(t, "-=*_~ ") != "" {
			break
		}
		if !found {
			return nil
		}
		text = rest
	}
	h, _ := splitHeader([]byte(text))
	if len(h) < 2 {
		return nil
	}
	for _, f := range h {
		n := strings.ToLower(f.name)
		if n == "message-id" || n == "received" || n == "from" || n == "to" || n == "subject" || n == "return-path" {
			return h
		}
	}
	return nil
}

// trimLeadingBlank drops the blank lines, and an mbox "From " line, before an attached message.
func trimLeadingBlank(b []byte) []byte {
	for len(b) > 0 {
		line, rest := cutLine(b)
		if len(bytes.TrimSpace(line)) > 0 && !bytes.HasPrefix(line, []byte("From ")) && !bytes.HasPrefix(line, []byte(">From ")) {
			return b
		}
		b = rest
	}
	return b
}

// messageID returns the first msg-id of a Message-ID, In-Reply-To or References value, without
// its angle brackets.
func messageID(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i+1:], '>'); j > 0 {
			return strings.TrimSpace(v[i+1 : i+1+j])
		}
		return ""
	}
	if f := strings.Fields(v); len(f) > 0 && strings.Contains(f[0], "@") {
		return f[0]
	}
	return ""
}
