package parse

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
)

func encode(t *testing.T, enc encoding.Encoding, s string) []byte {
	t.Helper()
	b, err := enc.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatalf("encoding %q: %v", s, err)
	}
	return b
}

// TestDecodeCharsetLabels decodes a sample in every charset family met in
// mail, under the labels mailers use for it.
func TestDecodeCharsetLabels(t *testing.T) {
	const (
		french    = "Où est la fenêtre ? Déjà l'été, ça !"
		polish    = "Zażółć gęślą jaźń"
		russian   = "Съешь же ещё этих мягких французских булок"
		ukr       = "Ґалаґан їсть яєчню"
		greek     = "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία"
		turkish   = "Pijamalı hasta yağız şoföre çabucak güvendi"
		hebrew    = "דג סקרן שט בים מאוכזב"
		arabic    = "نص حكيم له سر قاطع"
		thai      = "เป็นมนุษย์สุดประเสริฐเลิศคุณค่า"
		sJapanese = "いろはにほへと 色は匂えど"
		sKorean   = "키스의 고유조건은 입술끼리"
		chineseS  = "石室诗士施氏，嗜狮"
		chineseT  = "石室詩士施氏，嗜獅"
		viet      = "Tiếng Việt"
		baltic    = "Įlinkdama fechtuotojo špaga"
		nordic    = "Ærøskøbing Åse"
	)
	tests := []struct {
		label string
		enc   encoding.Encoding
		text  string
	}{
		{"iso-8859-1", charmap.ISO8859_1, french},
		{"ISO_8859-1", charmap.ISO8859_1, french},
		{"latin1", charmap.ISO8859_1, french},
		{"latin-1", charmap.ISO8859_1, french},
		{"iso8859_1", charmap.ISO8859_1, french},
		{"l1", charmap.ISO8859_1, french},
		{"iso-8859-2", charmap.ISO8859_2, polish},
		{"iso-8859-4", charmap.ISO8859_4, baltic},
		{"iso-8859-5", charmap.ISO8859_5, russian},
		{"iso-8859-7", charmap.ISO8859_7, greek},
		{"iso-8859-8", charmap.ISO8859_8, hebrew},
		{"iso-8859-8-i", charmap.ISO8859_8, hebrew},
		{"iso-8859-9", charmap.ISO8859_9, turkish},
		{"iso-8859-10", charmap.ISO8859_10, nordic},
		{"iso-8859-13", charmap.ISO8859_13, baltic},
		{"iso-8859-15", charmap.ISO8859_15, french + " €"},
		{"iso-8859-16", charmap.ISO8859_16, "Șase țânțari"},
		{"iso-8859-6", charmap.ISO8859_6, arabic},
		{"windows-1250", charmap.Windows1250, polish},
		{"cp1250", charmap.Windows1250, polish},
		{"windows-1251", charmap.Windows1251, russian},
		{"win-1251", charmap.Windows1251, russian},
		{"windows-1252", charmap.Windows1252, french + " “quotes” – €"},
		{"cp1252", charmap.Windows1252, french},
		{"windows-1253", charmap.Windows1253, greek},
		{"windows-1254", charmap.Windows1254, turkish},
		{"windows-1255", charmap.Windows1255, hebrew},
		{"windows-1256", charmap.Windows1256, arabic},
		{"windows-1257", charmap.Windows1257, baltic},
		{"windows-1258", charmap.Windows1258, "Tiêng Viêt"},
		{"koi8-r", charmap.KOI8R, russian},
		{"koi8r", charmap.KOI8R, russian},
		{"koi8-u", charmap.KOI8U, ukr},
		{"ibm866", charmap.CodePage866, russian},
		{"cp850", charmap.CodePage850, french},
		{"macintosh", charmap.Macintosh, french},
		{"tis-620", charmap.Windows874, thai},
		{"iso-8859-11", charmap.Windows874, thai},
		{"windows-874", charmap.Windows874, thai},
		{"iso-2022-jp", japanese.ISO2022JP, sJapanese},
		{"ISO-2022-JP-2", japanese.ISO2022JP, sJapanese},
		{"shift_jis", japanese.ShiftJIS, sJapanese},
		{"Shift-JIS", japanese.ShiftJIS, sJapanese},
		{"sjis", japanese.ShiftJIS, sJapanese},
		{"cp932", japanese.ShiftJIS, sJapanese},
		{"euc-jp", japanese.EUCJP, sJapanese},
		{"x-euc-jp", japanese.EUCJP, sJapanese},
		{"euc-kr", korean.EUCKR, sKorean},
		{"ks_c_5601-1987", korean.EUCKR, sKorean},
		{"cp949", korean.EUCKR, sKorean},
		{"gb2312", simplifiedchinese.GBK, chineseS},
		{"GB_2312-80", simplifiedchinese.GBK, chineseS},
		{"gbk", simplifiedchinese.GBK, chineseS},
		{"cp936", simplifiedchinese.GBK, chineseS},
		{"gb18030", simplifiedchinese.GB18030, chineseS + " 😀"},
		{"hz-gb-2312", simplifiedchinese.HZGB2312, chineseS},
		{"big5", traditionalchinese.Big5, chineseT},
		{"big5-hkscs", traditionalchinese.Big5, chineseT},
		{"utf-8", unicode.UTF8, viet + " 😀"},
		{"UTF8", unicode.UTF8, viet},
		{"\"utf-8\"", unicode.UTF8, viet},
		{"3D\"utf-8\"", unicode.UTF8, viet},
		{"utf-16le", unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), sJapanese},
		{"utf-16be", unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), sJapanese},
		{"utf-16", unicode.UTF16(unicode.BigEndian, unicode.UseBOM), sJapanese},
		{"utf-16", unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), sJapanese},
		{"utf-16", unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), "plain text"},
		{"utf-16", unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), "plain text, little-endian, no BOM"},
	}
	for _, tt := range tests {
		in := encode(t, tt.enc, tt.text)
		got, warn := decodeCharset(in, tt.label, "")
		if got != tt.text {
			t.Errorf("%s: got %q, want %q", tt.label, got, tt.text)
		}
		if warn != "" {
			t.Errorf("%s: unexpected warning %q", tt.label, warn)
		}
	}
}

