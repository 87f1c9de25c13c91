package tnef

import (
	"encoding/binary"
	"unicode/utf16"
)

// Builders of TNEF streams for the tests, byte by byte as [MS-OXTNEF] lays them out.

// Full attribute tags (type in the high word).
const (
	tagOemCodepage     = 0x00069007
	tagBody            = 0x0002800C
	tagMsgProps        = 0x00069003
	tagAttachRendData  = 0x00069002
	tagAttachTitle     = 0x00018010
	tagAttachData      = 0x0006800F
	tagAttachModifyDat = 0x00038013
	tagAttachment      = 0x00069005
)

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// stream is the signature, a legacy key and the attributes.
func stream(attrs ...[]byte) []byte {
	return cat(append([][]byte{le32(signature), le16(0x0001)}, attrs...)...)
}

// attr is one attribute with its checksum.
func attr(level byte, tag uint32, data []byte) []byte {
	var sum uint16
	for _, c := range data {
		sum += uint16(c)
	}
	return cat([]byte{level}, le32(tag), le32(uint32(len(data))), data, le16(sum))
}

func msgAttr(tag uint32, data []byte) []byte { return attr(levelMessage, tag, data) }
func attAttr(tag uint32, data []byte) []byte { return attr(levelAttachment, tag, data) }

// rendData opens an attachment.
func rendData() []byte {
	return attAttr(tagAttachRendData, cat(le16(1), le32(0xFFFFFFFF), le32(0), le32(0)))
}

// date is an atpDate value.
func date(v ...uint16) []byte {
	var b []byte
	for _, x := range append(v, 0) { // day of the week
		b = append(b, le16(x)...)
	}
	return b
}

// props is a MAPI property list.
func props(ps ...[]byte) []byte {
	return cat(append([][]byte{le32(uint32(len(ps)))}, ps...)...)
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// varValues is the values of a variable-size property: count, then length, bytes, padding.
func varValues(vs ...[]byte) []byte {
	b := le32(uint32(len(vs)))
	for _, v := range vs {
		b = append(b, le32(uint32(len(v)))...)
		b = append(b, pad4(append([]byte{}, v...))...)
	}
	return b
}

func ptag(id, typ uint16) []byte { return le32(uint32(id)<<16 | uint32(typ)) }

func propString8(id uint16, s string) []byte {
	return cat(ptag(id, ptString8), varValues(append([]byte(s), 0)))
}

func propUnicode(id uint16, s string) []byte {
	return cat(ptag(id, ptUnicode), varValues(utf16le(s+"\x00")))
}

func propBinary(id uint16, b []byte) []byte { return cat(ptag(id, ptBinary), varValues(b)) }

func propObject(id uint16, iid, b []byte) []byte {
	return cat(ptag(id, ptObject), varValues(cat(iid, b)))
}

func propLong(id uint16, v uint32) []byte { return cat(ptag(id, ptLong), le32(v)) }

func propTime(id uint16, ft uint64) []byte {
	return cat(ptag(id, ptSysTime), binary.LittleEndian.AppendUint64(nil, ft))
}

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, le16(u)...)
	}
	return b
}

// iidMessage is IID_IMessage, which starts the value of an embedded message.
var iidMessage = []byte{0x07, 0x03, 0x02, 0, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46}

// fileStream is a stream with one attachment of the given name and data.
func fileStream(name string, data []byte) []byte {
	return stream(rendData(), attAttr(tagAttachTitle, append([]byte(name), 0)), attAttr(tagAttachData, data))
}
