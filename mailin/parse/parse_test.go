package parse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// crlf joins lines with CRLF, as on the wire.
func crlf(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n" }

func mustParse(t *testing.T, raw string, o *Options) *Message {
	t.Helper()
	m, err := Parse(strings.NewReader(raw), o)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return m
}

func wantWarning(t *testing.T, m *Message, sub string) {
	t.Helper()
	if !hasWarning(m, sub) {
		t.Errorf("got warnings %q, want one containing %q", m.Warnings, sub)
	}
}

func TestParseHeaderFields(t *testing.T) {
	m := mustParse(t, crlf(
		"Return-Path: <bounce@example.com>",
		"Message-ID: <Abc.123@mail.example.com>",
		"In-Reply-To: <parent@example.com>",
		"References: <root@example.com>",
		"\t<parent@example.com>",
		"From: =?iso-8859-1?Q?Jean_Dupr=E9?= <Jean.Dupre@Client.Example>",
		"Sender: Secretary <sec@client.example>",
		"Reply-To: Support <support@client.example>, other@client.example",
		"To: help@support.example, \"Doe, Jane\" <jane@support.example>",
		"Cc: boss@client.example",
		"Subject: =?utf-8?B?UmU6IGltcHJpbWFudGUg?=",
		" =?utf-8?Q?en_panne_=E2=9C=94?=",
		"Date: Tue, 1 Apr 2025 09:30:00 +0200",
		"X-Custom: one",
		"X-Custom: =?utf-8?q?two_=C3=A9?=",
		"",
		"Hello."), nil)
	want := &Message{
		MessageID:  "Abc.123@mail.example.com",
		InReplyTo:  []string{"parent@example.com"},
		References: []string{"root@example.com", "parent@example.com"},
		From:       Address{"jean.dupre@client.example", "Jean Dupré"},
		Sender:     Address{"sec@client.example", "Secretary"},
		ReplyTo:    []Address{{"support@client.example", "Support"}, {"other@client.example", ""}},
		To:         []Address{{"help@support.example", ""}, {"jane@support.example", "Doe, Jane"}},
		Cc:         []Address{{"boss@client.example", ""}},
		Subject:    "Re: imprimante en panne ✔",
		Date:       time.Date(2025, 4, 1, 7, 30, 0, 0, time.UTC),
		Text:       "Hello.\n",
	}
	got := *m
	got.Header, got.Size, got.Warnings = Header{}, 0, nil
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("got  %+v\nwant %+v", &got, want)
	}
	if len(m.Warnings) != 0 {
		t.Errorf("unexpected warnings %q", m.Warnings)
	}
	if got, want := m.Header.Values("x-custom"), []string{"one", "two é"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Header.Values: got %q, want %q", got, want)
	}
	if got := m.Header.Get("Return-Path"); got != "<bounce@example.com>" {
		t.Errorf("Header.Get: got %q", got)
	}
}

