package parse

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	gmcharset "github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// charsetKind says how the bytes of a charset are turned into UTF-8.
type charsetKind int

const (
	csUnknown   charsetKind = iota // label not recognised (or "x-unknown"): detect
	csUTF8                         // utf-8: validated, detection when invalid
	csASCII                        // us-ascii and its many names: like utf-8
	csUTF7                         // RFC 2152, decodeUTF7
	csSingle                       // one byte per character: ISO-8859-*, windows-*, KOI8, Mac, IBM
	csMulti                        // CJK multi-byte charsets, ASCII-compatible
	csWide                         // UTF-16/UTF-32: not ASCII-compatible
	csStateful                     // ISO-2022-JP, HZ: 7-bit with escape sequences
	csISO2022KR                    // ISO-2022-KR, decodeISO2022KR
	csOther                        // known only to go-message's charset package
)

// charsetInfo is the result of looking a charset label up.
type charsetInfo struct {
	name string // canonical lower-case name, or the cleaned label when unknown
	enc  encoding.Encoding
	kind charsetKind
}

// charsetAliases maps labels seen in mail that the WHATWG and IANA indexes do
// not know (or map to something unhelpful) to a label they do know, or to
// one of the pseudo-labels handled in lookupCharset.
var charsetAliases = map[string]string{
	// ASCII under its many names.
	"ascii": "us-ascii", "ansi_x3.4-1968": "us-ascii", "ansi_x3.4-1986": "us-ascii",
	"iso-ir-6": "us-ascii", "iso646-us": "us-ascii", "iso_646.irv:1991": "us-ascii",
	"us": "us-ascii", "ibm367": "us-ascii", "cp367": "us-ascii", "csascii": "us-ascii",
	"646": "us-ascii", "us_ascii": "us-ascii", "x-ascii": "us-ascii", "ascii-us": "us-ascii",
	// UTF-8.
	"utf8": "utf-8", "unicode-1-1-utf-8": "utf-8", "x-unicode20utf8": "utf-8",
	"unicode-2-0-utf-8": "utf-8", "x-utf8": "utf-8", "x-utf-8": "utf-8", "utf-8-sig": "utf-8",
	"x-utf_8j": "utf-8",
	// UTF-7.
	"utf7": "utf-7", "unicode-1-1-utf-7": "utf-7", "csunicode11utf7": "utf-7",
	"x-unicode-2-0-utf-7": "utf-7", "unicode-2-0-utf-7": "utf-7",
	// UTF-16/32 (RFC 2781: "utf-16" without BOM is big-endian).
	"unicode": "utf-16", "ucs-2": "utf-16be", "iso-10646-ucs-2": "utf-16be", "csunicode": "utf-16be",
	"ucs-2le": "utf-16le", "ucs-2be": "utf-16be", "utf16": "utf-16",
	"ucs-4": "utf-32be", "iso-10646-ucs-4": "utf-32be", "utf32": "utf-32",
	// Korean.
	"ks_c_5601-1987": "euc-kr", "ks_c_5601": "euc-kr", "ksc5601": "euc-kr", "ksc_5601": "euc-kr",
	"ks_c_5601-1989": "euc-kr", "cp949": "euc-kr", "uhc": "euc-kr", "windows-949": "euc-kr",
	"x-windows-949": "euc-kr", "ms949": "euc-kr", "euckr": "euc-kr", "x-euc-kr": "euc-kr",
	"ks_x_1001": "euc-kr", "ksc5601-1987": "euc-kr",
	// Chinese.
	"cp936": "gbk", "ms936": "gbk", "windows-936": "gbk", "euc-cn": "gbk", "x-euc-cn": "gbk",
	"euccn": "gbk", "gb2312-80": "gbk", "x-gb2312": "gbk", "gb_2312-1980": "gbk", "cn-gb": "gbk",
	"gb-2312": "gbk", "gb18030-2000": "gb18030", "gb18030-2005": "gb18030",
	"cp950": "big5", "ms950": "big5", "windows-950": "big5", "big5hkscs": "big5", "x-x-big5": "big5",
	"big-5": "big5", "big-five": "big5", "bigfive": "big5", "cn-big5": "big5",
	// Japanese.
	"cp932": "shift_jis", "ms932": "shift_jis", "windows-932": "shift_jis", "x-ms-cp932": "shift_jis",
	"shiftjis": "shift_jis", "shift-jis": "shift_jis", "sjis-open": "shift_jis", "sjis-win": "shift_jis",
	"eucjp": "euc-jp", "euc_jp": "euc-jp", "ujis": "euc-jp", "x-eucjp": "euc-jp", "eucjp-win": "euc-jp",
	"eucjp-ms": "euc-jp", "cp51932": "euc-jp", "euc-jp-ms": "euc-jp",
	"iso-2022-jp-1": "iso-2022-jp", "iso-2022-jp-2": "iso-2022-jp", "iso-2022-jp-3": "iso-2022-jp",
	"iso-2022-jp-ms": "iso-2022-jp", "cp50220": "iso-2022-jp", "cp50221": "iso-2022-jp",
	"cp50222": "iso-2022-jp", "csiso2022jp2": "iso-2022-jp", "jis": "iso-2022-jp", "iso2022jp": "iso-2022-jp",
	// Thai.
	"tis620": "windows-874", "tis-620-2533": "windows-874", "tis-620-0": "windows-874",
	"cp874": "windows-874", "x-windows-874": "windows-874", "ms874": "windows-874", "iso8859-11": "windows-874",
	"iso_8859-11": "windows-874", "thai": "windows-874",
	// Western and others.
	"latin-1": "iso-8859-1", "latin_1": "iso-8859-1", "iso-latin-1": "iso-8859-1", "8859-1": "iso-8859-1",
	"iso-8859-1:1987": "iso-8859-1", "western": "iso-8859-1", "ansi": "windows-1252",
	"latin-2": "iso-8859-2", "latin2": "iso-8859-2", "latin-9": "iso-8859-15", "latin9": "iso-8859-15",
	"latin-0": "iso-8859-15", "iso-8859-15-fdis": "iso-8859-15",
	"koi8": "koi8-r", "koi8r": "koi8-r", "koi8u": "koi8-u", "koi-8-r": "koi8-r", "koi8_r": "koi8-r",
	"mac": "macintosh", "macroman": "macintosh", "mac-roman": "macintosh", "x-mac": "macintosh",
	"x-mac-ce": "x-mac-cyrillic", // not quite, but closer than windows-1252
	// Labels that say nothing: detect.
	"x-unknown": "", "unknown": "", "unknown-8bit": "", "x-user-defined": "", "8bit": "",
	"7bit": "", "binary": "", "none": "", "charset": "", "x-binaryenc": "", "default": "",
	"x-x-unknown": "", "undefined": "", "null": "", "auto": "", "iso-2022-cn": "", "iso-2022-cn-ext": "",
	"replacement": "", "text": "", "plain": "",
}

