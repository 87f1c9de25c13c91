// Package reply keeps only what the author of an e-mail wrote this time.
//
// When a customer answers a guichet notification, the body of the answer usually carries the
// whole conversation below (or around) the new text: attribution lines such as
// "On <date>, <name> wrote:" or "Le <date>, <nom> a écrit :", ">" quotes, Outlook header blocks
// ("From: … Sent: … To: … Subject:"), forwarded messages, and a signature ("-- ", "Sent from my
// iPhone", "Envoyé de mon iPhone", …). Strip and StripHTML remove all of that from a plain-text or
// an HTML body so that the ticket keeps the new message only; HTMLToText turns HTML into readable
// text without removing anything.
//
// The rules are line based heuristics tuned on real mail from every common client, in English,
// French and a dozen other languages. Every line of the body is first classified (text, quote,
// attribution, header, delimiter, mobile signature, empty); the shape of the message — top-post,
// bottom-post, inline answers, forward — then decides what is history and what is new.
package reply

import (
	"strings"
)

// Options tune stripping; the zero value is fine.
type Options struct {
	// Markers are extra separator lines (e.g. guichet's own "reply above this line" marker,
	// like "## Reply above this line / Répondez au-dessus de cette ligne ##"): everything from
	// the first line containing one of them is removed. The comparison ignores case, spacing and
	// quote prefixes, and finds a marker that a mail client wrapped over two lines.
	Markers []string
}

// Strip returns what the author wrote this time in a plain-text body, with quoted history and
// trailing signature removed, and whether anything was removed.
//
// CRLF and CR line endings are accepted; the result uses "\n" and is trimmed of surrounding
// blank lines and spaces. A body with nothing to remove comes back unchanged apart from that
// trimming, with removed set to false.
func Strip(text string, o *Options) (visible string, removed bool) {
	lines := splitLines(text)
	var markers []string
	if o != nil {
		markers = o.Markers
	}
	keep := visibleLines(lines, markers)
	if !hasTextBefore(lines, keep) && len(markers) > 0 {
		// Nothing above a quoted marker: the author answered below the quoted notification
		// (bottom-posting); the quote rules find the answer.
		if i := markerLine(lines, markers); i < len(lines) && isQuoteLine(lines[i]) {
			keep = visibleLines(lines, nil)
		}
	}
	return assemble(lines, keep)
}

// splitLines normalises line endings to "\n" and splits the text into lines.
func splitLines(text string) []string {
	if strings.IndexByte(text, '\r') >= 0 {
		text = strings.ReplaceAll(text, "\r\n", "\n")
		text = strings.ReplaceAll(text, "\r", "\n")
	}
	return strings.Split(text, "\n")
}

// assemble joins the kept lines, trims the result and reports whether a line with content was
// dropped; when none was, the result is the whole body, trimmed.
func assemble(lines []string, keep []int) (string, bool) {
	kept := make([]string, 0, len(keep))
	seen := make([]bool, len(lines))
	for _, i := range keep {
		kept = append(kept, lines[i])
		seen[i] = true
	}
	for i, l := range lines {
		if !seen[i] && !isBlank(l) {
			return strings.TrimSpace(strings.Join(kept, "\n")), true
		}
	}
	// Only blank lines were left out: the text is the body, trimmed.
	return strings.TrimSpace(strings.Join(lines, "\n")), false
}

// visibleLines returns the indexes, in order, of the lines that make up the new message.
func visibleLines(lines []string, markers []string) []int {
	end := markerLine(lines, markers)
	kinds := classify(lines[:end])

	// A signature delimiter ends the message, provided the author wrote something above it.
	next := nextContent(kinds[:end])
	text := false
	for i := 0; i < end; i++ {
		k := kinds[i]
		if k == kindText {
			text = true
		}
		if k != kindDelimiter && k != kindWeakDelimiter {
			continue
		}
		if text && (k == kindDelimiter || weakDelimiterEnds(lines, kinds[:end], next, i)) {
			end = i
			break
		}
		kinds[i] = kindEmpty
	}

	// Mobile signatures ("Sent from my iPhone") go wherever they are, with a bare name line
	// written just above one.
	drop := make([]bool, end)
	for i := 0; i < end; i++ {
		if kinds[i] != kindMobile {
			continue
		}
		drop[i] = true
		if i > 0 && kinds[i-1] == kindText && isNameLine(lines[i-1]) && (i == 1 || kinds[i-2] == kindEmpty) {
			drop[i-1] = true
		}
	}
	var seq []int
	for i := 0; i < end; i++ {
		if !drop[i] {
			seq = append(seq, i)
		}
	}

	pattern := make([]kind, len(seq))
	for j, i := range seq {
		pattern[j] = kinds[i]
	}
	markHeaderBlocks(lines, seq, pattern)

	keep := shape(seq, pattern)
	return trimSignature(lines, keep)
}

