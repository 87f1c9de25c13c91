package reply

import (
	"strings"
	"testing"
)

// The fast paths of the line matchers must answer exactly as the plain loops they replace.

func containsAnyLower(s string, words []string) bool {
	lower := strings.ToLower(s)
	for _, w := range words {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

func FuzzLineMatchers(f *testing.F) {
	for _, s := range []string{
		"", "hello", "  two  spaces ", "tab\there", "Envoyé de mon iPhone", "Sent from my PHONE",
		"On Mon, John WROTE:", "Le 3 mars, X a écrit :", "ÉCRIT", "\u00a0nbsp\u00a0", "\u200bzero width",
		"\xff\xfe", "K\u212a", "İstanbul", "##- Please type your reply\nabove this line -##",
		"> ##- please TYPE your reply above this line -##", "#\n#", "a\r\nb",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := clean(s), cleanRunes(s); got != want {
			t.Fatalf("clean(%q) = %q, want %q", s, got, want)
		}
		if got, want := wordCount(s), len(strings.Fields(s)); got != want {
			t.Fatalf("wordCount(%q) = %d, want %d", s, got, want)
		}
		for name, list := range map[string][]string{"attribution": attributionKeywords, "mobile": mobileKeywords, "verbs": shortAttributionVerbs} {
			k := newKeywords(list)
			if got, want := k.in(s), containsAnyLower(s, list); got != want {
				t.Fatalf("%s.in(%q) = %v, want %v", name, s, got, want)
			}
			lower := strings.ToLower(s)
			if got, want := k.inLower(lower), containsAnyLower(lower, list); got != want {
				t.Fatalf("%s.inLower(%q) = %v, want %v", name, lower, got, want)
			}
		}
		lines := strings.Split(s, "\n")
		markers := []string{guichetMarker}
		if got, want := markerLine(lines, markers), scanMarkers(lines, markers, false); got != want {
			t.Fatalf("markerLine(%q) = %d, want %d", lines, got, want)
		}
	})
}

// TestKeywordsMatchContains checks the indexed search against strings.Contains on every word,
// at every position and case, words of one byte and lines of zero or one byte included.
func TestKeywordsMatchContains(t *testing.T) {
	k := newKeywords([]string{"wrote", "x", "écrit", "via ", "gmt"})
	for _, line := range []string{"", "x", "X", "w", "wr", "WROTE", "he Wrote:", "a  écrit", "A ÉCRIT", "vIa x", "via",
		"GMT+1", "g", "some text", "ecrit", "wrot", "é", "\xff", "xylophone"} {
		want := false
		for _, w := range []string{"wrote", "x", "écrit", "via ", "gmt"} {
			if strings.Contains(strings.ToLower(line), w) {
				want = true
			}
		}
		if got := k.in(line); got != want {
			t.Errorf("in(%q) = %v, want %v", line, got, want)
		}
		if got := k.inLower(strings.ToLower(line)); got != want {
			t.Errorf("inLower(%q) = %v, want %v", line, got, want)
		}
	}
}
