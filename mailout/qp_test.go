package mailout

import (
	"bytes"
	"mime/quotedprintable"
	"strings"
	"testing"
)

func stdQP(s string) []byte {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

// TestAppendQP: the same octets as mime/quotedprintable for what the templates write and for
// the cases at the edges of its rules.
func TestAppendQP(t *testing.T) {
	cases := []string{
		"", "a", "=", "é", "line\n", "line\r\n", "a\rb", "a\r\n\r\nb", "\n\n\r\r",
		"trailing space \n", "trailing tab\t\r\n", "end with space ", "end with tab\t",
		strings.Repeat("x", 75), strings.Repeat("x", 76), strings.Repeat("x", 77), strings.Repeat("x", 200),
		strings.Repeat("x", 73) + "é", strings.Repeat("x", 74) + "=", strings.Repeat("x", 75) + " \n",
		strings.Repeat("x", 74) + " \n", strings.Repeat("x", 73) + " \n", strings.Repeat("x", 75) + " ",
		"Bonjour Jean,\n\nNous avons bien reçu votre demande — son numéro est #12.\n",
		"<p style=\"margin:0 0 12px 0;\">Hello Jean,</p>\n" + strings.Repeat("<br>", 30),
		"\x00\x01\x7f\xff", "a = b\tc  \n  d",
	}
	for _, c := range cases {
		if got, want := appendQP(nil, c), stdQP(c); !bytes.Equal(got, want) {
			t.Errorf("appendQP(%q)\n got %q\nwant %q", c, got, want)
		}
	}
}

// FuzzAppendQP: appendQP and mime/quotedprintable agree on any input.
func FuzzAppendQP(f *testing.F) {
	for _, s := range []string{"", "a b \n", "é=\r\n\t", strings.Repeat("ab ", 40) + "\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := appendQP(nil, s), stdQP(s); !bytes.Equal(got, want) {
			t.Fatalf("appendQP(%q)\n got %q\nwant %q", s, got, want)
		}
	})
}
