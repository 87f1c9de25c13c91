package tnef

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

const (
	signature = 0x223E9F78
	maxDepth  = 8 // embedded messages inside embedded messages

	levelMessage    = 1
	levelAttachment = 2
)

// Attribute identifiers (low word of the attribute tag).
const (
	attBody             = 0x800C
	attAttachData       = 0x800F
	attAttachTitle      = 0x8010
	attAttachModifyDate = 0x8013
	attAttachRendData   = 0x9002
	attMsgProps         = 0x9003
	attAttachment       = 0x9005
	attOemCodepage      = 0x9007
)

// attribute is one attribute of the stream; data aliases the input.
type attribute struct {
	level byte
	id    uint16
	data  []byte
}

// Decode unpacks a TNEF stream: the content of a winmail.dat (application/ms-tnef) part.
// See the package documentation for what it returns and how it treats damaged input.
func Decode(data []byte) (*Message, error) {
	return decode(data, 0)
}

func decode(data []byte, depth int) (*Message, error) {
	if len(data) < 4 || binary.LittleEndian.Uint32(data) != signature {
		return nil, ErrNotTNEF
	}
	attrs, err := readAttributes(data)
	return build(attrs, depth), err
}

// readAttributes splits the stream after its signature into attributes. It stops at a
// byte that cannot start an attribute (trailing garbage, no error) and at an attribute
// that does not fit (ErrTruncated); the attributes read before are returned either way.
func readAttributes(data []byte) ([]attribute, error) {
	if len(data) < 6 {
		return nil, fmt.Errorf("%w: %d bytes, no legacy key after the signature", ErrTruncated, len(data))
	}
	var attrs []attribute
	rest, off := data[6:], 6
	for len(rest) > 0 {
		level := rest[0]
		if level != levelMessage && level != levelAttachment {
			break
		}
		if len(rest) < 9 {
			return attrs, fmt.Errorf("%w: attribute header at offset %d has %d of 9 bytes", ErrTruncated, off, len(rest))
		}
		tag := binary.LittleEndian.Uint32(rest[1:])
		n := uint64(binary.LittleEndian.Uint32(rest[5:]))
		if n > uint64(len(rest)-9) {
			return attrs, fmt.Errorf("%w: attribute %#08x at offset %d declares %d bytes, %d remain", ErrTruncated, tag, off, n, len(rest)-9)
		}
		attrs = append(attrs, attribute{level: level, id: uint16(tag), data: rest[9 : 9+n]})
		size := 9 + int(n) + 2 // the checksum is not checked
		if size > len(rest) {
			return attrs, fmt.Errorf("%w: attribute %#08x at offset %d lacks its checksum", ErrTruncated, tag, off)
		}
		rest, off = rest[size:], off+size
	}
	return attrs, nil
}

// attachment gathers what the attributes of one attachment say.
type attachment struct {
	title   []byte // attAttachTitle, 8-bit
	data    []byte // attAttachData
	hasData bool
	modTime time.Time // attAttachModifyDate
	props   []property
}

// build turns the attributes into a message.
func build(attrs []attribute, depth int) *Message {
	oemCP := 0
	for _, a := range attrs {
		if a.level == levelMessage && a.id == attOemCodepage && len(a.data) >= 4 {
			oemCP = int(binary.LittleEndian.Uint32(a.data))
		}
	}

	var (
		attBodyText []byte
		msgProps    []property
		atts        []*attachment
		cur         *attachment
	)
	for _, a := range attrs {
		if a.level == levelMessage {
			switch a.id {
			case attBody:
				attBodyText = a.data
			case attMsgProps:
				msgProps = append(msgProps, readProperties(a.data)...)
			}
			continue
		}
		if a.id == attAttachRendData || cur == nil {
			cur = &attachment{}
			atts = append(atts, cur)
		}
		switch a.id {
		case attAttachTitle:
			cur.title = a.data
		case attAttachData:
			cur.data, cur.hasData = a.data, true
		case attAttachModifyDate:
			cur.modTime = attributeDate(a.data)
		case attAttachment:
			cur.props = append(cur.props, readProperties(a.data)...)
		}
	}

	m := &Message{}
	m.setBodies(msgProps, attBodyText, oemCP)
	for _, at := range atts {
		m.Files = append(m.Files, at.files(oemCP, depth)...)
	}
	return m
}

