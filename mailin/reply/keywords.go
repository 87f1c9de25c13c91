package reply

import "strings"

// keywords finds whether a line holds one of a list of lower-case words, in one pass over the
// line instead of one strings.Contains per word: the words are indexed by their first byte.
// Every line of every message is checked against several such lists, so this is on the
// ingestion's hot path.
type keywords struct {
	byFirst [256][]string
}

func newKeywords(words []string) *keywords {
	k := &keywords{}
	for _, w := range words {
		if w != "" {
			k.byFirst[w[0]] = append(k.byFirst[w[0]], w)
		}
	}
	return k
}

// in reports whether s, compared case-insensitively as strings.ToLower would, holds one of the
// words. An ASCII line is matched without lower-casing it (a non-ASCII word cannot be in it).
func (k *keywords) in(s string) bool {
	if !isASCII(s) {
		return k.inLower(strings.ToLower(s))
	}
	for i := 0; i < len(s); i++ {
		for _, w := range k.byFirst[lowerASCII(s[i])] {
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
