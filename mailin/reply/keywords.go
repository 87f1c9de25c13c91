package reply

import "strings"

// keywords finds whether a line holds one of a list of lower-case words, in one pass over the
// line instead of one strings.Contains per word: the words are indexed by their first byte, and
// a set of the pairs of bytes that start a word lets most positions of a line go without
// looking at any word. Every line of every message is checked against several such lists, so
// this is on the ingestion's hot path.
type keywords struct {
	byFirst [256][]string
	pairs   [1 << 16 / 64]uint64 // bit a<<8|b: some word starts with the bytes a, b (any b for a word of one byte)
}

func newKeywords(words []string) *keywords {
	k := &keywords{}
	for _, w := range words {
		switch {
		case w == "":
			continue
		case len(w) == 1:
			for b := range 256 {
				p := uint(w[0])<<8 | uint(b)
				k.pairs[p>>6] |= 1 << (p & 63)
			}
		default:
			p := uint(w[0])<<8 | uint(w[1])
			k.pairs[p>>6] |= 1 << (p & 63)
		}
		k.byFirst[w[0]] = append(k.byFirst[w[0]], w)
	}
	return k
}

// starts reports whether a word may start with the bytes a, b (b is 0 at the end of a line).
func (k *keywords) starts(a, b byte) bool {
	p := uint(a)<<8 | uint(b)
	return k.pairs[p>>6]&(1<<(p&63)) != 0
}

// in reports whether s, compared case-insensitively as strings.ToLower would, holds one of the
// words. An ASCII line is matched without lower-casing it (a non-ASCII word cannot be in it).
func (k *keywords) in(s string) bool {
	if !isASCII(s) {
		return k.inLower(strings.ToLower(s))
	}
	if s == "" {
		return false
	}
	b := asciiLower[s[0]] // s[i], lower-cased
	for i := 0; i < len(s); i++ {
		a := b
		b = 0
		if i+1 < len(s) {
			b = asciiLower[s[i+1]]
		}
		if !k.starts(a, b) {
			continue
		}
		for _, w := range k.byFirst[a] {
			if len(s)-i >= len(w) && equalFoldASCII(s[i:i+len(w)], w) {
				return true
			}
		}
	}
	return false
}

// inLower is in for a line already lower-cased.
func (k *keywords) inLower(s string) bool {
	for i := 0; i < len(s); i++ {
		b := byte(0)
		if i+1 < len(s) {
			b = s[i+1]
		}
		if !k.starts(s[i], b) {
			continue
		}
		for _, w := range k.byFirst[s[i]] {
			if strings.HasPrefix(s[i:], w) {
				return true
			}
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// asciiLower is lowerASCII as a table.
var asciiLower = func() (t [256]byte) {
	for c := range 256 {
		t[c] = lowerASCII(byte(c))
	}
	return t
}()

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFoldASCII compares an ASCII s with a lower-case word.
func equalFoldASCII(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		if lowerASCII(s[i]) != lower[i] {
			return false
		}
	}
	return true
}
