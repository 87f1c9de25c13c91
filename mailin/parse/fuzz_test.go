package parse

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds are corpus files chosen for their variety: charsets, broken
// boundaries, attached messages, CR line endings, 8-bit headers.
var fuzzSeeds = []string{
	"charsets/letters/test_japanese_multipart_mixed_iso-2022-jp_over_quoted-printable.txt",
	"charsets/letters/test_thai_plaintext_tis-620_over_quoted-printable.txt",
	"mime/stalwart-mail-parser/malformed/009.eml",
	"mime/stalwart-mail-parser/malformed/016.eml",
	"mime/stalwart-mail-parser/malformed/019.eml",
	"mime/stalwart-mail-parser/thirdparty/005.eml",
	"mime/stalwart-mail-parser/rfc/007.eml",
	"mime/enmime/low-quality/bad-header-wrap.raw",
	"mime/mikel-mail/error_emails/bad_subject.eml",
	"mime/mikel-mail/attachment_emails/attachment_with_encoded_name.eml",
	"mime/mikel-mail/multi_charset/japanese_shift_jis.eml",
	"bounces/sisimai/line-endings-mac/rfc3834-01.eml",
	"mime/nodemailer-mailparser/nested.eml",
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		data, err := os.ReadFile(filepath.Join(corpusPath(f, ""), s))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"hello",
		"From: a@b.c\r\n\r\nbody",
		"Content-Type: multipart/mixed; boundary=a\n\n--a\n\n--a--",
		"Subject: =?utf-8?q?=E6=97?= =?x?b?AA?=\n\n",
		"Content-Type: message/rfc822\n\nContent-Type: message/rfc822\n\nFrom: x\n\ny",
		"Content-Type: text/plain; charset=utf-7\n\n+AGEAYgBj",
		"From: a\rSubject: b\r\rc",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, o := range []*Options{nil, {MaxSize: 64}} {
			m, err := Parse(bytes.NewReader(in), o)
			if err != nil {
				if !errors.Is(err, ErrNotMessage) || m != nil {
					t.Fatalf("Parse: got %v, %v; want a message or ErrNotMessage", m, err)
				}
				continue
			}
			if m.Size != int64(len(in)) {
				t.Fatalf("Size: got %d, want %d", m.Size, len(in))
			}
			checkUTF8(t, "fuzz", m)
		}
	})
}