// setBodies fills the three bodies from the message's properties.
func (m *Message) setBodies(props []property, attBodyText []byte, oemCP int) {
	internetCP := findInt(props, prInternetCPID)
	messageCP := findInt(props, prMessageCodepage)
	bodyCP := firstCodepage(internetCP, messageCP, oemCP)

	if p := find(props, prBody); p != nil {
		m.Body = p.text(bodyCP, false)
	}
	if m.Body == "" && attBodyText != nil {
		m.Body = decodeText(trimNULs(attBodyText), oemCP)
	}
	if p := find(props, prBodyHTML); p != nil {
		m.BodyHTML = p.text(bodyCP, false)
	}
	if p := find(props, prRTFCompressed); p != nil && len(p.values) > 0 {
		if rtf, _ := decompressRTF(p.values[0]); len(rtf) > 0 { // a damaged stream keeps what was read
			m.BodyRTF = rtf
		}
	}
}

// files returns the files the attachment gives: one, none, or those of an embedded
// message.
func (at *attachment) files(oemCP, depth int) []File {
	method := findInt(at.props, prAttachMethod)
	obj := findTyped(at.props, prAttachData, ptObject)
	if method == attachEmbeddedMsg {
		if obj == nil || len(obj.values) == 0 || len(obj.values[0]) < 16 || depth+1 >= maxDepth {
			return nil
		}
		inner, _ := decode(obj.values[0][16:], depth+1) // what is decoded is kept, damage or not
		if inner == nil {
			return nil
		}
		return inner.Files
	}

	var data []byte
	switch bin := findTyped(at.props, prAttachData, ptBinary); {
	case at.hasData:
		data = at.data
	case bin != nil && len(bin.values) > 0:
		data = bin.values[0]
	case obj != nil && len(obj.values) > 0:
		data = obj.values[0]
	default:
		return nil
	}

	f := File{Data: bytes.Clone(data), ModTime: at.modTime}
	if f.Data == nil {
		f.Data = []byte{}
	}
	if p := find(at.props, prAttachLongFilename); p != nil {
		f.Name = p.text(oemCP, true)
	}
	if f.Name == "" && at.title != nil {
		f.Name = decodeText(cutNUL(at.title), oemCP)
	}
	for _, id := range []uint16{prAttachFilename, prDisplayName} {
		if p := find(at.props, id); f.Name == "" && p != nil {
			f.Name = p.text(oemCP, true)
		}
	}
	if p := find(at.props, prAttachMimeTag); p != nil {
		f.ContentType = p.text(oemCP, true)
	}
	if t := findTime(at.props, prLastModificationTime); !t.IsZero() {
		f.ModTime = t
	}
	return []File{f}
}

// attributeDate reads an atpDate value: year, month, day, hour, minute, second and day of
// the week as 16-bit numbers, in no time zone (taken as UTC). It returns the zero time for
// anything that is not a valid date.
func attributeDate(b []byte) time.Time {
	if len(b) < 12 {
		return time.Time{}
	}
	var v [6]int
	for i := range v {
		v[i] = int(binary.LittleEndian.Uint16(b[2*i:]))
	}
	year, month, day, hour, minute, second := v[0], v[1], v[2], v[3], v[4], v[5]
	if year < 1601 || year > 9999 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59 {
		return time.Time{}
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, 0, time.UTC)
	if t.Day() != day { // 31 April
		return time.Time{}
	}
	return t
}