func TestDecodeCharsetSpecial(t *testing.T) {
	tests := []struct {
		name, label string
		in          []byte
		want        string
		warn        string // substring of the warning, "" for none
	}{
		{"utf-7", "utf-7", []byte("Hi Mom -+Jjo--!"), "Hi Mom -☺-!", ""},
		{"utf-7 alias", "unicode-1-1-utf-7", []byte("+ZeVnLIqe-"), "日本語", ""},
		{"iso-2022-kr", "iso-2022-kr", []byte("\x1b$)C\x0eGQ19>n\x0f"), "한국어", ""},
		{"ascii alias", "ansi_x3.4-1968", []byte("plain"), "plain", ""},
		{"ascii, 8-bit utf-8", "us-ascii", []byte("café"), "café", `"us-ascii" declared`},
		{"ascii, 8-bit latin-1", "us-ascii", []byte("caf\xe9"), "café", `"us-ascii" declared`},
		{"utf-8 lying, latin-1", "utf-8", []byte("caf\xe9 cr\xe8me"), "café crème", `not valid UTF-8`},
		{"utf-8 lying, koi8-r", "utf-8", encode(t, charmap.KOI8R, "Съешь же ещё этих мягких французских булок"), "Съешь же ещё этих мягких французских булок", "koi8-r"},
		{"utf-8 mostly", "utf-8", []byte("déjà vu\n-- \nSent by R\xe9mi"), "déjà vu\n-- \nSent by Rémi", "stray"},
		{"latin-1 lying, utf-8", "iso-8859-1", []byte("déjà vu"), "déjà vu", `"iso-8859-1" declared but the text is UTF-8`},
		{"koi8 lying, utf-8", "koi8-r", []byte("Привет"), "Привет", "declared but the text is UTF-8"},
		{"x-unknown, utf-8", "x-unknown", []byte("déjà"), "déjà", `unknown charset "x-unknown"`},
		{"unknown, latin-1", "x-invalid", []byte("d\xe9j\xe0"), "déjà", `unknown charset "x-invalid", decoded as windows-1252`},
		{"unknown, ascii", "fakescii", []byte("body"), "body", `"fakescii"`},
		{"none, cp1251", "", encode(t, charmap.Windows1251, "Съешь же ещё этих мягких французских булок"), "Съешь же ещё этих мягких французских булок", "windows-1251"},
		{"none, koi8-r", "", encode(t, charmap.KOI8R, "Съешь же ещё этих мягких французских булок"), "Съешь же ещё этих мягких французских булок", "koi8-r"},
		{"none, iso-2022-jp", "", encode(t, japanese.ISO2022JP, "いろは"), "いろは", ""},
		{"ascii lying, iso-2022-jp", "us-ascii", encode(t, japanese.ISO2022JP, "いろは"), "いろは", "ISO-2022-JP"},
		{"iso-2022-jp lying, 8-bit", "iso-2022-jp", []byte("Dij\x8aat"), "DijŠat", "8-bit"},
		{"bom utf-8", "", []byte("\xef\xbb\xbfhé"), "hé", ""},
		{"bom utf-16", "", []byte("\xff\xfeh\x00\xe9\x00"), "hé", "utf-16"},
		{"replacement label", "iso-2022-cn", []byte("abc"), "abc", `"iso-2022-cn"`},
	}
	for _, tt := range tests {
		got, warn := decodeCharset(tt.in, tt.label, "")
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
		switch {
		case tt.warn == "" && warn != "":
			t.Errorf("%s: unexpected warning %q", tt.name, warn)
		case tt.warn != "" && !strings.Contains(warn, tt.warn):
			t.Errorf("%s: got warning %q, want one containing %q", tt.name, warn, tt.warn)
		}
	}
}