// cleanCharsetLabel lower-cases a charset label and strips the debris found
// around it in the wild: quotes, spaces, a QP "3D" left over from a
// mis-decoded "=", an RFC 2231 "*lang" suffix, trailing punctuation.
func cleanCharsetLabel(label string) string {
	l := strings.ToLower(strings.TrimSpace(label))
	if strings.HasPrefix(l, "3d") && len(l) > 2 && (l[2] == '"' || l[2] == '\'' || (l[2] >= 'a' && l[2] <= 'z')) {
		l = l[2:]
	}
	l = strings.Trim(l, "\"' \t;,.:=\\")
	if i := strings.IndexByte(l, '*'); i >= 0 {
		l = l[:i]
	}
	if i := strings.IndexAny(l, " \t;\"'"); i >= 0 {
		l = l[:i]
	}
	return l
}

// squashCharsetLabel recognises families written without their usual
// punctuation: "iso8859_2", "win1251", "cp1252", "windows 1250" …
func squashCharsetLabel(l string) string {
	var b strings.Builder
	for i := 0; i < len(l); i++ {
		c := l[i]
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteByte(c)
		}
	}
	s := b.String()
	digitsAfter := func(prefix string) (string, bool) {
		if !strings.HasPrefix(s, prefix) || len(s) == len(prefix) {
			return "", false
		}
		d := s[len(prefix):]
		for i := 0; i < len(d); i++ {
			if d[i] < '0' || d[i] > '9' {
				return "", false
			}
		}
		return d, true
	}
	if d, ok := digitsAfter("iso8859"); ok {
		return "iso-8859-" + d
	}
	for _, p := range []string{"windows", "win", "cp", "ms", "xcp"} {
		if d, ok := digitsAfter(p); ok {
			if strings.HasPrefix(d, "125") || d == "874" {
				return "windows-" + d
			}
			return "ibm" + d
		}
	}
	if d, ok := digitsAfter("ibm"); ok {
		return "ibm" + d
	}
	switch s {
	case "utf8":
		return "utf-8"
	case "usascii":
		return "us-ascii"
	case "koi8r":
		return "koi8-r"
	case "koi8u":
		return "koi8-u"
	case "eucjp":
		return "euc-jp"
	case "euckr":
		return "euc-kr"
	case "shiftjis", "sjis":
		return "shift_jis"
	case "gb2312", "gbk":
		return "gbk"
	case "iso2022jp":
		return "iso-2022-jp"
	case "utf16":
		return "utf-16"
	case "utf7":
		return "utf-7"
	}
	return ""
}

