package tnef

import (
	"encoding/binary"
	"fmt"
)

// Compressed RTF ([MS-OXRTFCP]) is a 16-byte header, then the data: COMPSIZE (the size
// of what follows this field), RAWSIZE (the size of the RTF), COMPTYPE ('LZFu' compressed
// or 'MELA' stored) and CRC, all 32-bit little-endian.
//
// LZFu data is a sequence of runs: a control byte, then for each of its 8 bits from the
// lowest one either a literal byte (bit 0) or a 16-bit big-endian reference (bit 1) to a
// 4096-byte ring dictionary: 12 bits of offset, 4 bits of length minus 2. Every output byte
// is also written to the dictionary, which starts with rtfPrebuf and a write position
// after it. A reference whose offset is the write position ends the stream.
const (
	compLZFu = 0x75465A4C // "LZFu"
	compMELA = 0x414C454D // "MELA"

	rtfPrebuf = "{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman " +
		"\\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier" +
		"{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx"
)

// decompressRTF decompresses a PR_RTF_COMPRESSED value. The output stops at RAWSIZE bytes.
// A stream that ends early returns what was decompressed with an error; so does a stream of
// an unknown type, with nothing. The CRC is not checked.
func decompressRTF(src []byte) ([]byte, error) {
	if len(src) < 16 {
		return nil, fmt.Errorf("%w: %d-byte header", errRTF, len(src))
	}
	compSize := uint64(binary.LittleEndian.Uint32(src[0:]))
	rawSize := uint64(binary.LittleEndian.Uint32(src[4:]))
	compType := binary.LittleEndian.Uint32(src[8:])
	data := src[16:]
	if compSize >= 12 && compSize-12 < uint64(len(data)) {
		data = data[:compSize-12]
	}

	switch compType {
	case compMELA:
		if rawSize > uint64(len(data)) {
			return append([]byte{}, data...), fmt.Errorf("%w: %d of %d stored bytes", errRTF, len(data), rawSize)
		}
		return append([]byte{}, data[:rawSize]...), nil
	case compLZFu:
		return lzfu(data, rawSize)
	}
	return nil, fmt.Errorf("%w: unknown type %#08x", errRTF, compType)
}

// lzfu decompresses LZFu data, at most rawSize bytes of it.
func lzfu(data []byte, rawSize uint64) ([]byte, error) {
	var dict [4096]byte
	wp := copy(dict[:], rtfPrebuf)
	// Each input byte gives at most 17/2 output bytes; the declared size only lowers that.
	out := make([]byte, 0, min(rawSize, 9*uint64(len(data))))
	for i := 0; i < len(data); {
		ctrl := data[i]
		i++
		for bit := 0; bit < 8; bit++ {
			if uint64(len(out)) >= rawSize {
				return out, nil
			}
			if ctrl&(1<<bit) == 0 {
				if i >= len(data) {
					return out, fmt.Errorf("%w: no end marker", errRTF)
				}
				out = append(out, data[i])
				dict[wp] = data[i]
				wp = (wp + 1) % len(dict)
				i++
				continue
			}
			if i+2 > len(data) {
				return out, fmt.Errorf("%w: reference cut short", errRTF)
			}
			ref := int(data[i])<<8 | int(data[i+1])
			i += 2
			off, n := ref>>4, ref&0xF+2
			if off == wp {
				return out, nil
			}
			for k := 0; k < n && uint64(len(out)) < rawSize; k++ {
				c := dict[(off+k)%len(dict)]
				out = append(out, c)
				dict[wp] = c
				wp = (wp + 1) % len(dict)
			}
		}
	}
	if uint64(len(out)) >= rawSize {
		return out, nil
	}
	return out, fmt.Errorf("%w: no end marker", errRTF)
}
