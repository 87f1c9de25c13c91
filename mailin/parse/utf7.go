package parse

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// UTF-7 (RFC 2152) decoding. golang.org/x/text has no UTF-7 codec and a few
// mailers (old Outlook Express, some mobile clients) still label mail
// "utf-7" or "unicode-1-1-utf-7".
//
// Text is ASCII except for runs that start with '+', hold UTF-16 code units
// in modified base64 (no padding) and end at the first character that is
// not base64; a '-' that ends a run is absorbed, and "+-" stands for '+'.

// utf7Base64 maps a modified-base64 character to its 6-bit value, or -1.
func utf7Base64(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}

// decodeUTF7 decodes UTF-7 text. It always returns valid UTF-8; ok is false
// when the input was not well-formed UTF-7 (8-bit bytes, unpaired
// surrogates, non-zero leftover bits), the bad bits being replaced by
// U+FFFD.
func decodeUTF7(b []byte) (s string, ok bool) {
	var out strings.Builder
	out.Grow(len(b))
	ok = true
	var pendingHigh rune // a high surrogate waiting for its low half, or 0
	emitUnit := func(u rune) {
		switch {
		case utf16.IsSurrogate(u) && u < 0xdc00: // high surrogate
			if pendingHigh != 0 {
				out.WriteRune(utf8.RuneError)
				ok = false
			}
			pendingHigh = u
		case utf16.IsSurrogate(u): // low surrogate
			if pendingHigh == 0 {
				out.WriteRune(utf8.RuneError)
				ok = false
				return
			}
			out.WriteRune(utf16.DecodeRune(pendingHigh, u))
			pendingHigh = 0
		default:
			if pendingHigh != 0 {
				out.WriteRune(utf8.RuneError)
				ok = false
				pendingHigh = 0
			}
			out.WriteRune(u)
		}
	}
	flushHigh := func() {
		if pendingHigh != 0 {
			out.WriteRune(utf8.RuneError)
			ok = false
			pendingHigh = 0
		}
	}

	for i := 0; i < len(b); {
		c := b[i]
		if c != '+' {
			if c >= 0x80 {
				out.WriteRune(utf8.RuneError)
				ok = false
			} else {
				out.WriteByte(c)
			}
			i++
			continue
		}
		// c == '+': start of a shifted run.
		i++
		if i < len(b) && b[i] == '-' {
			out.WriteByte('+')
			i++
			continue
		}
		var bits uint32
		nbits := 0
		start := i
		for i < len(b) {
			v := utf7Base64(b[i])
			if v < 0 {
				break
			}
			bits = bits<<6 | uint32(v)
			nbits += 6
			if nbits >= 16 {
				nbits -= 16
				emitUnit(rune(bits >> uint(nbits) & 0xffff))
				bits &= 1<<uint(nbits) - 1
			}
			i++
		}
		flushHigh()
		if i == start || nbits >= 6 || bits != 0 {
			// "+" followed by nothing usable, or leftover bits: ill-formed.
			if i == start {
				out.WriteByte('+')
			}
			ok = false
		}
		if i < len(b) && b[i] == '-' {
			i++ // the '-' that ends a run is absorbed
		}
	}
	flushHigh()
	return out.String(), ok
}
