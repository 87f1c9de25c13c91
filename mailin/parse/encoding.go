package parse

import (
	"bufio"
	"bytes"
	"io"
	"strings"
)

// Content-Transfer-Encoding decoders. They never fail: bytes that do not
// belong to the encoding are skipped (base64) or kept as they are
// (quoted-printable), and the caller is told how many were, so that a
// broken attachment still arrives with as much of its content as possible.

// transferEncoding is a normalised Content-Transfer-Encoding.
type transferEncoding int

const (
	cteIdentity transferEncoding = iota // 7bit, 8bit, binary, missing
	cteBase64
	cteQP
	cteUU
	cteUnknown // unrecognised: read as identity, with a warning
)

// parseCTE normalises a Content-Transfer-Encoding value, accepting the
// variants seen in the wild ("8-bit", "7bits", "quoted printable",
// "base64;" …).
func parseCTE(v string) transferEncoding {
	v = strings.ToLower(strings.TrimSpace(v))
	if i := strings.IndexAny(v, ";("); i >= 0 {
		v = v[:i]
	}
	v = strings.Trim(v, "\"' \t")
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteByte(c)
		}
	}
	switch b.String() {
	case "", "7bit", "8bit", "7bits", "8bits", "binary", "none", "plain", "text", "texthtml", "textplain",
		"6bit", "7", "8", "ascii", "usascii", "utf8":
		return cteIdentity
	case "base64", "b64", "base64encoded", "xbase64":
		return cteBase64
	case "quotedprintable", "qp", "quotedprint", "quotedprintible", "xquotedprintable":
		return cteQP
	case "xuuencode", "uuencode", "xuue", "uue", "uu", "xuu":
		return cteUU
	}
	return cteUnknown
}

// base64Value maps a base64 character (standard or URL alphabet) to its
// 6-bit value; 0xfe marks '=', 0xfd white space, 0xff anything else.
var base64Value = func() [256]byte {
	var t [256]byte
	for i := range t {
		t[i] = 0xff
	}
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alpha); i++ {
		t[alpha[i]] = byte(i)
	}
	t['-'], t['_'] = 62, 63
	t['='] = 0xfe
	for _, c := range []byte(" \t\r\n\f\v") {
		t[c] = 0xfd
	}
	return t
}()

// base64Reader decodes base64 leniently: white space and foreign bytes are
// skipped (and counted in junk), padding may be missing or appear in the
// middle (concatenated encodings), a trailing partial quantum is decoded as
// far as it goes.
type base64Reader struct {
	r    io.Reader
	in   []byte
	ri   int
	rn   int
	err  error
	q    [4]byte
	nq   int
	pend [3]byte
	pi   int
	pn   int
	junk int
	// skipLine is set after padding: the rest of the line is ignored.
	skipLine bool
}

func newBase64Reader(r io.Reader) *base64Reader {
	return &base64Reader{r: r, in: make([]byte, 4<<10)}
}

// flushPartial emits what an incomplete quantum holds.
func (d *base64Reader) flushPartial() {
	switch d.nq {
	case 1:
		d.junk++
	case 2:
		d.pend[0] = d.q[0]<<2 | d.q[1]>>4
		d.pi, d.pn = 0, 1
	case 3:
		d.pend[0] = d.q[0]<<2 | d.q[1]>>4
		d.pend[1] = d.q[1]<<4 | d.q[2]>>2
		d.pi, d.pn = 0, 2
	}
	d.nq = 0
}

func (d *base64Reader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if d.pi < d.pn {
			c := copy(p[n:], d.pend[d.pi:d.pn])
			d.pi += c
			n += c
			continue
		}
		if d.ri >= d.rn {
			if d.err != nil {
				if d.nq > 0 {
					d.flushPartial()
					continue
				}
				if n > 0 {
					return n, nil
				}
				return 0, d.err
			}
			if n > 0 {
				return n, nil
			}
			d.rn, d.err = d.r.Read(d.in)
			d.ri = 0
			continue
		}
		c := d.in[d.ri]
		d.ri++
		if d.skipLine {
			// After padding, the rest of the line is junk ("…== ignored");
			// a new encoding may start on the next line.
			if c == '\n' {
				d.skipLine = false
			} else if c != '=' && c != '\r' && c != ' ' && c != '\t' {
				d.junk++
			}
			continue
		}
		v := base64Value[c]
		switch {
		case v < 64:
			d.q[d.nq] = v
			d.nq++
			if d.nq < 4 {
				continue
			}
			d.nq = 0
			b0 := d.q[0]<<2 | d.q[1]>>4
			b1 := d.q[1]<<4 | d.q[2]>>2
			b2 := d.q[2]<<6 | d.q[3]
			if len(p)-n >= 3 {
				p[n], p[n+1], p[n+2] = b0, b1, b2
				n += 3
			} else {
				d.pend = [3]byte{b0, b1, b2}
				d.pi, d.pn = 0, 3
			}
		case v == 0xfe: // '=': padding, possibly in the middle
			if d.nq > 0 {
				d.flushPartial()
			}
			d.skipLine = true
		case v == 0xfd: // white space
		default:
			d.junk++
		}
	}
	return n, nil
}

