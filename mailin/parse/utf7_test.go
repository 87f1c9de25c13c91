package parse

import (
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

func TestDecodeUTF7(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"", "", true},
		{"Hi Mom -+Jjo--!", "Hi Mom -☺-!", true},
		{"+ZeVnLIqe-", "日本語", true},
		{"A+ImIDkQ.", "A≢Α.", true}, // run ended by a non-base64 character, kept
		{"Item 3 is +AKM-1.", "Item 3 is £1.", true},
		{"1 +- 1 = 2", "1 + 1 = 2", true},
		{"+2D3eAQ-", "😁", true}, // surrogate pair
		{"+BB8EQAQ4BDIENQRC +BDwEOARA-", "Привет мир", true},
		{"+AGEAYgBj", "abc", true}, // run ended by the end of the input
		{"+AGE-+AGI-", "ab", true},
		{"caf\xe9", "caf\uFFFD", false},     // 8-bit byte
		{"+2D0-", "\uFFFD", false},          // lone high surrogate
		{"+3gE-", "\uFFFD", false},          // lone low surrogate
		{"+AG", "", false},                  // leftover bits
		{"+AGF-", "a", false},               // non-zero leftover bits
		{"a + b", "a + b", false},           // '+' followed by a space
		{"+2D3YPQ-", "\uFFFD\uFFFD", false}, // two high surrogates
		{"x+", "x+", false},                 // '+' at the end
		{"+AGEAYgBj-xyz", "abcxyz", true},   // '-' absorbed
		{"+AGEAYgBj--xyz", "abc-xyz", true}, // only one '-' absorbed
		{"~\\+AH4AXA-", "~\\~\\", true},     // characters that must be encoded
		{"+//8-", "\uFFFF", true},           // highest BMP code point
		{"+2//f/w-", "\U0010FFFF", true},    // highest code point
		{"\x00\x7f", "\x00\x7f", true},      // controls pass through
		{"+AAA-", "\x00", true},             // encoded NUL
		{"+ZeVnLIqe", "日本語", true},          // no terminator
		{"+ZeVnLIqeZ", "日本語", false},        // 6 stray bits
		{"+AKM-+AKM-", "££", true},          // adjacent runs
		{"+AKMAow-", "££", true},            // one run
		{"+-+-", "++", true},                // escaped plus twice
		{"+-+AKM-", "+£", true},             // escaped plus then run
		{"é", "\uFFFD\uFFFD", false},        // UTF-8 is not UTF-7
		{"+AOk-t+AOk-", "été", true},        // French
		{"+ZeVnLIqe-.", "日本語.", true},       // terminator then dot
		{"+ZeVnLIqe.", "日本語.", true},        // dot ends the run
		{"+AKM", "£", true},                 // 18 bits, 2 zero leftover bits
		{"+AKMA", "£", false},               // 6 leftover bits
		{"+AKMAo", "£", false},              // 12 leftover bits, not zero
		{"+AKMAow", "££", true},             // exact
		{"+/v8A", "\uFEFF", false},          // leftover bits
		{"a+-b+-c", "a+b+c", true},          // several escaped pluses
		{"+ZeV-+nLI-", "日鲲", false},         // non-zero leftover bits in the first run
		{"++", "", false},                   // a run of one base64 character: 6 leftover bits
		{strings.Repeat("a", 100), strings.Repeat("a", 100), true},
	}
	for _, tt := range tests {
		got, ok := decodeUTF7([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("decodeUTF7(%q): got %q, %v, want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// encodeUTF7 is a plain RFC 2152 encoder (every non-ASCII run in base64),
// for the round-trip fuzz test.
func encodeUTF7(s string) string {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var b strings.Builder
	var units []uint16
	flush := func(next rune) {
		if len(units) == 0 {
			return
		}
		b.WriteByte('+')
		var bits uint32
		n := 0
		for _, u := range units {
			bits = bits<<16 | uint32(u)
			n += 16
			for n >= 6 {
				n -= 6
				b.WriteByte(alpha[bits>>uint(n)&0x3f])
			}
		}
		if n > 0 {
			b.WriteByte(alpha[bits<<uint(6-n)&0x3f])
		}
		b.WriteByte('-')
		units = units[:0]
	}
	for _, r := range s {
		if r < 0x80 && r != '+' && r != '~' && r != '\\' {
			flush(r)
			b.WriteRune(r)
			continue
		}
		if r == '+' && len(units) == 0 {
			b.WriteString("+-")
			continue
		}
		units = append(units, utf16.Encode([]rune{r})...)
	}
	flush(0)
	return b.String()
}

func FuzzUTF7(f *testing.F) {
	for _, s := range []string{"Hi Mom -+Jjo--!", "+ZeVnLIqe-", "A+ImIDkQ.", "+2D3eAQ-", "+AKM", "a+-b", "caf\xe9", "+2D0-"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, _ := decodeUTF7(in)
		if !utf8.ValidString(got) {
			t.Fatalf("decodeUTF7(%q) is not valid UTF-8: %q", in, got)
		}
		// Round trip: any valid text survives encoding and decoding.
		if utf8.Valid(in) {
			s := strings.ToValidUTF8(string(in), "")
			enc := encodeUTF7(s)
			back, ok := decodeUTF7([]byte(enc))
			// Unpaired surrogates do not exist in valid UTF-8, so the
			// encoding is always well-formed.
			if !ok || back != s {
				t.Fatalf("round trip of %q via %q: got %q, %v", s, enc, back, ok)
			}
		}
	})
}