// lookupCharset resolves a charset label. The WHATWG index (htmlindex) comes
// first because it maps the labels found in the wild to the supersets that
// mailers really use (iso-8859-1 → windows-1252, gb2312 → gbk, euc-kr →
// windows-949, tis-620 → windows-874); then the IANA index, then
// go-message's own table.
func lookupCharset(label string) charsetInfo {
	l := cleanCharsetLabel(label)
	if l == "" {
		return charsetInfo{kind: csUnknown}
	}
	if a, ok := charsetAliases[l]; ok {
		if a == "" {
			return charsetInfo{name: l, kind: csUnknown}
		}
		l = a
	}
	if info, ok := lookupCleanCharset(l); ok {
		return info
	}
	if s := squashCharsetLabel(l); s != "" && s != l {
		if a, ok := charsetAliases[s]; ok && a != "" {
			s = a
		}
		if info, ok := lookupCleanCharset(s); ok {
			return info
		}
	}
	// Last resort: whatever go-message's charset package knows.
	if r, err := gmcharset.Reader(l, strings.NewReader("")); err == nil && r != nil {
		return charsetInfo{name: l, kind: csOther}
	}
	return charsetInfo{name: l, kind: csUnknown}
}

func lookupCleanCharset(l string) (charsetInfo, bool) {
	switch l {
	case "":
		return charsetInfo{}, false
	case "utf-8":
		return charsetInfo{name: "utf-8", kind: csUTF8}, true
	case "us-ascii":
		return charsetInfo{name: "us-ascii", kind: csASCII}, true
	case "utf-7":
		return charsetInfo{name: "utf-7", kind: csUTF7}, true
	case "utf-16":
		return charsetInfo{name: "utf-16", enc: unicode.UTF16(unicode.BigEndian, unicode.UseBOM), kind: csWide}, true
	case "utf-16be":
		return charsetInfo{name: "utf-16be", enc: unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), kind: csWide}, true
	case "utf-16le":
		return charsetInfo{name: "utf-16le", enc: unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), kind: csWide}, true
	case "utf-32":
		return charsetInfo{name: "utf-32", enc: utf32.UTF32(utf32.BigEndian, utf32.UseBOM), kind: csWide}, true
	case "utf-32be":
		return charsetInfo{name: "utf-32be", enc: utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM), kind: csWide}, true
	case "utf-32le":
		return charsetInfo{name: "utf-32le", enc: utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM), kind: csWide}, true
	case "iso-2022-kr", "csiso2022kr":
		return charsetInfo{name: "iso-2022-kr", kind: csISO2022KR}, true
	case "hz-gb-2312", "hz":
		return charsetInfo{name: "hz-gb-2312", enc: simplifiedchinese.HZGB2312, kind: csStateful}, true
	}
	if enc, err := htmlindex.Get(l); err == nil && enc != nil {
		name, _ := htmlindex.Name(enc)
		switch name {
		case "replacement", "x-user-defined", "":
			return charsetInfo{}, false
		case "utf-8":
			return charsetInfo{name: "utf-8", kind: csUTF8}, true
		case "utf-16le", "utf-16be":
			// Only reached for labels not handled above.
			return charsetInfo{name: name, enc: enc, kind: csWide}, true
		}
		return charsetInfo{name: name, enc: enc, kind: kindOf(enc)}, true
	}
	for _, idx := range []*ianaindex.Index{ianaindex.MIME, ianaindex.IANA} {
		if enc, err := idx.Encoding(l); err == nil && enc != nil {
			name, _ := idx.Name(enc)
			name = strings.ToLower(name)
			if name == "" {
				name = l
			}
			return charsetInfo{name: name, enc: enc, kind: kindOf(enc)}, true
		}
	}
	return charsetInfo{}, false
}

