package mailout

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"guichet/signed"
)

// File is an attachment of an outgoing mail.
type File struct {
	Name        string
	ContentType string
	Data        []byte
}

// Message is an outgoing mail before it is encoded.
type Message struct {
	From        mail.Address // the noreply address with the brand's display name
	To          mail.Address
	ReplyTo     string // the ticket's signed reply address
	Subject     string
	Date        time.Time
	MessageID   string   // without angle brackets
	InReplyTo   string   // without angle brackets
	References  []string // oldest first
	ThreadTopic string   // Outlook's conversation topic: the subject without the tag
	ThreadIndex string   // Outlook's conversation index
	Loop        string   // the signed loop header's value
	Lang        string
	Text        string
	HTML        string
	Files       []File
}

// Build encodes m as an RFC 5322 message: multipart/alternative text and HTML, inside
// multipart/mixed when it has attachments; non-ASCII names and subjects encoded (RFC 2047,
// RFC 2231 for file names); the headers of RFC 3834 and Outlook that keep robots from answering.
func Build(m Message) ([]byte, error) {
	h := m.header()
	// Sized once for what it will hold — quoted-printable adds a few percent, base64 a third —
	// instead of doubling line by line as the encoders write.
	size := 4096 + (len(m.Text)+len(m.HTML))*9/8
	for _, f := range m.Files {
		size += 512 + len(f.Data)*139/100
	}
	var buf bytes.Buffer
	buf.Grow(size)
	if len(m.Files) == 0 {
		return buildAlternative(&buf, h, m.Text, m.HTML)
	}
	mixed, err := mail.CreateWriter(&buf, h)
	if err != nil {
		return nil, err
	}
	alt, err := mixed.CreateInline()
	if err != nil {
		return nil, err
	}
	if err := writePart(alt, "text/plain", m.Text); err != nil {
		return nil, err
	}
	if err := writePart(alt, "text/html", m.HTML); err != nil {
		return nil, err
	}
	if err := alt.Close(); err != nil {
		return nil, err
	}
	for _, f := range m.Files {
		var ah mail.AttachmentHeader
		ct := f.ContentType
		if _, _, err := mime.ParseMediaType(ct); err != nil || ct == "" {
			ct = "application/octet-stream"
		}
		ah.Set("Content-Type", ct)
		ah.SetFilename(f.Name)
		w, err := mixed.CreateAttachment(ah)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.Data); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	}
	if err := mixed.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// buildAlternative writes a message of two parts, text and HTML, as go-message's InlineWriter
// would — the header by go-message, the parts' headers as it writes them (partHeaders) — but
// with the bodies encoded by appendQP: the common case, every notification without
// attachments, in a third of the time (BenchmarkAcknowledgement). h is the caller's to give:
// its Content-Type is set here.
func buildAlternative(buf *bytes.Buffer, h mail.Header, text, html string) ([]byte, error) {
	boundary, err := newBoundary()
	if err != nil {
		return nil, err
	}
	// What message.CreateWriter writes for a multipart header that has its MIME-Version and its
	// boundary, without its two copies of the header and the boundary it draws to replace.
	h.SetContentType("multipart/alternative", map[string]string{"boundary": boundary})
	h.Del("Content-Transfer-Encoding")
	if err := textproto.WriteHeader(buf, h.Header.Header); err != nil {
		return nil, err
	}
	// The parts go after the header in the same array: appended in place while the buffer's
	// size holds, and grown once if quoted-printable took more (a copy back into buf would
	// grow it a second time).
	b := buf.Bytes()
	b = append(append(append(b, "--"...), boundary...), "\r\n"...)
	b = appendQP(append(b, partHeaders.text...), text)
	b = append(append(append(b, "\r\n--"...), boundary...), "\r\n"...)
	b = appendQP(append(b, partHeaders.html...), html)
	b = append(append(append(b, "\r\n--"...), boundary...), "--\r\n"...)
	return b, nil
}

