package mailin

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"guichet/ticket"
)

// recordingStore answers each message with its own Dedup as the ticket number, and records the
// batch sizes.
type recordingStore struct {
	mu    sync.Mutex
	sizes []int
	delay time.Duration
}

func (s *recordingStore) DeliverBatch(_ context.Context, ins []*ticket.Inbound, _ ticket.Policy) ([]ticket.Delivered, []error) {
	time.Sleep(s.delay)
	s.mu.Lock()
	s.sizes = append(s.sizes, len(ins))
	s.mu.Unlock()
	ds := make([]ticket.Delivered, len(ins))
	for i, in := range ins {
		ds[i].Number = int64(len(in.Dedup))
	}
	return ds, make([]error, len(ins))
}

func dedupOfLen(n int) string { return string(make([]byte, n)) }

// A lone sender's messages go one by one (the linger waits only for what recent batches
// suggest); concurrent senders each get their own answer, in batches of at most max.
func TestBatcherLingerAndAnswers(t *testing.T) {
	s := &recordingStore{}
	b := NewBatcher(s, ticket.DefaultPolicy(), 4)
	for i := 1; i <= 20; i++ {
		d, err := b.Deliver(context.Background(), &ticket.Inbound{Dedup: dedupOfLen(i)}, ticket.Policy{})
		if err != nil || d.Number != int64(i) {
			t.Fatalf("message %d: %+v %v", i, d, err)
		}
	}
	for i, n := range s.sizes {
		if n != 1 {
			t.Fatalf("lone sender: batch %d of %d messages, want 1", i, n)
		}
	}
	s.sizes, s.delay = nil, time.Millisecond
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				n := 100 + w*30 + i
				d, err := b.Deliver(context.Background(), &ticket.Inbound{Dedup: dedupOfLen(n)}, ticket.Policy{})
				if err != nil || d.Number != int64(n) {
					t.Errorf("sender %d message %d: %+v %v", w, i, d, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.Close()
	total := 0
	for _, n := range s.sizes {
		if n < 1 || n > 4 {
			t.Errorf("a batch of %d, want 1 to 4", n)
		}
		total += n
	}
	if total != 8*30 {
		t.Errorf("%d messages committed, want %d", total, 8*30)
	}
	// The figures count both rounds; the second's batches each took at least the store's 1 ms.
	st := b.Stats()
	if st.Messages != 20+8*30 || st.Batches != int64(20+len(s.sizes)) || st.Busy < time.Duration(len(s.sizes))*time.Millisecond || st.Up < st.Busy {
		t.Errorf("stats %+v: want %d messages in %d batches, busy at least %d ms and at most up", st, 20+8*30, 20+len(s.sizes), len(s.sizes))
	}
}

// TestLooksHTML: a body is taken for HTML when it starts with a tag and one of the usual tags
// is in its first 512 bytes; text that only mentions a tag is not.
func TestLooksHTML(t *testing.T) {
	for _, c := range []struct {
		body string
		want bool
	}{
		{"<!DOCTYPE html><html><body>Hi</body></html>", true},
		{"  \r\n<DIV>Bonjour</DIV>", true},
		{"<p>one</p>", true},
		{"<span>x</span>" + strings.Repeat(" ", 600) + "<div>", false}, // past 512 bytes
		{"<span>x</span><br>", true},
		{"Use <div> for blocks, <br> for breaks.", false},
		{"<not a tag at all", false},
		{"", false},
		{"Élodie <p>", false},
	} {
		if got := looksHTML(c.body); got != c.want {
			t.Errorf("looksHTML(%.40q) = %v, want %v", c.body, got, c.want)
		}
	}
}