// kindOf classifies an x/text encoding.
func kindOf(enc encoding.Encoding) charsetKind {
	switch enc {
	case japanese.ISO2022JP, simplifiedchinese.HZGB2312:
		return csStateful
	case japanese.ShiftJIS, japanese.EUCJP, korean.EUCKR, simplifiedchinese.GBK,
		simplifiedchinese.GB18030:
		return csMulti
	}
	// An encoding that does not write ASCII as ASCII (UTF-16, UTF-32,
	// EBCDIC) must not take the pure-ASCII shortcut.
	if e, err := enc.NewEncoder().String("Aa0 -\n"); err != nil || e != "Aa0 -\n" {
		return csWide
	}
	if _, ok := enc.(*charmap.Charmap); ok {
		return csSingle
	}
	return csMulti
}

// has8bit reports whether b holds a byte above 0x7f.
func has8bit(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// decodeWith converts b with enc and counts the U+FFFD it had to produce.
func decodeWith(enc encoding.Encoding, b []byte) (string, int) {
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		// x/text decoders replace bad input rather than fail; an error here
		// means a transformer gave up: keep what decodes as UTF-8.
		return strings.ToValidUTF8(string(b), "\uFFFD"), 1
	}
	bad := bytes.Count(out, []byte("\uFFFD")) - bytes.Count(b, []byte("\uFFFD"))
	if bad < 0 {
		bad = 0
	}
	if !utf8.Valid(out) {
		return strings.ToValidUTF8(string(out), "\uFFFD"), bad + 1
	}
	return string(out), bad
}