func TestParseStructure(t *testing.T) {
	const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
	raw := crlf(
		"From: a@example.com",
		"Subject: structure",
		"Date: Tue, 1 Apr 2025 09:30:00 +0000",
		"MIME-Version: 1.0",
		`Content-Type: multipart/mixed; boundary="mixed"`,
		"",
		"This is a multi-part message in MIME format.",
		"--mixed",
		`Content-Type: multipart/alternative; boundary="alt"`,
		"",
		"--alt",
		"Content-Type: text/plain; charset=iso-8859-1",
		"Content-Transfer-Encoding: quoted-printable",
		"",
		"Caf=E9 cr=E8me",
		"--alt",
		`Content-Type: multipart/related; boundary="rel"`,
		"",
		"--rel",
		"Content-Type: text/html; charset=utf-8",
		"",
		`<p>Café <img src="cid:logo@x"></p>`,
		"--rel",
		"Content-Type: image/png",
		"Content-Transfer-Encoding: base64",
		"Content-ID: <logo@x>",
		"",
		png,
		"--rel--",
		"--alt--",
		"--mixed",
		"Content-Type: application/pdf; name=\"=?utf-8?q?r=C3=A9sum=C3=A9.pdf?=\"",
		"Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9%20final.pdf",
		"Content-Transfer-Encoding: base64",
		"",
		"JVBERi0xLg==",
		"--mixed",
		"Content-Type: message/rfc822",
		"",
		"From: b@example.com",
		"Subject: the original",
		"",
		"Original text.",
		"--mixed--",
		"epilogue")
	m := mustParse(t, raw, nil)
	if m.Text != "Café crème" {
		t.Errorf("Text: got %q", m.Text)
	}
	if m.HTML != `<p>Café <img src="cid:logo@x"></p>` {
		t.Errorf("HTML: got %q", m.HTML)
	}
	if len(m.Attachments) != 3 {
		t.Fatalf("got attachments %v, want 3", attachmentNames(m))
	}
	img, pdf, eml := m.Attachments[0], m.Attachments[1], m.Attachments[2]
	if img.ContentType != "image/png" || !img.Inline || img.ContentID != "logo@x" || len(img.Data) != 70 {
		t.Errorf("image: got %+v", img)
	}
	if pdf.Filename != "résumé final.pdf" || pdf.ContentType != "application/pdf" || string(pdf.Data) != "%PDF-1." || pdf.Inline {
		t.Errorf("pdf: got %q %q %q %v", pdf.Filename, pdf.ContentType, pdf.Data, pdf.Inline)
	}
	if eml.Filename != "the original.eml" || eml.ContentType != "message/rfc822" || !strings.HasPrefix(string(eml.Data), "From: b@example.com") {
		t.Errorf("message: got %q %q %q", eml.Filename, eml.ContentType, eml.Data)
	}
	if len(m.Embedded) != 1 || m.Embedded[0].Subject != "the original" || m.Embedded[0].Text != "Original text." {
		t.Errorf("embedded: got %+v", m.Embedded)
	}
	if len(m.Warnings) != 0 {
		t.Errorf("unexpected warnings %q", m.Warnings)
	}
}

