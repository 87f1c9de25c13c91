package mailout

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
)

// goMessageAlternative is how Build wrote a message without attachments before
// buildAlternative: go-message's InlineWriter, the bodies through its quoted-printable writer.
func goMessageAlternative(t *testing.T, m Message) []byte {
	t.Helper()
	var buf bytes.Buffer
	alt, err := mail.CreateInlineWriter(&buf, m.header())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ ct, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		if err := writePart(alt, p.ct, p.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := alt.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var boundaryRE = regexp.MustCompile(`boundary=([0-9a-f]{60})`)

// TestBuildAlternative: a notification without attachments comes out octet for octet as
// go-message writes it, but for the random boundary.
func TestBuildAlternative(t *testing.T) {
	base := Message{From: mail.Address{Name: "Acme Support", Address: "noreply@example.com"},
		To: mail.Address{Name: "Claire Client", Address: "claire@client.example"}, ReplyTo: "support+12.k@example.com",
		Subject: "[#12] L'imprimante ne répond plus", Date: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
		MessageID: "n1.12@example.com", InReplyTo: "first@client.example", References: []string{"root.12@example.com", "first@client.example"},
		ThreadTopic: "L'imprimante ne répond plus", ThreadIndex: "AQHZabc", Loop: "abc", Lang: "fr"}
	for name, c := range map[string]struct{ text, html string }{
		"ascii":  {strings.Repeat("The printer prints blank pages.\n", 50), "<p>Hello</p>\n<p>" + strings.Repeat("word ", 60) + "</p>\n"},
		"french": {"Bonjour Claire,\n\nNous avons bien reçu votre demande — numéro #12.\n", "<p>Bonjour Claire,</p>\n<p>Reçu — «\u00a0#12\u00a0».</p>"},
		"edges":  {"trailing space \r\nlast line with tab\t", "=" + strings.Repeat("x", 80) + " \n\n"},
		"empty":  {"", ""},
	} {
		m := base
		m.Text, m.HTML = c.text, c.html
		got, err := Build(m)
		if err != nil {
			t.Fatal(err)
		}
		want := goMessageAlternative(t, m)
		gb, wb := boundaryRE.FindSubmatch(got), boundaryRE.FindSubmatch(want)
		if gb == nil || wb == nil {
			t.Fatalf("%s: no boundary in\n%s\nor\n%s", name, got, want)
		}
		if got = bytes.ReplaceAll(got, gb[1], wb[1]); !bytes.Equal(got, want) {
			t.Errorf("%s: Build wrote\n%q\ngo-message writes\n%q", name, got, want)
		}
	}
}
