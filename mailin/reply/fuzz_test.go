package reply

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzStrip(f *testing.F) {
	seeds := []string{
		"",
		"Hello\n\nOn Mon, Mar 3, 2025 at 10:12 AM, Support <s@x.example> wrote:\n> Hi\n",
		"Ça marche.\r\n\r\nLe 03/03/2025 à 10:12, Support a écrit :\r\n> Quel modèle ?\r\n",
		"Merci\n\nDe : Support\nEnvoyé : lundi 3 mars 2025 10:12\nÀ : Jean\nObjet : RE\n\nBonjour",
		"> q\nanswer\n> q2\nanswer2\n> q3\n",
		"text\n-- \nsig\n",
		"```\n--\n```\n",
		"Hi\n" + guichetMarker + "\n",
		"On 2 May 2025 at 10:00 X <\nx@y.z>\nwrote:\n\n> a\nb",
		"\xff\xfe invalid \x80",
	}
	for _, s := range seeds {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, marker bool) {
		var o *Options
		if marker {
			o = &Options{Markers: []string{guichetMarker, "", "-- "}}
		}
		got, removed := Strip(s, o)
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("got invalid UTF-8 %q for valid input %q", got, s)
		}
		if got != strings.TrimSpace(got) {
			t.Fatalf("got %q, want it trimmed", got)
		}
		if !removed && got != strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")) {
			t.Fatalf("got %q with removed=false, want the trimmed input %q", got, s)
		}
	})
}

func FuzzStripHTML(f *testing.F) {
	seeds := []string{
		"",
		`<div>Hi</div><div class="gmail_quote">On Mon wrote:<blockquote class="gmail_quote">old</blockquote></div>`,
		`<p>Reply</p><hr><b>From:</b> a<br><b>Sent:</b> 1 May 2025<br><b>To:</b> b<br>`,
		`<div>Bob<hr>From: x<br>Date: 1 May 2025<br></div>`,
		`<blockquote type="cite"><a href="https://x.example">link</a></blockquote>after`,
		`<ol start="999999999999"><li>a</li></ol><pre>  x
  y</pre><table><tr><td>a<td>b</table>`,
		`<div id="divRplyFwdMsg">De : x</div>`,
		"<a><a><a>\xff</a></a></a>",
		strings.Repeat("<div><blockquote type=cite>", 300) + "deep",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, _ := StripHTML(s, &Options{Markers: []string{guichetMarker}})
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("got invalid UTF-8 %q for valid input %q", got, s)
		}
		text := HTMLToText(s)
		if utf8.ValidString(s) && !utf8.ValidString(text) {
			t.Fatalf("HTMLToText gave invalid UTF-8 %q for valid input %q", text, s)
		}
	})
}