func TestParseBodies(t *testing.T) {
	tests := []struct {
		name       string
		raw        string
		text, html string
		atts       int
		warn       string
	}{
		{"html only", crlf("From: a@b.c", "Content-Type: text/html; charset=utf-8", "", "<p>hi</p>"), "", "<p>hi</p>\n", 0, ""},
		{"no content type", crlf("From: a@b.c", "", "plain"), "plain\n", "", 0, ""},
		{"lf line endings", "From: a@b.c\nSubject: s\n\nline 1\nline 2\n", "line 1\nline 2\n", "", 0, ""},
		{"cr line endings", "From: a@b.c\rSubject: s\r\rline 1\rline 2\r", "line 1\nline 2\n", "", 0, "lone CR"},
		{"mbox From line", "From a@b.c Mon Jan  1 00:00:00 2024\nFrom: a@b.c\n\nbody\n", "body\n", "", 0, ""},
		{"utf-7 body", crlf("From: a@b.c", "Content-Type: text/plain; charset=utf-7", "", "Hi Mom -+Jjo--!"), "Hi Mom -☺-!\n", "", 0, ""},
		{"unknown charset", crlf("From: a@b.c", "Content-Type: text/plain; charset=x-foo", "", "caf\xe9"), "café\n", "", 0, `unknown charset "x-foo"`},
		{"lying utf-8", crlf("From: a@b.c", "Content-Type: text/plain; charset=utf-8", "", "caf\xe9"), "café\n", "", 0, `"utf-8" declared`},
		{"html meta charset", crlf("From: a@b.c", "Content-Type: text/html", "", `<meta charset="iso-8859-2"><p>Za`+"\xbf\xf3\xb3\xe6"+`</p>`), "", `<meta charset="iso-8859-2"><p>Zażółć</p>` + "\n", 0, ""},
		{"charset hint from subject", crlf("From: a@b.c", "Subject: =?koi8-r?B?8NLJ18XU?=", "", "\xf0\xd2\xc9\xd7\xc5\xd4"), "Привет\n", "", 0, "koi8-r"},
		{"text/plain attachment", crlf("From: a@b.c", "Content-Type: text/plain; name=log.txt", "Content-Disposition: attachment", "", "log"), "", "", 1, ""},
		{"top-level attachment", crlf("From: a@b.c", "Content-Type: application/octet-stream", "", "data"), "", "", 1, ""},
		{"nul in body", crlf("From: a@b.c", "", "a\x00b"), "ab\n", "", 0, ""},
		{"unknown transfer encoding", crlf("From: a@b.c", "Content-Transfer-Encoding: base9000", "", "kept"), "kept\n", "", 0, "base9000"},
		{"base64 junk", crlf("From: a@b.c", "Content-Transfer-Encoding: base64", "", "aGVs*bG8="), "hello", "", 0, "not base64"},
		{"missing final boundary", crlf("From: a@b.c", "Content-Type: multipart/mixed; boundary=b", "", "--b", "", "one", "--b", "", "two"), "one\ntwo\n", "", 0, "final boundary missing"},
		{"multipart without boundary", crlf("From: a@b.c", "Content-Type: multipart/mixed", "", "text"), "text\n", "", 0, "without boundary"},
		{"boundary never found", crlf("From: a@b.c", "Content-Type: multipart/mixed; boundary=zz", "", "text"), "text\n", "", 0, "without any part"},
		{"part without header", crlf("From: a@b.c", "Content-Type: multipart/mixed; boundary=b", "", "--b", "no blank line", "--b--"), "no blank line", "", 0, ""},
		{"part header without blank line", crlf("From: a@b.c", "Content-Type: multipart/mixed; boundary=b", "", "--b", "Content-Type: text/plain", "body text", "--b--"), "body text", "", 0, "not ended by a blank line"},
		{"inner multipart not closed", crlf("From: a@b.c", "Content-Type: multipart/mixed; boundary=out", "", "--out",
			"Content-Type: multipart/alternative; boundary=in", "", "--in", "", "inner", "--out", "", "outer", "--out--"), "inner\nouter", "", 0, "not closed before"},
		{"text after final boundary", crlf("From: a@b.c", "Content-Type: multipart/mixed; boundary=b", "", "--b", "", "x", "--b--", "--b", "", "epilogue"), "x", "", 0, ""},
		{"enriched only alternative", crlf("From: a@b.c", "Content-Type: multipart/alternative; boundary=b", "", "--b", "Content-Type: text/enriched", "", "<bold>Hi</bold>", "--b", "Content-Type: text/html", "", "<b>Hi</b>", "--b--"), "Hi", "<b>Hi</b>", 0, ""},
		{"digest", crlf("From: a@b.c", "Content-Type: multipart/digest; boundary=b", "", "--b", "", "Subject: one", "", "1", "--b--"), "", "", 1, ""},
		{"invalid content type with a name", crlf("From: a@b.c", "Content-Type: pdf; name=report.pdf", "", "%PDF"), "", "", 1, `read as application/pdf`},
		{"invalid content type", crlf("From: a@b.c", "Content-Type: plain", "", "text"), "text\n", "", 0, `read as text/plain`},
		{"uuencode", crlf("From: a@b.c", "Content-Type: multipart/mixed; boundary=b", "", "--b", "Content-Type: application/octet-stream", "Content-Transfer-Encoding: x-uuencode", "", "begin 644 hi.txt", "%:&5L;&\\*", "`", "end", "--b--"), "", "", 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustParse(t, tt.raw, nil)
			if m.Text != tt.text {
				t.Errorf("Text: got %q, want %q", m.Text, tt.text)
			}
			if m.HTML != tt.html {
				t.Errorf("HTML: got %q, want %q", m.HTML, tt.html)
			}
			if len(m.Attachments) != tt.atts {
				t.Errorf("got attachments %v, want %d", attachmentNames(m), tt.atts)
			}
			if tt.warn != "" {
				wantWarning(t, m, tt.warn)
			}
		})
	}
}

func TestParseNotAMessage(t *testing.T) {
	m := mustParse(t, "Hi Bob,\n\nthanks for the quick fix. Caf\xe9 is on me.\n", nil)
	if !m.NoHeader || m.HeaderOnly || m.Text != "Hi Bob,\n\nthanks for the quick fix. Café is on me.\n" {
		t.Errorf("got NoHeader %v HeaderOnly %v Text %q", m.NoHeader, m.HeaderOnly, m.Text)
	}
	wantWarning(t, m, "no header block")

	// "Note: …" looks like a field but is no header.
	m = mustParse(t, "Note: the printer is fixed.\n\nRegards\n", nil)
	if !m.NoHeader || !strings.HasPrefix(m.Text, "Note: the printer") {
		t.Errorf("got NoHeader %v Text %q", m.NoHeader, m.Text)
	}

	// A blank first line is an empty header block.
	m = mustParse(t, "\nbody only\n", nil)
	if m.NoHeader || m.Text != "body only\n" {
		t.Errorf("got NoHeader %v Text %q", m.NoHeader, m.Text)
	}
	wantWarning(t, m, "empty header block")

	for _, in := range []string{"", "   \r\n\t\n", "\x00\x01\x02binary\x00\xff\xfe\x03"} {
		if m, err := Parse(strings.NewReader(in), nil); err == nil || !errors.Is(err, ErrNotMessage) || m != nil {
			t.Errorf("Parse(%q): got %v, %v, want ErrNotMessage", in, m, err)
		}
	}
}

