package smtpd

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// readMessage returns the bytes read, exactly, with or without a SIZE hint, whether they come
// in one buffer or past maxPrealloc in chunks (and past gcAfter, collected after); one byte
// over the limit is errTooBig.
func TestReadMessage(t *testing.T) {
	for _, n := range []int{0, 1, minPrealloc - 1, minPrealloc + 1, maxPrealloc - 1, maxPrealloc, maxPrealloc + 1, 3*maxPrealloc + 17, gcAfter + 5} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i * 7)
		}
		for _, hint := range []int64{0, int64(n), 10} {
			for _, limit := range []int64{int64(n), int64(n) + 1, 64 << 20} {
				// OneByteReader for the small ones, the default chunks of bytes.Reader for the big.
				var r io.Reader = bytes.NewReader(data)
				if n < 4096 {
					r = iotest.OneByteReader(r)
				}
				got, err := readMessage(r, limit, hint)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("n %d hint %d limit %d: %d bytes, %v; want them all", n, hint, limit, len(got), err)
				}
				if int64(cap(got)) > int64(n)+int64(n)/8+minPrealloc && n > maxPrealloc {
					t.Errorf("n %d: capacity %d, want about the size", n, cap(got))
				}
			}
			if n > 0 {
				if _, err := readMessage(bytes.NewReader(data), int64(n-1), hint); !errors.Is(err, errTooBig) {
					t.Errorf("n %d hint %d limit %d: %v, want errTooBig", n, hint, n-1, err)
				}
			}
		}
	}
}