// decodeCharset converts b, declared in charset label, to valid UTF-8.
// hint is a charset seen elsewhere in the same message, used as the first
// guess when the label is missing, unknown or wrong. It returns the text and
// a warning, "" when the declared charset was used as is.
func decodeCharset(b []byte, label, hint string) (string, string) {
	info := lookupCharset(label)
	declared := cleanCharsetLabel(label)
	asciiCompatible := info.kind != csWide && info.kind != csUTF7 && info.kind != csStateful && info.kind != csISO2022KR
	if asciiCompatible && !has8bit(b) {
		if bytes.IndexByte(b, 0x1b) >= 0 && hasJISEscape(b) {
			// ISO-2022-JP labelled as something else (often us-ascii).
			if s, bad := decodeWith(japanese.ISO2022JP, b); bad == 0 {
				if declared == "" {
					return s, ""
				}
				return s, fmt.Sprintf("charset %q declared but the text is ISO-2022-JP", declared)
			}
		}
		// Pure ASCII reads the same in every ASCII-compatible charset.
		if info.kind == csUnknown && declared != "" {
			return string(b), fmt.Sprintf("unknown charset %q (the text is ASCII)", declared)
		}
		return string(b), ""
	}
	switch info.kind {
	case csUTF8:
		if utf8.Valid(b) {
			return strings.TrimPrefix(string(b), "\uFEFF"), ""
		}
		s, used := guessCharset(b, hint)
		return s, fmt.Sprintf("charset %q declared but the text is not valid UTF-8, decoded as %s", declared, used)
	case csASCII:
		if utf8.Valid(b) {
			return string(b), fmt.Sprintf("charset %q declared but the text is 8-bit UTF-8, decoded as utf-8", declared)
		}
		s, used := guessCharset(b, hint)
		return s, fmt.Sprintf("charset %q declared but the text is 8-bit, decoded as %s", declared, used)
	case csUTF7:
		s, ok := decodeUTF7(b)
		if ok {
			return s, ""
		}
		if looksUTF8(b) {
			return string(b), fmt.Sprintf("charset %q declared but the text is UTF-8, decoded as utf-8", declared)
		}
		return s, fmt.Sprintf("charset %q: malformed UTF-7", declared)
	case csSingle:
		if looksUTF8(b) {
			return string(b), fmt.Sprintf("charset %q declared but the text is UTF-8, decoded as utf-8", declared)
		}
		if multi, stray := utf8Mix(b); multi >= 3 && stray*3 <= multi {
			// UTF-8 with a few stray bytes: far from what the label says.
			s, _ := decodeMostlyUTF8(b)
			return s, fmt.Sprintf("charset %q declared but the text is mostly UTF-8, decoded as utf-8 (stray bytes as windows-1252)", declared)
		}
		s, _ := decodeWith(info.enc, b)
		return s, ""
	case csMulti, csStateful:
		if info.kind == csStateful && has8bit(b) {
			// ISO-2022-JP and HZ are 7-bit: 8-bit bytes say the label lies.
			s, used := guessCharset(b, hint)
			return s, fmt.Sprintf("charset %q declared but the text is 8-bit, decoded as %s", declared, used)
		}
		s, bad := decodeWith(info.enc, b)
		if bad == 0 {
			return s, ""
		}
		if looksUTF8(b) {
			return string(b), fmt.Sprintf("charset %q declared but the text is UTF-8, decoded as utf-8", declared)
		}
		return s, fmt.Sprintf("charset %q: %d invalid byte sequence(s) replaced", declared, bad)
	case csWide:
		enc := info.enc
		if info.name == "utf-16" && !bytes.HasPrefix(b, []byte{0xfe, 0xff}) && !bytes.HasPrefix(b, []byte{0xff, 0xfe}) && looksLittleEndian16(b) {
			enc = unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
		}
		s, bad := decodeWith(enc, b)
		if bad > 0 {
			return s, fmt.Sprintf("charset %q: %d invalid sequence(s) replaced", declared, bad)
		}
		return s, ""
	case csISO2022KR:
		s, bad := decodeISO2022KR(b)
		if bad > 0 {
			return s, fmt.Sprintf("charset %q: %d invalid sequence(s) replaced", declared, bad)
		}
		return s, ""
	case csOther:
		if looksUTF8(b) {
			return string(b), fmt.Sprintf("charset %q declared but the text is UTF-8, decoded as utf-8", declared)
		}
		if r, err := gmcharset.Reader(info.name, bytes.NewReader(b)); err == nil {
			if out, err := io.ReadAll(r); err == nil {
				return strings.ToValidUTF8(string(out), "\uFFFD"), ""
			}
		}
	}
	// Unknown or missing label.
	s, used := guessCharset(b, hint)
	if declared == "" {
		if used == "utf-8" {
			return s, ""
		}
		return s, fmt.Sprintf("no charset declared for 8-bit text, decoded as %s", used)
	}
	return s, fmt.Sprintf("unknown charset %q, decoded as %s", declared, used)
}

// charsetHint returns label when it names a real non-Unicode charset worth
// trying on undeclared text of the same message, else "".
func charsetHint(label string) string {
	info := lookupCharset(label)
	switch info.kind {
	case csSingle, csMulti, csStateful:
		return info.name
	}
	return ""
}
