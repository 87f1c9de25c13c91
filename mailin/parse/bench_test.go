package parse

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loadCorpus reads every message of the corpus into memory.
func loadCorpus(tb testing.TB) [][]byte {
	root := corpusPath(tb, "")
	var msgs [][]byte
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		data, err := os.ReadFile(path)
		if err == nil && isMessageFile(rel, data) {
			msgs = append(msgs, data)
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return msgs
}

func BenchmarkParseCorpus(b *testing.B) {
	msgs := loadCorpus(b)
	var total int64
	for _, m := range msgs {
		total += int64(len(m))
	}
	b.SetBytes(total)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, m := range msgs {
			_, _ = Parse(bytes.NewReader(m), nil)
		}
	}
}

// bigMessage generates, without holding it in memory, a message of about
// size bytes: a short text part and one base64 attachment of pseudo-random
// bytes, whose SHA-256 it computes on the way.
type bigMessage struct {
	buf     bytes.Buffer
	size    int64
	emitted int64
	state   uint64
	sum     [32]byte
	hash    interface {
		io.Writer
		Sum([]byte) []byte
	}
	raw     []byte
	line    []byte
	decoded int64
	done    bool
}

func newBigMessage(size int64) *bigMessage {
	g := &bigMessage{size: size, state: 0x9E3779B97F4A7C15, hash: sha256.New(), raw: make([]byte, 57), line: make([]byte, 78)}
	g.buf.WriteString("From: Big Sender <big@example.com>\r\nTo: support@example.com\r\n" +
		"Subject: a big attachment\r\nDate: Tue, 1 Apr 2025 09:30:00 +0000\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"big-boundary\"\r\n\r\n--big-boundary\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\nPlease find the dump attached.\r\n--big-boundary\r\n" +
		"Content-Type: application/octet-stream; name=\"dump.bin\"\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"dump.bin\"\r\n\r\n")
	return g
}

func (g *bigMessage) Read(p []byte) (int, error) {
	for g.buf.Len() < len(p) && !g.done {
		if g.emitted+int64(g.buf.Len())+100 >= g.size {
			g.buf.WriteString("--big-boundary--\r\n")
			copy(g.sum[:], g.hash.Sum(nil))
			g.done = true
			break
		}
		for i := range g.raw {
			g.state ^= g.state << 13
			g.state ^= g.state >> 7
			g.state ^= g.state << 17
			g.raw[i] = byte(g.state)
		}
		g.hash.Write(g.raw)
		g.decoded += int64(len(g.raw))
		base64.StdEncoding.Encode(g.line, g.raw)
		g.line[76], g.line[77] = '\r', '\n'
		g.buf.Write(g.line)
	}
	if g.buf.Len() == 0 {
		return 0, io.EOF
	}
	n, _ := g.buf.Read(p)
	g.emitted += int64(n)
	return n, nil
}

// measureParse parses r and returns the bytes allocated during the parse
// (runtime.MemStats.TotalAlloc, an upper bound of the heap it needed) and
// the peak of live heap above the starting point, sampled every millisecond.
func measureParse(r io.Reader, o *Options) (*Message, error, uint64, uint64) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > before.HeapAlloc && ms.HeapAlloc-before.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc - before.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	m, err := Parse(r, o)
	close(stop)
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return m, err, after.TotalAlloc - before.TotalAlloc, peak.Load()
}

// TestParseMemory25MB parses a synthetic 25 MB message with one big base64
// attachment: the attachment must come out whole, and the parse must not
// allocate more than 4 times the message size (the decoded attachment is
// 3/4 of it: read in chunks, then copied once).
func TestParseMemory25MB(t *testing.T) {
	const size = 25 << 20
	g := newBigMessage(size)
	m, err, total, peak := measureParse(g, &Options{MaxSize: 32 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if m.Size != g.emitted || m.Size < size-200 {
		t.Errorf("Size: got %d, want %d", m.Size, g.emitted)
	}
	if len(m.Attachments) != 1 || int64(len(m.Attachments[0].Data)) != g.decoded || sha256.Sum256(m.Attachments[0].Data) != g.sum {
		t.Fatalf("attachment damaged: got %v, want %d bytes", attachmentNames(m), g.decoded)
	}
	if m.Text != "Please find the dump attached." || len(m.Warnings) != 0 {
		t.Errorf("got text %q, warnings %q", m.Text, m.Warnings)
	}
	ratio := float64(total) / float64(m.Size)
	t.Logf("25 MB message: %.1f MB allocated in all (%.2f× the message), peak live heap sampled %.1f MB (%.2f×)",
		float64(total)/(1<<20), ratio, float64(peak)/(1<<20), float64(peak)/float64(m.Size))
	if ratio > 4 {
		t.Errorf("allocated %.2f× the message size, want less than 4×", ratio)
	}

	// Past MaxSize the attachment is left out and memory stays small.
	g = newBigMessage(size + 1<<20)
	m, err, total, _ = measureParse(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 0 || m.Text != "Please find the dump attached." || !hasWarning(m, "dump.bin") {
		t.Errorf("over MaxSize: got attachments %v, text %q, warnings %q", attachmentNames(m), m.Text, m.Warnings)
	}
	t.Logf("26 MB message over the 25 MB limit: %.1f MB allocated", float64(total)/(1<<20))
	if total > DefaultMaxSize*2 {
		t.Errorf("over MaxSize: allocated %d bytes", total)
	}
}

func BenchmarkParse25MB(b *testing.B) {
	const size = 25 << 20
	b.SetBytes(size)
	b.ReportAllocs()
	var total, peak uint64
	for i := 0; i < b.N; i++ {
		m, err, tot, pk := measureParse(newBigMessage(size), &Options{MaxSize: 32 << 20})
		if err != nil || len(m.Attachments) != 1 {
			b.Fatal(err, len(m.Attachments))
		}
		total, peak = tot, max(peak, pk)
	}
	b.ReportMetric(float64(total)/size, "alloc/msgsize")
	b.ReportMetric(float64(peak)/size, "peakheap/msgsize")
}

// BenchmarkParsePlain parses the SMTP benchmark's message: 4 KB of plain text in one part, what
// most new tickets are.
//
//	go test ./mailin/parse -run '^$' -bench BenchmarkParsePlain -benchmem
func BenchmarkParsePlain(b *testing.B) {
	var m strings.Builder
	m.WriteString("From: sender1@client.example\r\nTo: support@crash.example\r\nSubject: benchmark 1\r\n" +
		"Message-ID: <1.1@bench.test>\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\n")
	for m.Len() < 4096-80 {
		m.WriteString("The printer on the second floor prints blank pages since this morning, again.\r\n")
	}
	raw := m.String()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(strings.NewReader(raw), nil); err != nil {
			b.Fatal(err)
		}
	}
}