// decodeBase64String decodes a short base64 text (an RFC 2047 word).
func decodeBase64String(s string) []byte {
	d := newBase64Reader(strings.NewReader(s))
	d.in = make([]byte, len(s)+1)
	out, _ := io.ReadAll(d)
	return out
}

// unhex returns the value of a hexadecimal digit, or -1.
func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// qpReader decodes quoted-printable leniently: an '=' that does not start
// a hex pair or a soft line break is kept as it is, trailing white space is
// dropped, line breaks are kept as they were (CRLF or LF).
type qpReader struct {
	br   *bufio.Reader
	acc  []byte // a line longer than the bufio buffer, being assembled
	out  []byte // decoded bytes not yet returned
	oi   int
	err  error
	junk int
}

// qpMaxLine bounds the line assembled in memory; longer lines are decoded
// in pieces (a hex pair cut in two then stays literal).
const qpMaxLine = 1 << 20

func newQPReader(r io.Reader) *qpReader {
	return &qpReader{br: bufio.NewReaderSize(r, 4<<10)}
}

func (q *qpReader) Read(p []byte) (int, error) {
	for q.oi >= len(q.out) {
		if q.err != nil {
			return 0, q.err
		}
		q.out = q.out[:0]
		q.oi = 0
		line, err := q.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			q.acc = append(q.acc, line...)
			if len(q.acc) >= qpMaxLine {
				q.decodeLine(q.acc, false, false)
				q.acc = q.acc[:0]
			}
			continue
		}
		if len(q.acc) > 0 {
			q.acc = append(q.acc, line...)
			line = q.acc
		}
		q.decodeLine(line, err == nil, err != nil)
		q.acc = q.acc[:0]
		q.err = err
	}
	n := copy(p, q.out[q.oi:])
	q.oi += n
	return n, nil
}

// decodeLine decodes one line; complete says it ended with '\n', last that
// it is the end of the input.
func (q *qpReader) decodeLine(line []byte, complete, last bool) {
	var eol []byte
	if complete {
		if bytes.HasSuffix(line, []byte("\r\n")) {
			eol = line[len(line)-2:]
			line = line[:len(line)-2]
		} else {
			eol = line[len(line)-1:]
			line = line[:len(line)-1]
		}
	}
	if complete || last {
		line = bytes.TrimRight(line, " \t\r")
	}
	soft := false
	if (complete || last) && len(line) > 0 && line[len(line)-1] == '=' {
		soft = true
		line = line[:len(line)-1]
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '=' {
			if i+2 < len(line) && unhex(line[i+1]) >= 0 && unhex(line[i+2]) >= 0 {
				q.out = append(q.out, byte(unhex(line[i+1])<<4|unhex(line[i+2])))
				i += 2
				continue
			}
			q.junk++ // a stray '=': kept as it is
		}
		q.out = append(q.out, c)
	}
	if complete && !soft {
		q.out = append(q.out, eol...)
	}
}

// decodeQPString decodes the body of a quoted-printable text held in memory.
func decodeQPString(s []byte) []byte {
	out, _ := io.ReadAll(newQPReader(bytes.NewReader(s)))
	return out
}

// decodeUU decodes uuencoded data ("begin 644 name" … "end"). It returns
// the decoded bytes and the file name from the begin line; data without a
// begin line is decoded line by line all the same.
func decodeUU(data []byte) ([]byte, string) {
	var out []byte
	name := ""
	lines := bytes.Split(data, []byte("\n"))
	started := false
	for _, l := range lines {
		l = bytes.TrimRight(l, "\r")
		if !started {
			if bytes.HasPrefix(l, []byte("begin ")) {
				f := strings.Fields(string(l))
				if len(f) >= 3 {
					name = strings.Join(f[2:], " ")
				}
				started = true
				continue
			}
			if len(bytes.TrimSpace(l)) == 0 {
				continue
			}
			started = true
		}
		if bytes.Equal(bytes.TrimSpace(l), []byte("end")) {
			break
		}
		if len(l) == 0 {
			continue
		}
		n := int((l[0] - ' ') & 0x3f)
		if n == 0 {
			continue
		}
		body := l[1:]
		var dec []byte
		for i := 0; i+1 < len(body); i += 4 {
			var c [4]byte
			for j := 0; j < 4; j++ {
				if i+j < len(body) {
					c[j] = (body[i+j] - ' ') & 0x3f
				}
			}
			dec = append(dec, c[0]<<2|c[1]>>4, c[1]<<4|c[2]>>2, c[2]<<6|c[3])
		}
		if n > len(dec) {
			n = len(dec)
		}
		out = append(out, dec[:n]...)
	}
	return out, name
}