// TestDecodeCharsetHint checks that a charset declared elsewhere in the
// message is tried first on undeclared 8-bit text.
func TestDecodeCharsetHint(t *testing.T) {
	in := encode(t, charmap.ISO8859_2, "Zażółć gęślą jaźń")
	got, _ := decodeCharset(in, "", "iso-8859-2")
	if want := "Zażółć gęślą jaźń"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got, _ = decodeCharset(in, "", "")
	if got == "Zażółć gęślą jaźń" || !utf8.ValidString(got) {
		t.Errorf("without hint got %q, want a windows-1252 reading", got)
	}
}

// TestDecodeCharsetAlwaysUTF8 feeds every byte value under many labels.
func TestDecodeCharsetAlwaysUTF8(t *testing.T) {
	var all []byte
	for i := 0; i < 256; i++ {
		all = append(all, byte(i))
	}
	for _, label := range []string{"", "utf-8", "us-ascii", "utf-7", "iso-2022-jp", "iso-2022-kr", "shift_jis",
		"euc-kr", "gb18030", "big5", "utf-16", "utf-32", "koi8-r", "x-unknown", "hz-gb-2312", "windows-874"} {
		got, _ := decodeCharset(all, label, "")
		if !utf8.ValidString(got) {
			t.Errorf("%s: invalid UTF-8 out", label)
		}
		if got == "" {
			t.Errorf("%s: empty output", label)
		}
	}
}

func TestLookupCharset(t *testing.T) {
	tests := []struct{ label, name string }{
		{"ISO-8859-1", "windows-1252"},
		{"us-ascii", "us-ascii"},
		{"ks_c_5601-1987", "euc-kr"},
		{"gb2312", "gbk"},
		{"tis-620", "windows-874"},
		{"ISO8859-15", "iso-8859-15"},
		{"windows1252", "windows-1252"},
		{"unicode-1-1-utf-7", "utf-7"},
		{"iso-8859-8-i", "iso-8859-8-i"},
		{"x-unknown", "x-unknown"},
		{"x-mac-cyrillic", "x-mac-cyrillic"},
	}
	for _, tt := range tests {
		if got := lookupCharset(tt.label).name; got != tt.name {
			t.Errorf("lookupCharset(%q): got %q, want %q", tt.label, got, tt.name)
		}
	}
	if k := lookupCharset("x-unknown").kind; k != csUnknown {
		t.Errorf("x-unknown: got kind %d, want csUnknown", k)
	}
}
