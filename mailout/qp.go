package mailout

// appendQP appends body to dst encoded as quoted-printable, byte for byte as
// mime/quotedprintable's Writer writes it (LF and CRLF become CRLF, lines are broken softly
// before 76 octets, a space or tab before a line break is encoded), without its per-byte
// calls: the acknowledgements' bodies are most of what the sender encodes.
func appendQP(dst []byte, body string) []byte {
	const max = 76 // mime/quotedprintable's lineMaxLen
	const hex = "0123456789ABCDEF"
	line := 0   // octets on the current output line
	cr := false // the last input byte was CR (its CRLF is written)
	for i := 0; i < len(body); i++ {
		b := body[i]
		switch {
		case b == '\n' || b == '\r':
			if cr && b == '\n' {
				cr = false
				continue
			}
			cr = b == '\r'
			if line > 0 {
				if last := dst[len(dst)-1]; last == ' ' || last == '\t' {
					dst, line = dst[:len(dst)-1], line-1
					if max-1-line < 3 {
						dst, line = append(dst, '=', '\r', '\n'), 0
					}
					dst, line = append(dst, '=', hex[last>>4], hex[last&0x0f]), line+3
				}
			}
			dst, line = append(dst, '\r', '\n'), 0
			continue
		case qpPlain[b]:
			if line == max-1 {
				dst, line = append(dst, '=', '\r', '\n'), 0
			}
			// The run of plain octets that fits on the line goes in one append.
			end := min(len(body), i+max-1-line)
			j := i + 1
			for j < end && qpPlain[body[j]] {
				j++
			}
			dst, line = append(dst, body[i:j]...), line+j-i
			i = j - 1
			cr = false
		default: // as mime/quotedprintable, an encoded octet leaves cr as it was
			if max-1-line < 3 {
				dst, line = append(dst, '=', '\r', '\n'), 0
			}
			dst, line = append(dst, '=', hex[b>>4], hex[b&0x0f]), line+3
		}
	}
	if line > 0 {
		if last := dst[len(dst)-1]; last == ' ' || last == '\t' {
			dst, line = dst[:len(dst)-1], line-1
			if max-1-line < 3 {
				dst = append(dst, '=', '\r', '\n')
			}
			dst = append(dst, '=', hex[last>>4], hex[last&0x0f])
		}
	}
	return dst
}

// qpPlain holds the octets quoted-printable writes as they are: printable ASCII but "=", space
// and tab.
var qpPlain = func() (t [256]bool) {
	for c := '!'; c <= '~'; c++ {
		t[c] = c != '='
	}
	t[' '], t['\t'] = true, true
	return t
}()
