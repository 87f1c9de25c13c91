package ticket

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzSanitizeFilename(f *testing.F) {
	for _, s := range []string{"report.pdf", "../../etc/passwd", `C:\x\y.doc`, "a\u202eb", "..", strings.Repeat("é", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := SanitizeFilename(name)
		if got == "" || len(got) > 200 || strings.ContainsAny(got, "/\\\x00") || strings.HasPrefix(got, ".") {
			t.Errorf("SanitizeFilename(%q) = %q", name, got)
		}
		if utf8.ValidString(name) && !utf8.ValidString(got) {
			t.Errorf("SanitizeFilename(%q) = %q: invalid UTF-8", name, got)
		}
		if again := SanitizeFilename(got); again != got {
			t.Errorf("not idempotent: %q → %q → %q", name, got, again)
		}
	})
}

func FuzzParseTag(f *testing.F) {
	for _, s := range []string{"Re: [#42] x", "[#", "[#1", "[#12]]", "[#[#3]"} {
		f.Add("#", s)
	}
	f.Fuzz(func(t *testing.T, prefix, subject string) {
		if prefix == "" {
			return
		}
		n, ok := ParseTag(prefix, subject)
		if ok && (n < 1 || !strings.Contains(subject, Tag(prefix, n))) {
			t.Errorf("ParseTag(%q, %q) = %d, not a tag of the subject", prefix, subject, n)
		}
	})
}

func FuzzIsThanksOnly(f *testing.F) {
	for _, s := range []string{"Merci !", "thanks but no", "?", "merci\u2019"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if IsThanksOnly(text) && strings.Contains(text, "?") {
			t.Errorf("IsThanksOnly(%q) with a question", text)
		}
	})
}
