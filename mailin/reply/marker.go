package reply

import (
	"strings"
	"unicode"
)

// markerLine returns the index of the first line holding one of the markers, or len(lines) if
// none does. Case, spacing and ">" quote prefixes do not matter, and a marker a client wrapped
// over two lines is found on its first line.
func markerLine(lines []string, markers []string) int { return scanMarkers(lines, markers, true) }

// scanMarkers is markerLine; prefilter false folds every line (the reference its test compares).
func scanMarkers(lines []string, markers []string, prefilter bool) int {
	var wanted []string
	for _, m := range markers {
		if m := foldMarker(m); m != "" {
			wanted = append(wanted, m)
		}
	}
	if len(wanted) == 0 {
		return len(lines)
	}
	// A line can hold a marker, or the half of one a client wrapped, only if it holds the
	// marker's first or last byte: when those are ASCII and not letters (our "##"), the lines
	// without them are not even folded.
	var ends []byte
	for _, m := range wanted {
		for _, c := range []byte{m[0], m[len(m)-1]} {
			if !prefilter || c >= 0x80 || unicode.IsLetter(rune(c)) {
				ends = nil
				goto scan
			}
			ends = append(ends, c)
		}
	}
scan:
	prev := ""
	for i, l := range lines {
		if ends != nil && !strings.ContainsAny(l, string(ends)) {
			prev = ""
			continue
		}
		cur := foldMarker(l)
		for _, m := range wanted {
			if strings.Contains(cur, m) {
				return i
			}
			if i > 0 && prev != "" && cur != "" && strings.Contains(tail(prev, len(m))+" "+head(cur, len(m)), m) {
				return i - 1
			}
		}
		prev = cur
	}
	return len(lines)
}

// foldMarker lower-cases a line, drops quote prefixes and collapses its spacing.
func foldMarker(s string) string {
	s = strings.ToLower(clean(s))
	s = strings.TrimLeftFunc(s, func(r rune) bool { return r == '>' || unicode.IsSpace(r) })
	return s
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// head returns the first n bytes of s.
func head(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
