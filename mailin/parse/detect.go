package parse

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/unicode"
)

// Charset detection, for text whose label is missing, unknown or wrong.
// It is deliberately cheap and conservative: it only picks a charset that
// the bytes themselves (escape sequences, a BOM, valid UTF-8) or the rest
// of the message point to, recognises Russian text by its letter
// distribution, and otherwise decodes as windows-1252, which maps every
// byte to a character, so that the text is never lost.

// looksUTF8 reports whether b is valid UTF-8 and holds at least one
// multi-byte sequence: text in a legacy 8-bit charset practically never is,
// so a legacy label on such text is a lie.
func looksUTF8(b []byte) bool {
	return has8bit(b) && utf8.Valid(b)
}

// looksLittleEndian16 guesses the byte order of BOM-less UTF-16 from where
// the zero bytes of ASCII characters fall.
func looksLittleEndian16(b []byte) bool {
	even, odd := 0, 0
	for i := 0; i+1 < len(b) && i < 4096; i += 2 {
		if b[i] == 0 {
			even++
		}
		if b[i+1] == 0 {
			odd++
		}
	}
	return odd > even
}

// hasJISEscape reports whether b holds an ISO-2022-JP designation.
func hasJISEscape(b []byte) bool {
	return bytes.Contains(b, []byte("\x1b$B")) || bytes.Contains(b, []byte("\x1b$@")) || bytes.Contains(b, []byte("\x1b(J")) || bytes.Contains(b, []byte("\x1b(I"))
}

// guessCharset decodes bytes whose charset is unknown. In order: a BOM,
// ISO-2022 escape sequences, valid UTF-8, the charset hinted by the rest
// of the message when it decodes cleanly, Cyrillic text (KOI8-R or
// windows-1251, told apart by where the lower-case letters fall), and
// windows-1252, which decodes every byte. It returns the text and the name
// of the charset used.
func guessCharset(b []byte, hint string) (string, string) {
	switch {
	case bytes.HasPrefix(b, []byte{0xef, 0xbb, 0xbf}) && utf8.Valid(b[3:]):
		return string(b[3:]), "utf-8"
	case bytes.HasPrefix(b, []byte{0xff, 0xfe}), bytes.HasPrefix(b, []byte{0xfe, 0xff}):
		s, _ := decodeWith(unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM), b)
		return s, "utf-16"
	}
	if bytes.IndexByte(b, 0x1b) >= 0 {
		if bytes.Contains(b, []byte("\x1b$)C")) {
			if s, bad := decodeISO2022KR(b); bad == 0 {
				return s, "iso-2022-kr"
			}
		}
		if hasJISEscape(b) {
			if s, bad := decodeWith(japanese.ISO2022JP, b); bad == 0 {
				return s, "iso-2022-jp"
			}
		}
	}
	if utf8.Valid(b) {
		return string(b), "utf-8"
	}
	if s, ok := decodeMostlyUTF8(b); ok {
		return s, "utf-8 (stray bytes as windows-1252)"
	}
	if hint != "" {
		info := lookupCharset(hint)
		if info.enc != nil && info.kind != csWide {
			if s, bad := decodeWith(info.enc, b); bad == 0 {
				return s, info.name
			}
		}
	}
	if name := guessCyrillic(b); name != "" {
		info := lookupCharset(name)
		s, _ := decodeWith(info.enc, b)
		return s, name
	}
	s, _ := decodeWith(charmap.Windows1252, b)
	return s, "windows-1252"
}

// utf8Mix counts, in b, the valid multi-byte UTF-8 sequences and the bytes
// that belong to no valid sequence.
func utf8Mix(b []byte) (multi, stray int) {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			stray++
		case n > 1:
			multi++
		}
		i += n
	}
	return multi, stray
}

// decodeMostlyUTF8 decodes text that is UTF-8 with a few stray bytes (a
// Latin-1 signature appended to a UTF-8 body, a cut character): the valid
// sequences as UTF-8, each stray byte as windows-1252. ok is false when the
// text holds fewer valid multi-byte sequences than stray bytes, that is
// when it is rather in some legacy charset.
func decodeMostlyUTF8(b []byte) (string, bool) {
	if multi, stray := utf8Mix(b); multi == 0 || multi < stray {
		return "", false
	}
	var out strings.Builder
	out.Grow(len(b) + 8)
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			out.WriteRune(charmap.Windows1252.DecodeByte(b[i]))
		} else {
			out.Write(b[i : i+n])
		}
		i += n
	}
	return out.String(), true
}

// guessCyrillic returns "koi8-r" or "windows-1251" when b looks like
// Russian text in one of them: most letters are 8-bit and nearly all
// 8-bit bytes are in 0xC0–0xFF, where both charsets keep their letters
// (lower case at 0xE0–0xFF in windows-1251, at 0xC0–0xDF in KOI8-R).
// Western European text has far fewer 8-bit letters; CJK double-byte text
// has many trail bytes below 0xC0.
func guessCyrillic(b []byte) string {
	var ascii, high, upperHalf, lowerHalf int
	for _, c := range b {
		switch {
		case c >= 0xc0 && c <= 0xdf:
			high++
			upperHalf++
		case c >= 0xe0:
			high++
			lowerHalf++
		case c >= 0x80:
			high++
		case (c|0x20) >= 'a' && (c|0x20) <= 'z':
			ascii++
		}
	}
	if high < 8 || high*10 < (ascii+high)*4 || (upperHalf+lowerHalf)*10 < high*8 {
		return ""
	}
	if upperHalf > lowerHalf {
		return "koi8-r"
	}
	return "windows-1251"
}

// decodeISO2022KR decodes ISO-2022-KR (RFC 1557): after the ESC $ ) C
// designation, SO switches to KS X 1001 (EUC-KR with the high bit cleared)
// and SI back to ASCII.
func decodeISO2022KR(b []byte) (string, int) {
	b = bytes.ReplaceAll(b, []byte("\x1b$)C"), nil)
	euc := make([]byte, 0, len(b))
	shifted := false
	for _, c := range b {
		switch {
		case c == 0x0e:
			shifted = true
		case c == 0x0f, c == '\n', c == '\r':
			shifted = false
			if c != 0x0f {
				euc = append(euc, c)
			}
		case shifted && c > 0x20 && c < 0x7f:
			euc = append(euc, c|0x80)
		default:
			euc = append(euc, c)
		}
	}
	return decodeWith(korean.EUCKR, euc)
}
