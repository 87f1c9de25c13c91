package tnef

import (
	"encoding/binary"
	"time"
)

// MAPI property identifiers (high word of the property tag).
const (
	prBody                 = 0x1000
	prRTFCompressed        = 0x1009
	prBodyHTML             = 0x1013 // PR_BODY_HTML (string) and PR_HTML (binary)
	prDisplayName          = 0x3001
	prLastModificationTime = 0x3008
	prAttachData           = 0x3701 // PR_ATTACH_DATA_BIN and PR_ATTACH_DATA_OBJ
	prAttachFilename       = 0x3704
	prAttachMethod         = 0x3705
	prAttachLongFilename   = 0x3707
	prAttachMimeTag        = 0x370E
	prInternetCPID         = 0x3FDE
	prMessageCodepage      = 0x3FFD

	attachEmbeddedMsg = 5 // PR_ATTACH_METHOD of an attached Outlook item
)

// MAPI property types (low word of the property tag).
const (
	ptShort    = 0x0002
	ptLong     = 0x0003
	ptFloat    = 0x0004
	ptDouble   = 0x0005
	ptCurrency = 0x0006
	ptAppTime  = 0x0007
	ptError    = 0x000A
	ptBoolean  = 0x000B
	ptObject   = 0x000D
	ptI8       = 0x0014
	ptString8  = 0x001E
	ptUnicode  = 0x001F
	ptSysTime  = 0x0040
	ptCLSID    = 0x0048
	ptServerID = 0x00FB
	ptBinary   = 0x0102

	mvFlag = 0x1000 // multi-valued
)

// property is one MAPI property; values alias the input. A fixed-size value holds its
// bytes without padding, a variable-size one its bytes as declared.
type property struct {
	id     uint16
	typ    uint16 // without mvFlag
	named  bool   // a named property: id is only meaningful with its name, which is skipped
	values [][]byte
}

// fixedSize returns the size of a value of a fixed-size type, 0 for a variable-size type
// and -1 for a type this package cannot step over.
func fixedSize(typ uint16) int {
	switch typ {
	case ptShort, ptBoolean:
		return 2
	case ptLong, ptFloat, ptError:
		return 4
	case ptDouble, ptCurrency, ptAppTime, ptI8, ptSysTime:
		return 8
	case ptCLSID:
		return 16
	case ptObject, ptString8, ptUnicode, ptServerID, ptBinary:
		return 0
	}
	return -1
}

// reader reads little-endian values from a byte slice; ok turns false, for good, at the
// first read past the end.
type reader struct {
	b  []byte
	ok bool
}

func (r *reader) bytes(n uint64) []byte {
	if !r.ok || n > uint64(len(r.b)) {
		r.ok = false
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u32() uint32 {
	b := r.bytes(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

// padded reads n bytes and the padding that brings them to a multiple of 4.
func (r *reader) padded(n uint64) []byte {
	v := r.bytes(n)
	if pad := (4 - n%4) % 4; pad > 0 && r.ok {
		if uint64(len(r.b)) < pad { // missing padding at the very end is tolerated
			pad = uint64(len(r.b))
		}
		r.b = r.b[pad:]
	}
	return v
}

// readProperties reads a MAPI property list (attMsgProps, attAttachment). It stops at the
// first property it cannot read whole (short data, unknown type or name kind) and returns
// those before it. The declared counts are never used to allocate.
func readProperties(b []byte) []property {
	r := &reader{b: b, ok: true}
	count := r.u32()
	var props []property
	for i := uint32(0); i < count && r.ok; i++ {
		p, ok := readProperty(r)
		if !ok {
			break
		}
		props = append(props, p)
	}
	return props
}

func readProperty(r *reader) (property, bool) {
	tag := r.u32()
	p := property{id: uint16(tag >> 16), typ: uint16(tag) &^ mvFlag}
	multi := uint16(tag)&mvFlag != 0
	if p.id >= 0x8000 { // named property: GUID, kind, then an ID or a UTF-16 name
		p.named = true
		r.bytes(16)
		switch r.u32() {
		case 0:
			r.u32()
		case 1:
			r.padded(uint64(r.u32()))
		default:
			return p, false
		}
	}
	size := fixedSize(p.typ)
	if !r.ok || size < 0 {
		return p, false
	}
	n := uint32(1)
	if multi || size == 0 {
		n = r.u32()
	}
	for j := uint32(0); j < n && r.ok; j++ {
		var v []byte
		if size > 0 {
			v = r.padded(uint64(size))
		} else {
			v = r.padded(uint64(r.u32()))
		}
		if r.ok {
			p.values = append(p.values, v)
		}
	}
	return p, r.ok || len(p.values) > 0 // values read before a short count are kept
}

// find returns the last unnamed property with the id, or nil.
func find(props []property, id uint16) *property {
	for i := len(props) - 1; i >= 0; i-- {
		if props[i].id == id && !props[i].named {
			return &props[i]
		}
	}
	return nil
}

// findTyped is find restricted to one type.
func findTyped(props []property, id, typ uint16) *property {
	for i := len(props) - 1; i >= 0; i-- {
		if props[i].id == id && props[i].typ == typ && !props[i].named {
			return &props[i]
		}
	}
	return nil
}

// findInt returns the value of a 16- or 32-bit integer property, 0 if absent.
func findInt(props []property, id uint16) int {
	p := find(props, id)
	if p == nil || len(p.values) == 0 {
		return 0
	}
	switch v := p.values[0]; {
	case p.typ == ptLong && len(v) == 4:
		return int(int32(binary.LittleEndian.Uint32(v)))
	case p.typ == ptShort && len(v) == 2:
		return int(int16(binary.LittleEndian.Uint16(v)))
	}
	return 0
}

// findTime returns the value of a PT_SYSTIME property, the zero time if absent or out of
// the years 1601 to 9999.
func findTime(props []property, id uint16) time.Time {
	p := findTyped(props, id, ptSysTime)
	if p == nil || len(p.values) == 0 || len(p.values[0]) != 8 {
		return time.Time{}
	}
	return fileTime(binary.LittleEndian.Uint64(p.values[0]))
}

// fileTime converts a FILETIME, 100-nanosecond intervals since 1601-01-01 UTC.
func fileTime(ft uint64) time.Time {
	const (
		perSecond  = 10_000_000
		epochDelta = 11_644_473_600                             // seconds from 1601 to 1970
		maxFT      = (253_402_300_799 + epochDelta) * perSecond // 9999-12-31T23:59:59Z
	)
	if ft == 0 || ft > maxFT {
		return time.Time{}
	}
	return time.Unix(int64(ft/perSecond)-epochDelta, int64(ft%perSecond)*100).UTC()
}

// text returns the first value of a string or binary property as UTF-8: UTF-16 for
// PT_UNICODE, the code page cp otherwise. A name is cut at its first NUL, a body loses
// its trailing NULs.
func (p *property) text(cp int, name bool) string {
	if len(p.values) == 0 {
		return ""
	}
	v := p.values[0]
	if p.typ == ptUnicode {
		return decodeUTF16(v, name)
	}
	if p.typ != ptString8 && p.typ != ptBinary {
		return ""
	}
	if name {
		return decodeText(cutNUL(v), cp)
	}
	return decodeText(trimNULs(v), cp)
}