// shape decides, from the sequence of line kinds, which lines are the new message: it handles
// top-posting (new text above the history), bottom-posting (new text below a quote), inline
// answers and forwards.
func shape(seq []int, p []kind) []int {
	// An Outlook-style header block below some text starts the history.
	text := false
	for j, k := range p {
		if k == kindHeaderBlock && text {
			seq, p = seq[:j], p[:j]
			break
		}
		text = text || k == kindText
	}

	// Inline answers: two quoted passages or more, each followed by new text. The quotes and
	// their attribution stay, as the answers make no sense without them; only what follows the
	// last answer goes.
	if answeredQuotes(p) >= 2 {
		last := lastIndex(p, kindText)
		return seq[:last+1]
	}

	// Top-posting: an attribution line right below the text starts the history, unless the
	// quote it introduces is followed by a long answer (a quote kept as context).
	tail := newSuffixes(p)
	for j, k := range p {
		if k != kindAttribution && k != kindQuotedAttribution {
			continue
		}
		prev := j - 1
		for prev >= 0 && p[prev] == kindEmpty {
			prev--
		}
		if prev < 0 || p[prev] != kindText {
			continue
		}
		if tail.historyFollows(j + 1) {
			seq, p = seq[:j], p[:j]
			break
		}
	}

	// Quotes, attributions and headers at the end go when there is some text above them.
	if last := lastIndex(p, kindText); last >= 0 {
		seq, p = seq[:last+1], p[:last+1]
	}

	// Bottom-posting or forward: the message opens with history and the new text comes last.
	if first := firstNotEmpty(p); first >= 0 && isHistoryStart(p[first]) {
		firstText := indexKind(p, kindText)
		if firstText > first && onlyTextAfter(p[firstText:]) {
			seq, p = seq[firstText:], p[firstText:]
		}
	}

	// Without any text, a message of quotes only is kept as it is; history alone is nothing.
	hasText := hasKind(p, kindText)
	first := firstNotEmpty(p)
	if !hasText && (first < 0 || p[first] != kindQuote) {
		return nil
	}
	out := make([]int, 0, len(seq))
	for j, i := range seq {
		switch p[j] {
		case kindAttribution, kindQuotedAttribution, kindHeaderBlock:
			continue
		}
		out = append(out, i)
	}
	return out
}

// suffixes answers questions about the end of a sequence of kinds in constant time.
type suffixes struct {
	quote    []bool // a quote from here on
	nextText []int  // the first text line from here on, or len
	clean    []bool // only text and empty lines from here on
	texts    []int  // the number of text lines from here on
}

func newSuffixes(p []kind) suffixes {
	n := len(p)
	s := suffixes{quote: make([]bool, n+1), nextText: make([]int, n+1), clean: make([]bool, n+1), texts: make([]int, n+1)}
	s.nextText[n], s.clean[n] = n, true
	for i := n - 1; i >= 0; i-- {
		s.quote[i] = s.quote[i+1] || p[i] == kindQuote
		s.nextText[i] = s.nextText[i+1]
		s.texts[i] = s.texts[i+1]
		if p[i] == kindText {
			s.nextText[i] = i
			s.texts[i]++
		}
		s.clean[i] = s.clean[i+1] && (p[i] == kindText || p[i] == kindEmpty)
	}
	return s
}

// historyFollows reports whether what follows an attribution line (from index i) is history:
// no quote at all (a forward or an unquoted copy of the previous message), or a quote followed
// by a few lines of text only (usually the quoted message's own signature).
func (s suffixes) historyFollows(i int) bool {
	if !s.quote[i] {
		return true
	}
	t := s.nextText[i]
	return s.clean[t] && s.texts[t] < 7
}

// answeredQuotes counts the quoted passages that are followed by new text.
func answeredQuotes(p []kind) int {
	n, inQuote := 0, false
	for _, k := range p {
		switch k {
		case kindQuote, kindQuotedAttribution:
			inQuote = true
		case kindText:
			if inQuote {
				n++
			}
			inQuote = false
		}
	}
	return n
}

func isHistoryStart(k kind) bool {
	return k == kindAttribution || k == kindQuotedAttribution || k == kindHeaderBlock
}

func onlyTextAfter(p []kind) bool {
	for _, k := range p {
		if k != kindText && k != kindEmpty {
			return false
		}
	}
	return true
}

func hasKind(p []kind, k kind) bool { return indexKind(p, k) >= 0 }

func indexKind(p []kind, k kind) int {
	for i, x := range p {
		if x == k {
			return i
		}
	}
	return -1
}

func lastIndex(p []kind, k kind) int {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == k {
			return i
		}
	}
	return -1
}

func firstNotEmpty(p []kind) int {
	for i, k := range p {
		if k != kindEmpty {
			return i
		}
	}
	return -1
}