func TestParseHeaderOnly(t *testing.T) {
	m := mustParse(t, "From: a@b.c\r\nSubject: only a header", nil)
	if !m.HeaderOnly || m.Subject != "only a header" || m.Text != "" {
		t.Errorf("got HeaderOnly %v Subject %q Text %q", m.HeaderOnly, m.Subject, m.Text)
	}
	m = mustParse(t, "From: a@b.c\r\n\r\n", nil)
	if m.HeaderOnly {
		t.Error("a header with its blank line is a message with an empty body")
	}
}

func TestParseMalformedHeader(t *testing.T) {
	m := mustParse(t, crlf(
		" From: Alice <alice@example.com>",
		"Subject: Hi",
		"Content-Type: application/zip;",
		`name="a.zip"`,
		"Date: not a date",
		"",
		"UEsDBA=="), nil)
	if m.From.Address != "alice@example.com" || m.Subject != "Hi" {
		t.Errorf("got From %+v Subject %q", m.From, m.Subject)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "a.zip" {
		t.Errorf("got attachments %v", attachmentNames(m))
	}
	wantWarning(t, m, "white space")
	wantWarning(t, m, "joined to Content-Type")
	wantWarning(t, m, `Date: cannot parse "not a date"`)
	if !m.Date.IsZero() {
		t.Errorf("Date: got %v, want zero", m.Date)
	}
}

func TestParseReportAndDepth(t *testing.T) {
	m := mustParse(t, crlf(
		"From: mailer-daemon@example.com",
		`Content-Type: multipart/report; report-type=delivery-status; boundary="r"`,
		"",
		"--r",
		"",
		"Delivery failed.",
		"--r",
		"Content-Type: message/delivery-status",
		"",
		"Final-Recipient: rfc822; x@example.com",
		"Status: 5.1.1",
		"--r",
		"Content-Type: message/rfc822",
		"",
		"   ",
		"--r--"), nil)
	if m.ReportType != "delivery-status" || m.Text != "Delivery failed." {
		t.Errorf("got ReportType %q Text %q", m.ReportType, m.Text)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].ContentType != "message/delivery-status" {
		t.Errorf("got attachments %v", attachmentNames(m))
	}
	wantWarning(t, m, "empty attached message")

	// Messages attached in messages, 8 deep: 5 levels are parsed.
	raw := "From: level8@example.com\r\nSubject: 8\r\n\r\ninnermost\r\n"
	for i := 7; i >= 0; i-- {
		raw = fmt.Sprintf("From: level%d@example.com\r\nSubject: %d\r\nContent-Type: message/rfc822\r\n\r\n%s", i, i, raw)
	}
	m = mustParse(t, raw, nil)
	depth := 0
	e := m
	for ; len(e.Embedded) > 0; e = e.Embedded[0] {
		depth++
	}
	if depth != maxEmbedDepth {
		t.Errorf("got %d levels of attached messages, want %d", depth, maxEmbedDepth)
	}
	if e.Subject != "5" || len(e.Attachments) != 1 || !hasWarning(e, "nested too deep") {
		t.Errorf("deepest parsed message: got subject %q, attachments %v, warnings %q", e.Subject, attachmentNames(e), e.Warnings)
	}
}

func tnefMessage(name, ctype string) string {
	return crlf(
		"From: outlook@example.com",
		`Content-Type: multipart/mixed; boundary="b"`,
		"",
		"--b",
		"",
		"See attached.",
		"--b",
		"Content-Type: "+ctype+"; name=\""+name+"\"",
		"Content-Transfer-Encoding: base64",
		"",
		"eJ8+IgAAAA==",
		"--b--")
}

func TestParseTNEF(t *testing.T) {
	var got []byte
	expand := func(data []byte) ([]Part, error) {
		got = data
		return []Part{
			{Filename: "report.docx", ContentType: "Application/VND.Openxmlformats; x=1", Data: []byte("docx")},
			{Filename: "note.txt", Data: []byte("note")},
		}, nil
	}
	m := mustParse(t, tnefMessage("winmail.dat", "application/ms-tnef"), &Options{ExpandTNEF: expand})
	if string(got) != "\x78\x9f\x3e\x22\x00\x00\x00" {
		t.Errorf("ExpandTNEF got %q", got)
	}
	if len(m.Attachments) != 2 || m.Attachments[0].Filename != "report.docx" || m.Attachments[0].ContentType != "application/vnd.openxmlformats" ||
		m.Attachments[1].ContentType != "application/octet-stream" {
		t.Errorf("got attachments %v", attachmentNames(m))
	}

	// Found by name, decoder fails: winmail.dat kept, with a warning.
	fail := func([]byte) ([]Part, error) { return nil, errors.New("bad signature") }
	m = mustParse(t, tnefMessage("WINMAIL.DAT", "application/octet-stream"), &Options{ExpandTNEF: fail})
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "WINMAIL.DAT" {
		t.Errorf("got attachments %v", attachmentNames(m))
	}
	wantWarning(t, m, "bad signature")

	// A decoder that panics costs a warning, not the message.
	boom := func([]byte) ([]Part, error) { panic("boom") }
	m = mustParse(t, tnefMessage("winmail.dat", "application/ms-tnef"), &Options{ExpandTNEF: boom})
	if len(m.Attachments) != 1 || m.Text != "See attached." {
		t.Errorf("got attachments %v, text %q", attachmentNames(m), m.Text)
	}
	wantWarning(t, m, "boom")

	// Without a decoder the file is kept as it is.
	m = mustParse(t, tnefMessage("winmail.dat", "application/ms-tnef"), nil)
	if len(m.Attachments) != 1 || m.Attachments[0].ContentType != "application/ms-tnef" {
		t.Errorf("got attachments %v", attachmentNames(m))
	}
}

func TestParseMaxSize(t *testing.T) {
	big := strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n", 100) // 2600 decoded bytes
	raw := crlf(
		"From: a@b.c",
		`Content-Type: multipart/mixed; boundary="b"`,
		"",
		"--b",
		"",
		"small text",
		"--b",
		`Content-Type: image/png; name="small.png"`,
		"Content-Transfer-Encoding: base64",
		"",
		"iVBORw0KGgo=",
		"--b",
		`Content-Type: application/pdf; name="big1.pdf"`,
		"Content-Transfer-Encoding: base64",
		"",
		big+"--b",
		`Content-Type: application/pdf; name="big2.pdf"`,
		"Content-Transfer-Encoding: base64",
		"",
		big+"--b",
		"",
		"text after the attachments",
		"--b--")
	m := mustParse(t, raw, &Options{MaxSize: 2000})
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "small.png" {
		t.Errorf("got attachments %v, want small.png only", attachmentNames(m))
	}
	if m.Text != "small text\ntext after the attachments" {
		t.Errorf("Text: got %q", m.Text)
	}
	wantWarning(t, m, "2 attachment(s) left out")
	wantWarning(t, m, "big1.pdf, big2.pdf")

	m = mustParse(t, raw, nil)
	if len(m.Attachments) != 3 {
		t.Errorf("default MaxSize: got attachments %v, want 3", attachmentNames(m))
	}
}

var errBroken = errors.New("connection reset")

func TestParseReadError(t *testing.T) {
	r := io.MultiReader(strings.NewReader("From: a@b.c\r\n\r\nsome text"), iotest.ErrReader(errBroken))
	m, err := Parse(r, nil)
	if !errors.Is(err, errBroken) || m != nil {
		t.Errorf("got %v, %v, want the read error", m, err)
	}
	m, err = Parse(iotest.ErrReader(errBroken), nil)
	if !errors.Is(err, errBroken) || m != nil {
		t.Errorf("got %v, %v, want the read error", m, err)
	}
	// Reading one byte at a time changes nothing.
	raw := crlf("From: a@b.c", `Content-Type: multipart/mixed; boundary="b"`, "", "--b", "", "one", "--b", "", "two", "--b--")
	m, err = Parse(iotest.OneByteReader(strings.NewReader(raw)), nil)
	if err != nil || m.Text != "one\ntwo" {
		t.Errorf("one byte at a time: got %v, %q", err, m.Text)
	}
}

// TestParseLongLines checks lines longer than the read buffer: in a
// header, in a body, and a boundary right after one.
func TestParseLongLines(t *testing.T) {
	long := strings.Repeat("x", maxFieldBytes+3*readBufSize+17)
	raw := crlf("From: a@b.c", "X-Long: "+long, `Content-Type: multipart/mixed; boundary="b"`, "", "--b", "", long, "--b", "", "short", "--b--")
	m := mustParse(t, raw, nil)
	if m.Text != long+"\nshort" {
		t.Errorf("Text: got %d bytes, want %d", len(m.Text), len(long)+6)
	}
	if got := m.Header.Raw("X-Long"); len(got) > maxFieldBytes || len(got) < maxFieldBytes-2 {
		t.Errorf("X-Long: got %d bytes, want it cut at %d", len(got), maxFieldBytes)
	}
}

func TestParseNeverPanicsOnTruncation(t *testing.T) {
	raw := []byte(crlf(
		"From: =?utf-8?q?J=C3=B6rg?= <j@x.de>",
		"Subject: =?utf-8?b?w6k=?=",
		`Content-Type: multipart/mixed; boundary="b"`,
		"",
		"--b",
		"Content-Type: text/plain; charset=utf-8",
		"Content-Transfer-Encoding: quoted-printable",
		"",
		"caf=C3=A9",
		"--b",
		"Content-Type: application/pdf; name*=utf-8''%C3%A9.pdf",
		"Content-Transfer-Encoding: base64",
		"",
		"JVBERi0xLg==",
		"--b--"))
	for i := 0; i <= len(raw); i++ {
		m, err := Parse(bytes.NewReader(raw[:i]), nil)
		if err != nil {
			if !errors.Is(err, ErrNotMessage) {
				t.Errorf("cut at %d: %v", i, err)
			}
			continue
		}
		checkUTF8(t, fmt.Sprintf("cut at %d", i), m)
	}
}

// TestParsePathological feeds inputs built to make a careless parser
// quadratic or deeply recursive; each must be parsed quickly.
func TestParsePathological(t *testing.T) {
	tests := []struct {
		name string
		raw  string
	}{
		{"encoded-word starts", "From: a@b.c\r\nSubject: " + strings.Repeat("=?a?q?", 10000) + "\r\nTo: " + strings.Repeat("=?a?b?", 10000) + "\r\n\r\nx"},
		{"open comments", "From: " + strings.Repeat("(a ", 20000) + "\r\nDate: " + strings.Repeat("(", 20000) + "\r\n\r\nx"},
		{"parameters", "From: a@b.c\r\nContent-Type: text/plain" + strings.Repeat("; a*1*=%", 10000) + "\r\nContent-Disposition: attachment" + strings.Repeat("; x x x", 10000) + "\r\n\r\nx"},
		{"deep multiparts", "From: a@b.c\r\n" + strings.Repeat("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n", 1000)},
		{"deep multiparts, distinct", func() string {
			var b strings.Builder
			b.WriteString("From: a@b.c\r\n")
			for i := 0; i < 1000; i++ {
				fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i)
			}
			return b.String()
		}()},
		{"deep messages", "From: a@b.c\r\n" + strings.Repeat("Content-Type: message/rfc822\r\n\r\n", 1000) + "x"},
		{"many parts", "From: a@b.c\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + strings.Repeat("--b\r\n\r\nx\r\n", 30000)},
		{"many header lines", "From: a@b.c\r\n" + strings.Repeat("X: y\r\n", 100000) + "\r\nx"},
		{"junk header lines", "From: a@b.c\r\n" + strings.Repeat("junk line\r\nSubject: s\r\n", 20000) + "\r\nx"},
		{"blank folded lines", "From: a@b.c\r\nSubject: s\r\n" + strings.Repeat(" \r\n", 100000) + "\r\nx"},
		{"long base64 line", "From: a@b.c\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" + strings.Repeat("QUJD", 500000)},
		{"cid references", "From: a@b.c\r\nContent-Type: text/html\r\n\r\n" + strings.Repeat("cid:", 200000)},
		{"boundary lookalikes", "From: a@b.c\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n" + strings.Repeat("--bb\r\n--b-\r\n", 50000) + "--b--"},
	}
	for _, tt := range tests {
		start := time.Now()
		m, err := Parse(strings.NewReader(tt.raw), nil)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: took %v", tt.name, d)
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		checkUTF8(t, tt.name, m)
	}
}
