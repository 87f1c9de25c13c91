package poller

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff returns how long to wait after failure number attempt (0 for the first): min doubled
// attempt times, capped at max, then jittered down to between half of that and all of it, never
// below min. jitter(n) returns a number in [0, n).
func backoff(attempt int, min, max time.Duration, jitter func(n int64) int64) time.Duration {
	d := min
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max || d <= 0 {
		d = max
	}
	half := d / 2
	d = half + time.Duration(jitter(int64(d-half)+1))
	if d < min {
		d = min
	}
	return d
}

// sleep waits for d or until ctx is done; it reports whether the whole d went by.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func randJitter(n int64) int64 { return rand.Int64N(n) }
