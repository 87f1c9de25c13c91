package parse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// The raw message is read once, line by line, through a scanner that knows
// the boundaries of every multipart being read. A part ends at the first
// boundary line of any enclosing multipart, not only its own, so that a
// multipart whose closing boundary is missing ends where its parent's next
// part begins instead of swallowing the rest of the message. Lines are
// handed out as slices of the bufio buffer: nothing is copied except the
// decoded content the caller keeps.

// readBufSize is the size of the line buffer; longer lines are handed out
// in pieces.
const readBufSize = 16 << 10

// hitKind says what stopped the reading of a part.
type hitKind int

const (
	hitNone     hitKind = iota
	hitBoundary         // a boundary line of an open multipart
	hitEOF              // the end of the input
)

// hitInfo describes the line that stopped the reading.
type hitInfo struct {
	kind  hitKind
	level int  // index in scanner.bounds of the matching boundary
	final bool // "--boundary--"
}

// scanner reads lines and recognises boundary lines.
type scanner struct {
	br        *bufio.Reader
	bounds    [][]byte // "--" + boundary of each open multipart, outermost first
	pending   []byte   // a line given back with unread, read again first
	hasPend   bool
	pendStart bool    // the pending line starts a line
	midLine   bool    // the last piece handed out did not end a line
	lineStart bool    // the last piece handed out started a line
	hit       hitInfo // set when reading stopped; next returns nil until cleared
	readErr   error   // a read error other than io.EOF
}

func newScanner(r io.Reader) *scanner {
	size := readBufSize
	if l, ok := r.(interface{ Len() int }); ok && l.Len()+64 < size {
		size = l.Len() + 64 // a small message in memory: a small buffer
	}
	return &scanner{br: bufio.NewReaderSize(r, size)}
}

// next returns the next line with its line break (or the next piece of a
// line longer than the buffer), or nil when a boundary line or the end of
// the input was reached; s.hit then says which. The slice is valid until
// the next call.
func (s *scanner) next() []byte {
	if s.hit.kind != hitNone {
		return nil
	}
	if s.hasPend {
		s.hasPend = false
		// The boundaries may have changed since the line was first read.
		if s.pendStart && len(s.bounds) > 0 {
			if level, final, ok := s.boundary(s.pending); ok {
				s.hit = hitInfo{kind: hitBoundary, level: level, final: final}
				return nil
			}
		}
		return s.pending
	}
	line, err := s.br.ReadSlice('\n')
	if len(line) == 0 && err != nil {
		if err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
			s.readErr = err
		}
		s.hit = hitInfo{kind: hitEOF}
		return nil
	}
	wasMid := s.midLine
	s.midLine = err == bufio.ErrBufferFull
	s.lineStart = !wasMid
	if !wasMid && len(s.bounds) > 0 {
		if level, final, ok := s.boundary(line); ok {
			s.hit = hitInfo{kind: hitBoundary, level: level, final: final}
			return nil
		}
	}
	return line
}

// nextIsHeaderLine reports whether the line after the one just read looks
// like a header field or a non-blank continuation line.
func (s *scanner) nextIsHeaderLine() bool {
	if s.hasPend || s.hit.kind != hitNone {
		return false
	}
	b, _ := s.br.Peek(512)
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	b = bytes.TrimRight(b, "\r")
	if len(b) == 0 {
		return false
	}
	if b[0] == ' ' || b[0] == '\t' {
		return !isBlankLine(b)
	}
	n, _ := fieldNameLen(b)
	return n > 0
}

// headerContinuesAhead reports whether, among the next lines and before a
// blank one, there is a field with a well-known name: then a line that is
// no field is a folded line that lost its indentation, not the body.
func (s *scanner) headerContinuesAhead() bool {
	if s.hasPend || s.hit.kind != hitNone {
		return false
	}
	b, _ := s.br.Peek(8192)
	for i := 0; i < 50 && len(b) > 0; i++ {
		line := b
		if j := bytes.IndexByte(b, '\n'); j >= 0 {
			line, b = b[:j], b[j+1:]
		} else {
			b = nil
		}
		line = bytes.TrimRight(line, "\r")
		if isBlankLine(line) {
			return false
		}
		if len(s.bounds) > 0 {
			if _, _, ok := s.boundary(line); ok {
				return false
			}
		}
		if n, _ := fieldNameLen(line); n > 0 && isKnownField(string(line[:n])) {
			return true
		}
	}
	return false
}

