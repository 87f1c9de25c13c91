package tnef

import "testing"

func TestDecodeText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		cp   int
		want string
	}{
		{"ASCII in any code page", "report.pdf", 932, "report.pdf"},
		{"windows-1252", "caf\xe9 \x80", 1252, "café €"},
		{"windows-1251", "\xce\xf2\xf7\xb8\xf2", 1251, "Отчёт"},
		{"KOI8-R", "\xdb\xcf\xd3\xd4\xc9\xca", 20866, "шостий"},
		{"Shift_JIS", "\x93\xfa\x96\x7b", 932, "日本"},
		{"GBK", "\xd6\xd0\xce\xc4", 936, "中文"},
		{"UTF-8", "naïve", 65001, "naïve"},
		{"invalid UTF-8", "na\xefve", 65001, "na\uFFFDve"},
		{"unknown code page, valid UTF-8 kept", "naïve", 4242, "naïve"},
		{"unknown code page, else windows-1252", "na\xefve", 4242, "naïve"},
		{"no code page", "na\xefve", 0, "naïve"},
		{"US-ASCII with 8-bit bytes", "na\xefve", 20127, "naïve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decodeText([]byte(tt.in), tt.cp); got != tt.want {
				t.Errorf("decodeText(%q, %d): got %q, want %q", tt.in, tt.cp, got, tt.want)
			}
		})
	}
}

func TestDecodeUTF16(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		isName bool
		want   string
	}{
		{"name cut at its first NUL", utf16le("a.txt\x00junk\x00"), true, "a.txt"},
		{"body keeps inner NULs, loses trailing ones", utf16le("a\x00b\x00\x00"), false, "a\x00b"},
		{"surrogate pair", utf16le("😀.png"), true, "😀.png"},
		{"odd last byte dropped", append(utf16le("ab"), 'c'), true, "ab"},
		{"lone surrogate", []byte{0x00, 0xD8, 'a', 0}, true, "\uFFFDa"},
		{"empty", nil, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decodeUTF16(tt.in, tt.isName); got != tt.want {
				t.Errorf("decodeUTF16(%x): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFirstCodepage(t *testing.T) {
	tests := []struct {
		in   []int
		want int
	}{
		{[]int{0, 1251, 1252}, 1251},
		{[]int{20866, 1251}, 20866},
		{[]int{65001}, 65001},
		{[]int{0, 4242}, 0},
		{nil, 0},
	}
	for _, tt := range tests {
		if got := firstCodepage(tt.in...); got != tt.want {
			t.Errorf("firstCodepage(%v): got %d, want %d", tt.in, got, tt.want)
		}
	}
}
