package reply

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// kind is what a line of a plain-text body holds.
type kind byte

const (
	kindEmpty             kind = 'e' // blank
	kindText              kind = 't' // the author's text, or anything not recognised
	kindQuote             kind = 'q' // a ">" quoted line
	kindAttribution       kind = 'b' // "On … wrote:", "-----Original Message-----", …
	kindQuotedAttribution kind = 'c' // the same inside a ">" quote
	kindHeader            kind = 'h' // one "From:"-like header line
	kindHeaderBlock       kind = 'H' // a line of a block of such headers
	kindDelimiter         kind = 'd' // "-- ", "--", "____": a signature or history separator
	kindWeakDelimiter     kind = 'w' // "-----", "*****", "=====": a separator only before history
	kindMobile            kind = 's' // "Sent from my iPhone" and its kin
)

// maxWindow is the number of lines an attribution may be wrapped over.
const maxWindow = 5

// classify gives the kind of every line. Lines inside ``` code fences are always text; an
// attribution wrapped over several lines marks all of them.
func classify(lines []string) []kind {
	kinds := make([]kind, len(lines))
	fenced := codeFences(lines)
	keyword := make([]bool, len(lines))
	for i, l := range lines {
		keyword[i] = len(l) <= 400 && hasAttributionKeyword(l)
	}
	for i := 0; i < len(lines); i++ {
		if fenced[i] {
			kinds[i] = kindText
			continue
		}
		if kinds[i] != 0 { // already part of a wrapped attribution
			continue
		}
		if n := attributionAt(lines, fenced, keyword, i); n > 0 {
			k := kindAttribution
			if isQuoteLine(lines[i]) {
				k = kindQuotedAttribution
			}
			for j := i; j < i+n; j++ {
				kinds[j] = k
			}
			i += n - 1
			continue
		}
		kinds[i] = lineKind(lines[i])
		if kinds[i] == kindText && shortAttribution(lines, i) {
			kinds[i] = kindAttribution
		}
	}
	return kinds
}

// shortAttributionRe is an attribution without the date or address that usually proves one:
// "Jean Dupont wrote:", "On Sun, Jean wrote:", "Le dimanche, Jean a écrit :".
var shortAttributionRe = regexp.MustCompile(`(?i)^.{1,100}\b(wrote|writes|a écrit|a ecrit|schrieb|escribió|escribio|ha scritto|heeft geschreven|skrev|kirjoitti|napisał|написал|написала|escreveu)\s*:\s*$`)

// shortAttribution reports a short attribution line: its proof is the quoted block right under it.
func shortAttribution(lines []string, i int) bool {
	l := strings.TrimSpace(lines[i])
	if !strings.HasSuffix(l, ":") || len(l) > 200 || !hasShortAttributionVerb(strings.ToLower(l)) {
		return false // most lines: spare them the regular expression
	}
	if !shortAttributionRe.MatchString(l) {
		return false
	}
	for j := i + 1; j < len(lines); j++ {
		if !isBlank(lines[j]) {
			return isQuoteLine(lines[j])
		}
	}
	return false
}

// lineKind classifies a line on its own.
func lineKind(l string) kind {
	switch {
	case isBlank(l):
		return kindEmpty
	case len(l) > maxLineLen:
		if isQuoteLine(l) {
			return kindQuote
		}
		return kindText
	}
	if k := delimiterKind(l); k != 0 {
		return k
	}
	if isMobileSignature(l) {
		return kindMobile
	}
	if _, ok := headerLine(l); ok {
		return kindHeader
	}
	if isQuoteLine(l) {
		return kindQuote
	}
	return kindText
}

// maxLineLen bounds the lines worth matching against the patterns: longer ones are text.
const maxLineLen = 1000

