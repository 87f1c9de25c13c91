package poller

import (
	"context"
	"time"
)

// State keeps, durably, each mailbox folder's UIDVALIDITY and the last UID it delivered, and
// its status. The key is Mailbox.Name, or Name+"/sent" for its Sent folder.
type State interface {
	// Load returns zeros when the key is unknown.
	Load(ctx context.Context, key string) (uidValidity, lastUID uint32, err error)
	Save(ctx context.Context, key string, uidValidity, lastUID uint32) error
	SetStatus(ctx context.Context, key string, st Status) error
}

// Status is what a mailbox folder is doing, and how it went.
type Status struct {
	// State is "waiting for lock", "connecting", "polling" (listing new messages), "fetching"
	// (fetching and delivering), "idle" (in IDLE or waiting for the schedule), "backoff" (after
	// an error, before reconnecting) or "stopped".
	State         string
	LastError     string
	LastErrorAt   time.Time
	LastSuccessAt time.Time // the end of the last drain that went through
	Processed     int64     // messages delivered since start: Deliver returned nil (quarantined and duplicates included)
}

// Values of Status.State.
const (
	StateWaitingLock = "waiting for lock"
	StateConnecting  = "connecting"
	StatePolling     = "polling"
	StateFetching    = "fetching"
	StateIdle        = "idle"
	StateBackoff     = "backoff"
	StateStopped     = "stopped"
)

// statusWriteTimeout bounds the last SetStatus, written after ctx is done.
const statusWriteTimeout = 5 * time.Second

// setStatus changes this folder's status in memory, then writes it through State.SetStatus.
// Only the folder's own goroutine calls it, so the writes of one key stay in order.
func (w *worker) setStatus(ctx context.Context, change func(*Status)) {
	p := w.p
	p.mu.Lock()
	st := p.status[w.key]
	before := st
	change(&st)
	p.status[w.key] = st
	p.mu.Unlock()
	if st == before {
		return
	}
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), statusWriteTimeout)
		defer cancel()
	}
	if err := p.st.SetStatus(ctx, w.key, st); err != nil {
		w.log.Warn("cannot save the status", "state", st.State, "error", err)
	}
}

func (w *worker) setState(ctx context.Context, s string) {
	w.setStatus(ctx, func(st *Status) { st.State = s })
}

func (w *worker) setError(ctx context.Context, s string, err error) {
	now := w.p.o.Now()
	w.setStatus(ctx, func(st *Status) {
		st.State, st.LastError, st.LastErrorAt = s, err.Error(), now
	})
}
