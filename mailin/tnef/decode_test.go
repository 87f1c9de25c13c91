package tnef

import (
	"bytes"
	"errors"
	"reflect"
	"runtime"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	hello := fileStream("a.txt", []byte("hello"))
	helloMsg := &Message{Files: []File{{Name: "a.txt", Data: []byte("hello")}}}
	badChecksum := bytes.Clone(hello)
	badChecksum[len(badChecksum)-1] ^= 0xFF
	koi8 := []byte{0xDB, 0xCF, 0xD3, 0xD4, 0xC9, 0xCA} // "шостий" in KOI8-R
	cp1251 := []byte{0xCE, 0xF2, 0xF7, 0xB8, 0xF2, '.', 't', 'x', 't'}
	mela := cat(le32(12+5), le32(5), le32(compMELA), le32(0), []byte("{\\rtf"))
	mod := date(2024, 2, 29, 13, 45, 30)

	tests := []struct {
		name    string
		in      []byte
		wantErr error
		want    *Message
	}{
		// Not TNEF.
		{"empty", nil, ErrNotTNEF, nil},
		{"three bytes", []byte{0x78, 0x9F, 0x3E}, ErrNotTNEF, nil},
		{"zip file", []byte("PK\x03\x04\x14\x00\x00\x00"), ErrNotTNEF, nil},
		{"signature byte-swapped", cat([]byte{0x22, 0x3E, 0x9F, 0x78}, le16(1)), ErrNotTNEF, nil},

		// Truncation: an error and what was decoded before it.
		{"signature without key", le32(signature), ErrTruncated, &Message{}},
		{"truncated attribute header", cat(stream(), []byte{1, 0x06, 0x90}), ErrTruncated, &Message{}},
		{"truncated header after a file", cat(hello, []byte{2, 0x0F, 0x80, 0x06}), ErrTruncated, helloMsg},
		{"length larger than the input", cat(hello, []byte{2}, le32(tagAttachData), le32(0xFFFFFFFF), []byte("abc")), ErrTruncated, helloMsg},
		{"length one byte too large", cat(hello, []byte{2}, le32(tagAttachData), le32(4), []byte("abc")), ErrTruncated, helloMsg},
		{"data cut short", hello[:len(hello)-4], ErrTruncated, &Message{}},
		{"checksum missing", hello[:len(hello)-2], ErrTruncated, helloMsg},
		{"checksum cut in half", hello[:len(hello)-1], ErrTruncated, helloMsg},

		// Leniency.
		{"no attributes", stream(), nil, &Message{}},
		{"checksum mismatch is accepted", badChecksum, nil, helloMsg},
		{"trailing line break", cat(hello, []byte("\r\n")), nil, helloMsg},
		{"trailing garbage", cat(hello, []byte("KAKdojJF5m5wmN+3BJwO1MGo2+7a")), nil, helloMsg},
		{"trailing NULs", cat(hello, make([]byte, 100)), nil, helloMsg},
		{"attachment without attAttachRendData", stream(attAttr(tagAttachTitle, []byte("a.txt\x00")), attAttr(tagAttachData, []byte("hello"))), nil, helloMsg},
		{"data before the name", stream(rendData(), attAttr(tagAttachData, []byte("hello")), attAttr(tagAttachTitle, []byte("a.txt\x00"))), nil, helloMsg},
		{"empty data", fileStream("AUTOEXEC.BAT", nil), nil, &Message{Files: []File{{Name: "AUTOEXEC.BAT", Data: []byte{}}}}},
		{"attachment without data", stream(rendData(), attAttr(tagAttachTitle, []byte("link.url\x00"))), nil, &Message{}},
		{"unknown attributes are skipped", stream(msgAttr(0x00068042, []byte("??")), rendData(), attAttr(0x00069001, []byte("x")), attAttr(tagAttachTitle, []byte("a.txt\x00")), attAttr(tagAttachData, []byte("hello"))), nil, helloMsg},

		// Names.
		{"long file name wins over the 8.3 title", stream(rendData(),
			attAttr(tagAttachTitle, []byte("RESUME~1.DOC\x00")),
			attAttr(tagAttachData, []byte("x")),
			attAttr(tagAttachment, props(propString8(prAttachFilename, "RESUME~1.DOC"), propUnicode(prAttachLongFilename, "Résumé 2024.docx")))),
			nil, &Message{Files: []File{{Name: "Résumé 2024.docx", Data: []byte("x")}}}},
		{"8.3 title in the OEM code page", stream(msgAttr(tagOemCodepage, cat(le32(1251), le32(0))), rendData(),
			attAttr(tagAttachTitle, append(cp1251, 0)), attAttr(tagAttachData, []byte("x"))),
			nil, &Message{Files: []File{{Name: "Отчёт.txt", Data: []byte("x")}}}},
		{"8-bit long file name in the OEM code page", stream(rendData(), attAttr(tagAttachData, []byte("x")),
			attAttr(tagAttachment, props(propString8(prAttachLongFilename, "caf\xe9 cr\xe8me.pdf"))),
			msgAttr(tagOemCodepage, cat(le32(1252), le32(0)))),
			nil, &Message{Files: []File{{Name: "café crème.pdf", Data: []byte("x")}}}},
		{"PR_ATTACH_FILENAME without a title", stream(rendData(), attAttr(tagAttachData, []byte("x")),
			attAttr(tagAttachment, props(propString8(prDisplayName, "Display"), propString8(prAttachFilename, "SHORT.TXT")))),
			nil, &Message{Files: []File{{Name: "SHORT.TXT", Data: []byte("x")}}}},
		{"display name last", stream(rendData(), attAttr(tagAttachData, []byte("x")),
			attAttr(tagAttachment, props(propUnicode(prDisplayName, "Display")))),
			nil, &Message{Files: []File{{Name: "Display", Data: []byte("x")}}}},
		{"name cut at its first NUL", stream(rendData(), attAttr(tagAttachTitle, []byte("a.txt\x00junk\x00")), attAttr(tagAttachData, []byte("hello"))), nil, helloMsg},
		{"named and multi-valued properties", stream(rendData(), attAttr(tagAttachData, []byte("x")),
			attAttr(tagAttachment, props(
				cat(ptag(0x8005, ptUnicode), make([]byte, 16), le32(1), le32(18), pad4(utf16le("Keywords\x00")), varValues(utf16le("k\x00"))),
				cat(ptag(0x8006, ptLong), make([]byte, 16), le32(0), le32(0x8523), le32(7)),
				cat(ptag(prAttachLongFilename, ptString8|mvFlag), varValues([]byte("first.txt\x00"), []byte("second.txt\x00"))),
				propString8(prAttachMimeTag, "text/plain")))),
			nil, &Message{Files: []File{{Name: "first.txt", ContentType: "text/plain", Data: []byte("x")}}}},

		// Content type, times, data.
		{"content type and PR_LAST_MODIFICATION_TIME", stream(rendData(), attAttr(tagAttachModifyDat, mod), attAttr(tagAttachData, []byte("x")),
			attAttr(tagAttachment, props(propString8(prAttachMimeTag, "image/png"), propTime(prLastModificationTime, 133_000_000_000_000_000)))),
			nil, &Message{Files: []File{{ContentType: "image/png", Data: []byte("x"), ModTime: time.Date(2022, 6, 18, 4, 26, 40, 0, time.UTC)}}}},
		{"attAttachModifyDate taken as UTC", stream(rendData(), attAttr(tagAttachModifyDat, mod), attAttr(tagAttachData, []byte("x"))),
			nil, &Message{Files: []File{{Data: []byte("x"), ModTime: time.Date(2024, 2, 29, 13, 45, 30, 0, time.UTC)}}}},
		{"invalid date", stream(rendData(), attAttr(tagAttachModifyDat, date(2023, 2, 29, 13, 45, 30)), attAttr(tagAttachData, []byte("x"))),
			nil, &Message{Files: []File{{Data: []byte("x")}}}},
		{"date out of range", stream(rendData(), attAttr(tagAttachModifyDat, date(2023, 13, 1, 25, 61, 61)), attAttr(tagAttachData, []byte("x"))),
			nil, &Message{Files: []File{{Data: []byte("x")}}}},
		{"short date", stream(rendData(), attAttr(tagAttachModifyDat, le16(2023)), attAttr(tagAttachData, []byte("x"))),
			nil, &Message{Files: []File{{Data: []byte("x")}}}},
		{"FILETIME beyond year 9999", stream(rendData(), attAttr(tagAttachData, []byte("x")),
			attAttr(tagAttachment, props(propTime(prLastModificationTime, 1<<63)))),
			nil, &Message{Files: []File{{Data: []byte("x")}}}},
		{"PR_ATTACH_DATA_BIN without attAttachData", stream(rendData(), attAttr(tagAttachTitle, []byte("a.txt\x00")),
			attAttr(tagAttachment, props(propBinary(prAttachData, []byte("hello"))))),
			nil, helloMsg},
		{"OLE object kept with its IID", stream(rendData(), attAttr(tagAttachTitle, []byte("Untitled Attachment\x00")),
			attAttr(tagAttachment, props(propLong(prAttachMethod, 6), propObject(prAttachData, iidMessage[:16], []byte("storage"))))),
			nil, &Message{Files: []File{{Name: "Untitled Attachment", Data: cat(iidMessage, []byte("storage"))}}}},

		// Embedded messages.
		{"embedded message flattened", stream(rendData(),
			attAttr(tagAttachTitle, []byte("Untitled Attachment\x00")),
			attAttr(tagAttachData, []byte("This attachment is a MAPI 1.0 embedded message and is not supported by this mail system.\x00")),
			attAttr(tagAttachment, props(propLong(prAttachMethod, attachEmbeddedMsg), propObject(prAttachData, iidMessage, hello)))),
			nil, helloMsg},
		{"embedded message that is not TNEF", stream(rendData(),
			attAttr(tagAttachment, props(propLong(prAttachMethod, attachEmbeddedMsg), propObject(prAttachData, iidMessage, []byte("garbage"))))),
			nil, &Message{}},
		{"embedded message without its object", stream(rendData(),
			attAttr(tagAttachData, []byte("placeholder")),
			attAttr(tagAttachment, props(propLong(prAttachMethod, attachEmbeddedMsg)))),
			nil, &Message{}},
		{"embedded message cut short keeps its files", stream(rendData(),
			attAttr(tagAttachment, props(propLong(prAttachMethod, attachEmbeddedMsg), propObject(prAttachData, iidMessage, cat(hello, []byte{2, 0, 0}))))),
			nil, helloMsg},

		// Bodies.
		{"bodies", stream(
			msgAttr(tagBody, []byte("legacy\r\n\x00")),
			msgAttr(tagMsgProps, props(
				propLong(prInternetCPID, 20866),
				propUnicode(prBody, "plain ☺\r\n"),
				propBinary(prBodyHTML, cat([]byte("<p>"), koi8, []byte("</p>"))),
				propBinary(prRTFCompressed, mela)))),
			nil, &Message{Body: "plain ☺\r\n", BodyHTML: "<p>шостий</p>", BodyRTF: []byte("{\\rtf")}},
		{"attBody in the OEM code page", stream(msgAttr(tagOemCodepage, cat(le32(1252), le32(0))), msgAttr(tagBody, []byte("caf\xe9\r\n\x00\x00"))),
			nil, &Message{Body: "café\r\n"}},
		{"8-bit HTML in PR_MESSAGE_CODEPAGE", stream(msgAttr(tagMsgProps, props(propLong(prMessageCodepage, 1251), propString8(prBodyHTML, string(cp1251))))),
			nil, &Message{BodyHTML: "Отчёт.txt"}},
		{"unknown code page, UTF-8 text kept", stream(msgAttr(tagMsgProps, props(propLong(prInternetCPID, 12345), propString8(prBody, "naïve")))),
			nil, &Message{Body: "naïve"}},
		{"damaged RTF dropped", stream(msgAttr(tagMsgProps, props(propBinary(prRTFCompressed, []byte("not compressed RTF"))))),
			nil, &Message{}},
		{"property list cut short keeps the properties before", stream(msgAttr(tagMsgProps, cat(props(propString8(prBody, "kept"), propString8(prBodyHTML, "lost"))[:30]))),
			nil, &Message{Body: "kept"}},
		{"property count larger than the list", stream(msgAttr(tagMsgProps, cat(le32(0xFFFFFFFF), propString8(prBody, "kept")))),
			nil, &Message{Body: "kept"}},
		{"unknown property type ends the list", stream(msgAttr(tagMsgProps, props(propString8(prBody, "kept"), ptag(0x0E07, 0x0099), propString8(prBodyHTML, "lost")))),
			nil, &Message{Body: "kept"}},
		{"value count larger than the list", stream(msgAttr(tagMsgProps, cat(le32(1), ptag(prBody, ptString8), le32(0xFFFFFFFF), le32(5), []byte("kept\x00\x00\x00\x00")))),
			nil, &Message{Body: "kept"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.in)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Decode: got error %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestDecodeAllocations feeds declared sizes and counts far beyond the input: the memory
// Decode allocates must stay in proportion to the input, not to what it declares.
func TestDecodeAllocations(t *testing.T) {
	huge := uint32(0xFFFFFFF0)
	lzfuHuge := cat(le32(12+4), le32(huge), le32(compLZFu), le32(0), []byte{0xFF, 0xFF, 0xFF, 0xFF})
	melaHuge := cat(le32(huge), le32(huge), le32(compMELA), le32(0), []byte("{\\rtf1}"))
	tests := []struct {
		name string
		in   []byte
	}{
		{"attribute length", cat(stream(), []byte{1}, le32(tagMsgProps), le32(huge), make([]byte, 64))},
		{"property count", stream(msgAttr(tagMsgProps, le32(huge)))},
		{"value count", stream(msgAttr(tagMsgProps, cat(le32(1), ptag(prBody, ptString8), le32(huge))))},
		{"value length", stream(msgAttr(tagMsgProps, cat(le32(1), ptag(prBody, ptString8), le32(1), le32(huge), []byte("abc"))))},
		{"multi-valued count", stream(msgAttr(tagMsgProps, cat(le32(1), ptag(prInternetCPID, ptLong|mvFlag), le32(huge), le32(1))))},
		{"name length", stream(attAttr(tagAttachment, cat(le32(1), ptag(0x8001, ptLong), make([]byte, 16), le32(1), le32(huge))))},
		{"RTF raw size, LZFu", stream(msgAttr(tagMsgProps, props(propBinary(prRTFCompressed, lzfuHuge))))},
		{"RTF raw size, MELA", stream(msgAttr(tagMsgProps, props(propBinary(prRTFCompressed, melaHuge))))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			if _, err := Decode(tt.in); err != nil && !errors.Is(err, ErrTruncated) {
				t.Errorf("Decode: got error %v, want nil or ErrTruncated", err)
			}
			runtime.ReadMemStats(&after)
			if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
				t.Errorf("Decode of %d bytes allocated %d bytes, want at most 1 MiB", len(tt.in), n)
			}
		})
	}
}

func TestDecodeDoesNotShareInput(t *testing.T) {
	mela := cat(le32(12+6), le32(6), le32(compMELA), le32(0), []byte("{\\rtf}"))
	in := stream(msgAttr(tagMsgProps, props(propBinary(prRTFCompressed, mela))), rendData(), attAttr(tagAttachData, []byte("hello")))
	m, err := Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	clear(in)
	if got := string(m.Files[0].Data); got != "hello" {
		t.Errorf("file data after the input was cleared: got %q, want %q", got, "hello")
	}
	if got := string(m.BodyRTF); got != "{\\rtf}" {
		t.Errorf("RTF after the input was cleared: got %q, want %q", got, "{\\rtf}")
	}
}

// nested returns a stream whose file sits depth embedded messages deep.
func nested(depth int) []byte {
	s := fileStream("deep.txt", []byte("x"))
	for range depth {
		s = stream(rendData(), attAttr(tagAttachment, props(propLong(prAttachMethod, attachEmbeddedMsg), propObject(prAttachData, iidMessage, s))))
	}
	return s
}

func TestDecodeEmbeddedDepth(t *testing.T) {
	tests := []struct {
		depth int
		want  int // files
	}{
		{0, 1}, {1, 1}, {maxDepth - 1, 1}, {maxDepth, 0}, {100, 0},
	}
	for _, tt := range tests {
		m, err := Decode(nested(tt.depth))
		if err != nil {
			t.Fatalf("depth %d: %v", tt.depth, err)
		}
		if got := len(m.Files); got != tt.want {
			t.Errorf("depth %d: got %d files, want %d", tt.depth, got, tt.want)
		}
	}
}