// unread gives back the line last returned by next; it is copied.
func (s *scanner) unread(line []byte) {
	s.pending = append(s.pending[:0], line...)
	s.hasPend = true
	s.pendStart = s.lineStart
}

// boundary reports whether line is a boundary line of an open multipart:
// "--boundary" or "--boundary--", then only white space. The innermost
// multipart is tried first.
func (s *scanner) boundary(line []byte) (level int, final, ok bool) {
	if len(line) < 3 || line[0] != '-' || line[1] != '-' {
		return 0, false, false
	}
	t := bytes.TrimRight(line, " \t\r\n")
	for i := len(s.bounds) - 1; i >= 0; i-- {
		b := s.bounds[i]
		if !bytes.HasPrefix(t, b) {
			continue
		}
		switch rest := t[len(b):]; {
		case len(rest) == 0:
			return i, false, true
		case len(rest) == 2 && rest[0] == '-' && rest[1] == '-':
			return i, true, true
		}
	}
	return 0, false, false
}

// isOpenBoundary reports whether boundary is already used by an open
// multipart.
func (s *scanner) isOpenBoundary(boundary string) bool {
	for _, b := range s.bounds {
		if string(b[2:]) == boundary {
			return true
		}
	}
	return false
}

// push opens a multipart and returns its level.
func (s *scanner) push(boundary string) int {
	s.bounds = append(s.bounds, []byte("--"+boundary))
	return len(s.bounds) - 1
}

// pop closes the multipart at level (and any inside it).
func (s *scanner) pop(level int) {
	if level < len(s.bounds) {
		s.bounds = s.bounds[:level]
	}
	if s.hit.kind == hitBoundary && s.hit.level >= len(s.bounds) {
		s.hit = hitInfo{}
	}
}

// clearHit lets reading go on after a boundary line was dealt with.
func (s *scanner) clearHit() {
	if s.hit.kind == hitBoundary {
		s.hit = hitInfo{}
	}
}

// skipToHit discards lines until a boundary or the end.
func (s *scanner) skipToHit() {
	for s.next() != nil {
	}
}

// bodyReader reads the content of the current part: every line up to the
// next boundary line, without the line break that precedes that boundary
// (RFC 2046: it belongs to the boundary). At the end of the input the last
// line break is content.
type bodyReader struct {
	s    *scanner
	nl   [2]byte // the line break of the last line read, held back
	nln  int
	hb   [2]byte // storage for a
	a, b []byte  // still to return: a held line break, then a line
	done bool
}

func (s *scanner) body() *bodyReader { return &bodyReader{s: s} }

func (r *bodyReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.a) > 0 {
			k := copy(p[n:], r.a)
			r.a = r.a[k:]
			n += k
			continue
		}
		if len(r.b) > 0 {
			k := copy(p[n:], r.b)
			r.b = r.b[k:]
			n += k
			continue
		}
		if r.done {
			break
		}
		line := r.s.next()
		held := copy(r.hb[:], r.nl[:r.nln])
		r.nln = 0
		if line == nil {
			r.done = true
			if r.s.hit.kind == hitEOF {
				r.a = r.hb[:held]
			}
			continue
		}
		r.a = r.hb[:held]
		content := line
		if !r.s.midLine {
			eol := 0
			switch {
			case bytes.HasSuffix(line, []byte("\r\n")):
				eol = 2
			case bytes.HasSuffix(line, []byte("\n")):
				eol = 1
			}
			content = line[:len(line)-eol]
			r.nln = copy(r.nl[:], line[len(line)-eol:])
		}
		r.b = content
	}
	if n == 0 && r.done {
		return 0, io.EOF
	}
	return n, nil
}
