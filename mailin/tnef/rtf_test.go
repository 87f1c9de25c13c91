package tnef

import (
	"bytes"
	"errors"
	"testing"
)

func TestRTFPrebufLength(t *testing.T) {
	if got, want := len(rtfPrebuf), 207; got != want {
		t.Errorf("len(rtfPrebuf): got %d, want %d", got, want)
	}
}

func TestDecompressRTF(t *testing.T) {
	// The two examples of [MS-OXRTFCP] section 4.
	hello := []byte{
		0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1, 0xc5, 0xc7, 0xa7,
		0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42, 0x32, 0x0a, 0xf3, 0x20,
		0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0, 0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f,
		0xa0,
	}
	helloRTF := "{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n"
	cross := []byte{
		0x1a, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xe2, 0xd4, 0x4b, 0x51,
		0x41, 0x00, 0x04, 0x20, 0x57, 0x58, 0x59, 0x5a, 0x0d, 0x6e, 0x7d, 0x01, 0x0e, 0xb0,
	}
	crossRTF := "{\\rtf1 WXYZWXYZWXYZWXYZWXYZ}"
	mela := cat(le32(12+28), le32(28), le32(compMELA), le32(0), []byte(crossRTF))
	withRaw := func(b []byte, raw uint32) []byte {
		b = bytes.Clone(b)
		copy(b[4:], le32(raw))
		return b
	}

	tests := []struct {
		name    string
		in      []byte
		want    string
		wantErr bool
	}{
		{"spec example", hello, helloRTF, false},
		{"spec example, reference across the write position", cross, crossRTF, false},
		{"MELA", mela, crossRTF, false},
		{"MELA, bytes after COMPSIZE ignored", cat(mela, []byte("trailing")), crossRTF, false},
		{"MELA shorter than RAWSIZE", withRaw(mela, 100), crossRTF, true},
		{"MELA longer than RAWSIZE", withRaw(mela, 6), "{\\rtf1", false},
		{"LZFu stops at RAWSIZE", withRaw(hello, 5), "{\\rtf", false},
		{"LZFu complete at RAWSIZE, end marker missing", hello[:len(hello)-2], helloRTF, false},
		{"LZFu without its end marker", withRaw(hello[:len(hello)-2], 100), helloRTF, true},
		{"LZFu cut inside a reference", withRaw(hello[:len(hello)-1], 100), helloRTF, true},
		{"LZFu cut inside a run", withRaw(hello[:20], 100), "{\\rtf1\\ansi\\", true},
		{"LZFu without data", hello[:16], "", true},
		{"COMPSIZE beyond the input", cat(le32(0xFFFFFFFF), hello[4:]), helloRTF, false},
		{"unknown type", cat(le32(12+3), le32(3), []byte("ABCD"), le32(0), []byte("abc")), "", true},
		{"short header", hello[:15], "", true},
		{"empty", nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decompressRTF(tt.in)
			if string(got) != tt.want {
				t.Errorf("decompressRTF: got %q, want %q", got, tt.want)
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("decompressRTF: got error %v, want error: %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, errRTF) {
				t.Errorf("decompressRTF: got error %v, want it to wrap errRTF", err)
			}
		})
	}
}