// codeFences marks the lines of ``` fenced code blocks, fences included; an unclosed fence marks
// nothing.
func codeFences(lines []string) []bool {
	fenced := make([]bool, len(lines))
	open := -1
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if !strings.HasPrefix(t, "```") {
			continue
		}
		if open < 0 {
			open = i
			continue
		}
		if t == "```" {
			for j := open; j <= i; j++ {
				fenced[j] = true
			}
			open = -1
		}
	}
	return fenced
}

// isBlank reports whether a line holds only white space, invisible characters included.
func isBlank(l string) bool {
	for _, r := range l {
		if !isSpace(r) {
			return false
		}
	}
	return true
}

// isSpace reports white space and the invisible characters mail clients scatter around.
func isSpace(r rune) bool {
	switch r {
	case '\u200b', '\u200c', '\u200d', '\u200e', '\u200f', '\u2060', '\ufeff', '\u00ad', '\u034f':
		return true
	}
	return unicode.IsSpace(r)
}

// isQuoteLine reports a ">" quoted line, including the "Name>" and "C>" prefixes of some old
// clients.
func isQuoteLine(l string) bool {
	t := strings.TrimLeftFunc(l, isSpace)
	if strings.HasPrefix(t, ">") {
		return true
	}
	// "Richard> text", "C> text"
	n := 0
	for i, r := range t {
		if r == '>' {
			if n == 0 {
				return false
			}
			rest := t[i+1:]
			return rest == "" || rest[0] == ' ' || rest[0] == '>' || rest[0] == '\t'
		}
		if !unicode.IsLetter(r) || n >= 12 {
			return false
		}
		n++
	}
	return false
}

// clean prepares a line for matching: invisible characters go, non-breaking spaces become
// spaces, runs of white space collapse.
func clean(l string) string {
	if isClean(l) {
		return l
	}
	return cleanRunes(l)
}

// isClean reports the common line that clean leaves as it is: ASCII, single spaces between
// words, no other white space.
func isClean(l string) bool {
	for i := 0; i < len(l); i++ {
		switch c := l[i]; {
		case visibleASCII[c]:
		case c == ' ' && i > 0 && i < len(l)-1 && l[i-1] != ' ':
		default: // non-ASCII, other white space, a leading, trailing or doubled space
			return false
		}
	}
	return true
}

// visibleASCII holds the printable ASCII bytes but the space.
var visibleASCII = func() (t [256]bool) {
	for c := '!'; c <= '~'; c++ {
		t[c] = true
	}
	return t
}()

// cleanRunes is clean for any line.
func cleanRunes(l string) string {
	var b strings.Builder
	b.Grow(len(l))
	space := false
	for _, r := range l {
		switch r {
		case '\u200b', '\u200c', '\u200d', '\u200e', '\u200f', '\u2060', '\ufeff', '\u00ad', '\u034f':
			continue
		}
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if r == utf8.RuneError {
			r = '\ufffd'
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// wordCount counts the words of a cleaned line: runs of characters between white space, as
// unicode.IsSpace tells it (ASCII bytes are told without decoding them).
func wordCount(s string) int {
	n, in := 0, false
	for i := 0; i < len(s); {
		c := s[i]
		space := false
		if c < utf8.RuneSelf {
			space = asciiSpace[c]
			i++
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			space = unicode.IsSpace(r)
			i += size
		}
		switch {
		case space:
			in = false
		case !in:
			in = true
			n++
		}
	}
	return n
}

// asciiSpace holds the ASCII bytes unicode.IsSpace reports.
var asciiSpace = [256]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

var shortAttributionVerbs = []string{"wrote", "writes", "écrit", "ecrit", "schrieb", "escribi", "scritto", "geschreven", "skrev", "kirjoitti", "napisał", "написал", "escreveu"}

var shortAttributionWords = newKeywords(shortAttributionVerbs)

// hasShortAttributionVerb reports whether a lower-cased line holds one of the verbs.
func hasShortAttributionVerb(l string) bool { return shortAttributionWords.inLower(l) }
