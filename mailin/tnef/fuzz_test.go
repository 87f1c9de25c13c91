package tnef

import (
	"errors"
	"os"
	"reflect"
	"slices"
	"testing"
	"unicode/utf8"
)

// FuzzDecode checks that Decode never panics and keeps its promises on any input: the
// error is nil, ErrNotTNEF (and no message) or ErrTruncated (and a message); names and
// bodies are UTF-8; files never hold more bytes than the input; a byte that cannot start
// an attribute, appended to a stream that decodes without error, changes nothing.
func FuzzDecode(f *testing.F) {
	for _, blob := range corpusBlobs(f) {
		b, err := os.ReadFile(blob)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	lzfu := []byte{
		0x1a, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xe2, 0xd4, 0x4b, 0x51,
		0x41, 0x00, 0x04, 0x20, 0x57, 0x58, 0x59, 0x5a, 0x0d, 0x6e, 0x7d, 0x01, 0x0e, 0xb0,
	}
	f.Add(nested(3))
	f.Add(stream(msgAttr(tagOemCodepage, cat(le32(932), le32(0))), msgAttr(tagMsgProps, props(
		propLong(prInternetCPID, 20866), propUnicode(prBody, "body"), propString8(prBodyHTML, "<p>html</p>"), propBinary(prRTFCompressed, lzfu)))))
	f.Add(stream(rendData(), attAttr(tagAttachModifyDat, date(2024, 2, 29, 13, 45, 30)), attAttr(tagAttachData, []byte("x")),
		attAttr(tagAttachment, props(propUnicode(prAttachLongFilename, "long name.txt"), propTime(prLastModificationTime, 133e15)))))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		switch {
		case errors.Is(err, ErrNotTNEF):
			if m != nil {
				t.Fatalf("ErrNotTNEF with a message")
			}
			return
		case err != nil && !errors.Is(err, ErrTruncated):
			t.Fatalf("Decode: got error %v, want nil, ErrNotTNEF or ErrTruncated", err)
		case m == nil:
			t.Fatalf("Decode: got no message with error %v", err)
		}
		total := 0
		for _, f := range m.Files {
			if !utf8.ValidString(f.Name) || !utf8.ValidString(f.ContentType) {
				t.Errorf("file name %q, content type %q: not UTF-8", f.Name, f.ContentType)
			}
			if f.Data == nil {
				t.Errorf("file %q: nil data", f.Name)
			}
			total += len(f.Data)
		}
		if total > len(data) {
			t.Errorf("files hold %d bytes, the input %d", total, len(data))
		}
		if !utf8.ValidString(m.Body) || !utf8.ValidString(m.BodyHTML) {
			t.Errorf("bodies not UTF-8")
		}
		if len(m.BodyRTF) > 9*len(data) {
			t.Errorf("RTF body of %d bytes from %d bytes of input", len(m.BodyRTF), len(data))
		}
		if err == nil {
			m2, err2 := Decode(append(slices.Clip(data), 0))
			if err2 != nil || !reflect.DeepEqual(m2, m) {
				t.Errorf("with a trailing NUL: got %v, want the same message and no error", err2)
			}
		}
	})
}
