package smtpd

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"slices"

	"github.com/emersion/go-smtp"
)

// errTooBig says that the message exceeds the size limit.
var errTooBig = errors.New("smtpd: message too big")

const (
	// maxPrealloc bounds the buffer allocated from SIZE= before any byte has arrived.
	maxPrealloc = 1 << 20
	// minPrealloc is the first buffer without a SIZE= hint.
	minPrealloc = 16 << 10
	// gcAfter is the size from which reading a message ends with a garbage collection.
	gcAfter = 8 << 20
)

// readMessage reads the message (dot-unstuffed by go-smtp) into memory, at most limit bytes:
// beyond that it reads the rest off the wire, throws it away and returns errTooBig. Up to
// maxPrealloc it grows one buffer; past that it reads chunks of maxPrealloc and joins them once
// at the end, so that a 25 MB message costs 25 MB and, for the join, its chunks — not a buffer
// doubled to 32 MB with the 16 MB one it was copied from.
func readMessage(r io.Reader, limit, hint int64) ([]byte, error) {
	size := min(limit+1, maxPrealloc)
	if hint > 0 {
		size = min(size, hint+hint/16+64)
	} else {
		size = min(size, minPrealloc)
	}
	buf := make([]byte, 0, size)
	var chunks [][]byte // full chunks before buf, once buf has reached maxPrealloc
	total := int64(0)   // bytes in chunks
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= maxPrealloc {
				chunks, total = append(chunks, buf), total+int64(len(buf))
				buf = make([]byte, 0, min(maxPrealloc, max(limit+1-total, 1)))
			} else {
				grow := min(max(int64(len(buf)), minPrealloc), limit+1-int64(len(buf)), maxPrealloc-int64(len(buf)))
				buf = slices.Grow(buf, int(grow))
			}
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if total+int64(len(buf)) > limit {
			_, _ = io.Copy(io.Discard, r)
			return nil, errTooBig
		}
		switch {
		case err == io.EOF:
			if chunks == nil {
				return buf, nil
			}
			out := make([]byte, 0, total+int64(len(buf)))
			for _, c := range chunks {
				out = append(out, c...)
			}
			out = append(out, buf...)
			// The chunks are garbage now, as large as the message: collect them before the
			// message is decoded, which would otherwise take as much again (serve runs with
			// GOGC=400), so that a large message costs the same memory whenever the last
			// collection happened to run. From 8 MB only: below, the garbage is small, and a
			// flood of mail with attachments must not collect once a message.
			chunks, buf = nil, nil
			if len(out) >= gcAfter {
				runtime.GC()
			}
			return out, nil
		case errors.Is(err, smtp.ErrDataTooLarge): // go-smtp's own count of the same limit
			_, _ = io.Copy(io.Discard, r)
			return nil, errTooBig
		case err != nil:
			return nil, err
		}
	}
}

// messageID is the Message-ID of raw, for the log ("" if it has none), at most 256 bytes.
func messageID(raw []byte) string {
	const name = "message-id:"
	for len(raw) > 0 {
		line, rest, _ := bytes.Cut(raw, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 { // end of the header
			return ""
		}
		if len(line) >= len(name) && bytes.EqualFold(line[:len(name)], []byte(name)) {
			v := bytes.Clone(line[len(name):])
			for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') { // folded
				var more []byte
				more, rest, _ = bytes.Cut(rest, []byte{'\n'})
				v = append(v, bytes.TrimSuffix(more, []byte{'\r'})...)
			}
			v = bytes.TrimSpace(v)
			if len(v) > 256 {
				v = v[:256]
			}
			return replyText(string(v))
		}
		raw = rest
	}
	return ""
}