// partHeaders are the header blocks of the text and the HTML part, written once by go-message
// as its InlineWriter writes them for every part.
var partHeaders = func() (p struct{ text, html []byte }) {
	for _, c := range []struct {
		ct  string
		out *[]byte
	}{{"text/plain", &p.text}, {"text/html", &p.html}} {
		var ih mail.InlineHeader
		ih.SetContentType(c.ct, map[string]string{"charset": "utf-8"})
		ih.Set("Content-Disposition", "inline")
		ih.Set("Content-Transfer-Encoding", "quoted-printable")
		var b bytes.Buffer
		if err := textproto.WriteHeader(&b, ih.Header.Header); err != nil {
			panic(err)
		}
		*c.out = b.Bytes()
	}
	return p
}()

// newBoundary is a multipart boundary as go-message draws them: 30 random octets in hex.
func newBoundary() (string, error) {
	var b [30]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// header is the message's header, without its Content-Type.
func (m Message) header() mail.Header {
	var h mail.Header
	h.SetDate(m.Date)
	h.SetAddressList("From", []*mail.Address{&m.From})
	h.SetAddressList("To", []*mail.Address{&m.To})
	if m.ReplyTo != "" {
		h.SetAddressList("Reply-To", []*mail.Address{{Address: m.ReplyTo}})
	}
	h.SetSubject(oneLine(m.Subject))
	h.SetMessageID(m.MessageID)
	if m.InReplyTo != "" {
		h.SetMsgIDList("In-Reply-To", []string{m.InReplyTo})
	}
	if len(m.References) > 0 {
		h.SetMsgIDList("References", m.References)
	}
	if m.ThreadTopic != "" {
		h.SetText("Thread-Topic", oneLine(m.ThreadTopic))
	}
	if m.ThreadIndex != "" {
		h.Set("Thread-Index", m.ThreadIndex)
	}
	h.Set("MIME-Version", "1.0")
	h.Set("Auto-Submitted", "auto-generated")
	h.Set("X-Auto-Response-Suppress", "All")
	if m.Loop != "" {
		h.Set(signed.LoopHeader, m.Loop)
	}
	if m.Lang != "" {
		h.Set("Content-Language", m.Lang)
	}
	return h
}

func writePart(alt *mail.InlineWriter, ct, body string) error {
	var ih mail.InlineHeader
	ih.SetContentType(ct, map[string]string{"charset": "utf-8"})
	w, err := alt.CreatePart(ih)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, body); err != nil {
		return err
	}
	return w.Close()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// ThreadIndex returns Outlook's Thread-Index for a message sent at t in the conversation that
// began at start and is identified by key: a 22-byte header block (reserved byte, the start time
// as FILETIME, a GUID derived from key) and, for a later message, one 5-byte child block
// carrying the time elapsed.
func ThreadIndex(key string, start, t time.Time) string {
	const epochDiff = 116444736000000000 // 100-ns intervals from 1601 to 1970
	ft := uint64(start.UnixNano()/100) + epochDiff
	b := make([]byte, 22, 27)
	var ftb [8]byte
	binary.BigEndian.PutUint64(ftb[:], ft)
	copy(b[0:6], ftb[0:6]) // the high 48 bits of FILETIME; Outlook uses the first byte as reserved, which the high bits fill
	guid := sha256.Sum256([]byte("guichet thread " + key))
	copy(b[6:22], guid[:16])
	if d := t.Sub(start); d > 0 {
		delta := uint64(d.Nanoseconds() / 100)
		var v uint64
		if delta < 1<<49 {
			v = (delta >> 18) & 0x7FFFFFFF
		} else {
			v = 1<<31 | (delta>>23)&0x7FFFFFFF
		}
		// 32 bits of time, then 8 bits: random nibble and sequence count (0).
		r := guid[16] & 0xF0
		b = append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v), r)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// references returns the ids for References, oldest first, without duplicates or empties,
// at most the first and the last nine (RFC 5322 asks for a bounded list in practice).
func references(ids ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, id := range ids {
		id = strings.Trim(strings.TrimSpace(id), "<>")
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, id)
	}
	if len(out) > 10 {
		out = append(out[:1], out[len(out)-9:]...)
	}
	return out
}

func sizeOf(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", (n+1023)>>10)
	}
	return fmt.Sprintf("%d B", n)
}
