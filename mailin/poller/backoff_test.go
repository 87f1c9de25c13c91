package poller

import (
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

func TestBackoff(t *testing.T) {
	const min, max = time.Second, 5 * time.Minute
	none := func(int64) int64 { return 0 }
	all := func(n int64) int64 { return n - 1 }
	for _, tc := range []struct {
		attempt  int
		jitter   func(int64) int64
		want     time.Duration
		wantName string
	}{
		{0, none, time.Second, "first, least jitter: min"},
		{0, all, time.Second, "first, most jitter: min"},
		{1, none, time.Second, "second, least: half of 2s"},
		{1, all, 2 * time.Second, "second, most: 2s"},
		{3, none, 4 * time.Second, "fourth, least: half of 8s"},
		{3, all, 8 * time.Second, "fourth, most: 8s"},
		{20, all, max, "capped"},
		{20, none, max / 2, "capped, least"},
		{1000, all, max, "no overflow"},
	} {
		if got := backoff(tc.attempt, min, max, tc.jitter); got != tc.want {
			t.Errorf("%s: backoff(%d): got %v, want %v", tc.wantName, tc.attempt, got, tc.want)
		}
	}
	for attempt := range 40 {
		got := backoff(attempt, min, max, randJitter)
		if got < min || got > max {
			t.Errorf("backoff(%d) with random jitter: got %v, want within [%v, %v]", attempt, got, min, max)
		}
	}
}

func TestBatches(t *testing.T) {
	l := []listed{{1, 10}, {2, 10}, {5, 10}, {7, 50}, {9, 10}}
	for _, tc := range []struct {
		n        int
		maxBytes int64
		want     [][]imap.UID
	}{
		{200, 1 << 20, [][]imap.UID{{1, 2, 5, 7, 9}}},
		{2, 1 << 20, [][]imap.UID{{1, 2}, {5, 7}, {9}}},
		{200, 30, [][]imap.UID{{1, 2, 5}, {7}, {9}}},
		{200, 5, [][]imap.UID{{1}, {2}, {5}, {7}, {9}}}, // a message bigger than the cap still goes, alone
		{1, 1 << 20, [][]imap.UID{{1}, {2}, {5}, {7}, {9}}},
	} {
		got := batches(l, tc.n, tc.maxBytes)
		if !slices.EqualFunc(got, tc.want, slices.Equal) {
			t.Errorf("batches(n=%d, bytes=%d): got %v, want %v", tc.n, tc.maxBytes, got, tc.want)
		}
	}
	if got := batches(nil, 10, 10); len(got) != 0 {
		t.Errorf("batches(nil): got %v, want none", got)
	}
}
