package mailin

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"guichet/ticket"
)

// BatchStore records several messages in one transaction.
type BatchStore interface {
	DeliverBatch(ctx context.Context, ins []*ticket.Inbound, p ticket.Policy) ([]ticket.Delivered, []error)
}

// Batcher is a group commit: messages delivered while a transaction commits wait for the next
// one, and go in together. Each caller still returns only once its own message is committed.
// With one commit at a time, the batch grows with the load and the commits per second stay
// within what the database can do.
type Batcher struct {
	store BatchStore
	p     ticket.Policy
	max   int
	reqs  chan *batchReq
	wg    sync.WaitGroup
	once  sync.Once
	stop  chan struct{}

	start             time.Time
	batches, messages atomic.Int64
	busy              atomic.Int64 // nanoseconds spent committing
}

// BatchStats says how the group commit went: how many transactions, how many messages, and
// how long it spent committing since it started. With busy near up, the commits are what
// holds the intake back; far below, the messages are late to arrive.
type BatchStats struct {
	Batches, Messages int64
	Busy, Up          time.Duration
}

// Stats returns the figures so far.
func (b *Batcher) Stats() BatchStats {
	return BatchStats{Batches: b.batches.Load(), Messages: b.messages.Load(),
		Busy: time.Duration(b.busy.Load()), Up: time.Since(b.start)}
}

type batchReq struct {
	in   *ticket.Inbound
	d    ticket.Delivered
	err  error
	done chan struct{}
}

// ErrBatcherClosed is returned for a message delivered after Close.
var ErrBatcherClosed = errors.New("mailin: batcher closed")

// NewBatcher starts a group commit of at most max messages a transaction (default 256).
func NewBatcher(s BatchStore, p ticket.Policy, max int) *Batcher {
	if max <= 0 {
		max = 256
	}
	b := &Batcher{store: s, p: p, max: max, reqs: make(chan *batchReq, max), stop: make(chan struct{}), start: time.Now()}
	b.wg.Add(1)
	go b.loop()
	return b
}

// Deliver queues one message and waits for the commit of its batch. The policy is the
// batcher's own. If ctx ends first the message may still be committed: the caller must treat
// the message as not stored, and a retry will find it a duplicate.
func (b *Batcher) Deliver(ctx context.Context, in *ticket.Inbound, _ ticket.Policy) (ticket.Delivered, error) {
	r := &batchReq{in: in, done: make(chan struct{})}
	select {
	case <-b.stop:
		return ticket.Delivered{}, ErrBatcherClosed
	default:
	}
	select {
	case b.reqs <- r:
	case <-b.stop:
		return ticket.Delivered{}, ErrBatcherClosed
	case <-ctx.Done():
		return ticket.Delivered{}, ctx.Err()
	}
	select {
	case <-r.done:
		return r.d, r.err
	case <-ctx.Done():
		return ticket.Delivered{}, ctx.Err()
	}
}

// Close stops taking messages, commits the ones queued, and returns.
func (b *Batcher) Close() {
	b.once.Do(func() { close(b.stop) })
	b.wg.Wait()
}

// linger is the longest a batch waits for the messages its recent predecessors suggest.
const linger = 2 * time.Millisecond

func (b *Batcher) loop() {
	defer b.wg.Done()
	want := 1 // the size of the recent batches
	for {
		var batch []*batchReq
		select {
		case r := <-b.reqs:
			batch = append(batch, r)
		case <-b.stop:
			// Commit what is still queued, then stop.
			for {
				select {
				case r := <-b.reqs:
					b.commit([]*batchReq{r})
				default:
					return
				}
			}
		}
	gather: // take what is waiting, without waiting for more
		for len(batch) < b.max {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		// Linger: when the batch is smaller than the recent ones, the senders of those are
		// most likely a moment away with their next message (they just got their 250); a
		// batch of 8 costs the database little more than a batch of 3. A lone sender never
		// waits: its batches are all of one.
		if len(batch) < want {
			t := time.NewTimer(linger)
		wait:
			for len(batch) < want {
				select {
				case r := <-b.reqs:
					batch = append(batch, r)
				case <-t.C:
					break wait
				}
			}
			t.Stop()
		}
		want = max(len(batch), want-1) // follows the load down, one a batch
		b.commit(batch)
	}
}

func (b *Batcher) commit(batch []*batchReq) {
	ins := make([]*ticket.Inbound, len(batch))
	for i, r := range batch {
		ins[i] = r.in
	}
	// The commit is not the callers': it runs to its end even if they stopped waiting.
	t0 := time.Now()
	ds, errs := b.store.DeliverBatch(context.Background(), ins, b.p)
	b.busy.Add(int64(time.Since(t0)))
	b.batches.Add(1)
	b.messages.Add(int64(len(ins)))
	for i, r := range batch {
		r.d, r.err = ds[i], errs[i]
		close(r.done)
	}
}

// Batched returns a store whose Deliver goes through the batcher.
func Batched(s Store, b *Batcher) Store { return batchedStore{Store: s, b: b} }

type batchedStore struct {
	Store
	b *Batcher
}

func (s batchedStore) Deliver(ctx context.Context, in *ticket.Inbound, p ticket.Policy) (ticket.Delivered, error) {
	return s.b.Deliver(ctx, in, p)
}
