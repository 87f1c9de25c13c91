package tnef

import (
	"bytes"
	"encoding/binary"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

const cpUTF8 = 65001

// codepage returns the decoder for a Windows code page number, nil for UTF-8 and for code
// pages this package does not know.
func codepage(cp int) encoding.Encoding {
	switch cp {
	case 437:
		return charmap.CodePage437
	case 850:
		return charmap.CodePage850
	case 852:
		return charmap.CodePage852
	case 855:
		return charmap.CodePage855
	case 858:
		return charmap.CodePage858
	case 860:
		return charmap.CodePage860
	case 862:
		return charmap.CodePage862
	case 863:
		return charmap.CodePage863
	case 865:
		return charmap.CodePage865
	case 866:
		return charmap.CodePage866
	case 874:
		return charmap.Windows874
	case 932:
		return japanese.ShiftJIS
	case 936:
		return simplifiedchinese.GBK
	case 949:
		return korean.EUCKR
	case 950:
		return traditionalchinese.Big5
	case 1250:
		return charmap.Windows1250
	case 1251:
		return charmap.Windows1251
	case 1252:
		return charmap.Windows1252
	case 1253:
		return charmap.Windows1253
	case 1254:
		return charmap.Windows1254
	case 1255:
		return charmap.Windows1255
	case 1256:
		return charmap.Windows1256
	case 1257:
		return charmap.Windows1257
	case 1258:
		return charmap.Windows1258
	case 10000:
		return charmap.Macintosh
	case 10007:
		return charmap.MacintoshCyrillic
	case 20866:
		return charmap.KOI8R
	case 21866:
		return charmap.KOI8U
	case 20932, 51932:
		return japanese.EUCJP
	case 50220, 50221, 50222:
		return japanese.ISO2022JP
	case 51936:
		return simplifiedchinese.GBK
	case 51949:
		return korean.EUCKR
	case 52936:
		return simplifiedchinese.HZGB2312
	case 54936:
		return simplifiedchinese.GB18030
	case 28591:
		return charmap.ISO8859_1
	case 28592:
		return charmap.ISO8859_2
	case 28593:
		return charmap.ISO8859_3
	case 28594:
		return charmap.ISO8859_4
	case 28595:
		return charmap.ISO8859_5
	case 28596:
		return charmap.ISO8859_6
	case 28597:
		return charmap.ISO8859_7
	case 28598, 38598:
		return charmap.ISO8859_8
	case 28599:
		return charmap.ISO8859_9
	case 28603:
		return charmap.ISO8859_13
	case 28605:
		return charmap.ISO8859_15
	}
	return nil
}

// known reports whether the code page can be decoded.
func known(cp int) bool {
	return cp == cpUTF8 || cp == 20127 || codepage(cp) != nil
}

// firstCodepage returns the first code page of the list that can be decoded, 0 if none
// can.
func firstCodepage(cps ...int) int {
	for _, cp := range cps {
		if known(cp) {
			return cp
		}
	}
	return 0
}

// decodeText decodes 8-bit text in code page cp to UTF-8. Text in an unknown code page is
// kept if it is valid UTF-8 and read as windows-1252 otherwise; bytes the code page does
// not map become U+FFFD.
func decodeText(b []byte, cp int) string {
	if isASCII(b) {
		return string(b)
	}
	if cp == cpUTF8 || (!known(cp) && utf8.Valid(b)) {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	enc := codepage(cp)
	if enc == nil { // US-ASCII with 8-bit bytes, or unknown
		enc = charmap.Windows1252
	}
	s, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		s, _ = charmap.Windows1252.NewDecoder().Bytes(b)
	}
	return strings.ToValidUTF8(string(s), "\uFFFD")
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// decodeUTF16 decodes UTF-16LE to UTF-8; an odd last byte is dropped. A name is cut at its
// first NUL, a body loses its trailing NULs.
func decodeUTF16(b []byte, name bool) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	if name {
		for i, c := range u {
			if c == 0 {
				u = u[:i]
				break
			}
		}
	} else {
		for len(u) > 0 && u[len(u)-1] == 0 {
			u = u[:len(u)-1]
		}
	}
	return string(utf16.Decode(u))
}

// cutNUL returns b up to its first NUL.
func cutNUL(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// trimNULs returns b without its trailing NULs.
func trimNULs(b []byte) []byte {
	return bytes.TrimRight(b, "\x00")
}
