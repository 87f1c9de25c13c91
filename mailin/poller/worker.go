package poller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/emersion/go-imap/v2"
)

// worker reads one folder of one mailbox: its inbox, or its Sent folder. All IMAP work on the
// folder happens in the worker's goroutine, so two drains of one folder never run at once in a
// process; the schedule and the server's EXISTS only wake it up.
type worker struct {
	p      *Poller
	box    Mailbox
	ep     endpoint
	sent   bool
	key    string // state, lock and status key
	folder string // as configured
	log    *slog.Logger
	wakeCh chan struct{}

	// strikes counts, per UID, the drains in which the server refused to give a message.
	strikes         map[imap.UID]int
	strikesValidity uint32
}

// folder is the selected folder of a session.
type folder struct {
	name        string // on the server
	moveTo      string // on the server; "" for the Sent folder
	failedTo    string
	uidValidity uint32
	lastUID     uint32 // the last UID delivered; every message of the folder up to it is stored
}

func newWorker(p *Poller, b Mailbox, ep endpoint, sent bool) *worker {
	w := &worker{p: p, box: b, ep: ep, sent: sent, key: b.Name, folder: ep.folder,
		wakeCh: make(chan struct{}, 1), strikes: map[imap.UID]int{}}
	if sent {
		w.key, w.folder = b.Name+"/sent", b.SentFolder
	}
	w.log = p.log.With("mailbox", w.key)
	return w
}

// wake asks for a drain; it never blocks (one pending request is enough).
func (w *worker) wake() {
	select {
	case w.wakeCh <- struct{}{}:
	default:
	}
}

// run keeps the folder read until ctx is done: lock, connect, drain and wait, and on any error
// back off and start again.
func (w *worker) run(ctx context.Context) {
	o := &w.p.o
	attempt, waiting := 0, false
	pause := func(err error) {
		d := backoff(attempt, o.MinBackoff, o.MaxBackoff, randJitter)
		attempt++
		w.log.Warn("mailbox failed, trying again later", "error", err, "retry_in", d.String())
		w.setError(ctx, StateBackoff, err)
		sleep(ctx, d)
	}
	for ctx.Err() == nil {
		lock, ok, err := w.acquire(ctx)
		if err != nil {
			if ctx.Err() == nil {
				pause(fmt.Errorf("lock: %w", err))
			}
			continue
		}
		if !ok {
			if !waiting {
				w.log.Info("another process holds the mailbox, waiting")
				waiting = true
			}
			w.setState(ctx, StateWaitingLock)
			sleep(ctx, o.LockRetry)
			continue
		}
		waiting = false
		sctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-lock.Lost:
				cancel()
			case <-sctx.Done():
			}
		}()
		progressed, err := w.session(sctx)
		cancel()
		lock.Release()
		if ctx.Err() != nil {
			break
		}
		select {
		case <-lock.Lost:
			err = errLockLost
		default:
		}
		if progressed {
			attempt = 0
		}
		pause(err)
	}
	w.setState(ctx, StateStopped)
}

func (w *worker) acquire(ctx context.Context) (l Lock, ok bool, err error) {
	if w.p.lk != nil {
		l, ok, err = w.p.lk.Acquire(ctx, w.key)
	} else {
		ok = true
	}
	if l.Release == nil {
		l.Release = func() {}
	}
	return l, ok, err
}

// errLockLost ends a session whose lock was lost.
var errLockLost = errors.New("lock: lost while held (its database connection closed?): stopped reading, taking it again")

// session connects and drains the folder, then waits and drains again, until an error or ctx.
// progressed says at least one drain went through (so the backoff starts again from the start).
func (w *worker) session(ctx context.Context) (progressed bool, err error) {
	w.setState(ctx, StateConnecting)
	s, err := dial(ctx, w.ep, w.box.TLSConfig, &w.p.o, w.wake)
	if err != nil {
		return false, err
	}
	defer s.close()
	f, err := w.open(ctx, s)
	if err != nil {
		return false, err
	}
	idle := s.caps().Has(imap.CapIdle) && !w.p.noIdle
	w.log.Debug("connected", "folder", f.name, "idle", idle)
	for {
		if err := w.drain(ctx, s, f); err != nil {
			return progressed, err
		}
		progressed = true
		now := w.p.o.Now()
		w.setStatus(ctx, func(st *Status) { st.LastSuccessAt = now })
		if err := w.wait(ctx, s, idle); err != nil {
			return progressed, err
		}
	}
}

// open creates the destination folders, selects the folder and compares its UIDVALIDITY with
// the stored one.
func (w *worker) open(ctx context.Context, s *conn) (*folder, error) {
	f := &folder{name: serverName(w.folder, s.delim)}
	if !w.sent {
		f.failedTo = serverName(w.box.FailedTo, s.delim)
		if w.box.After == AfterMove {
			f.moveTo = serverName(w.box.MoveTo, s.delim)
			if err := s.ensureFolder(f.moveTo); err != nil {
				return nil, err
			}
		}
		if err := s.ensureFolder(f.failedTo); err != nil {
			return nil, err
		}
	}
	data, err := s.selectFolder(f.name)
	if err != nil {
		return nil, err
	}
	f.uidValidity = data.UIDValidity
	if w.strikesValidity != f.uidValidity {
		w.strikes, w.strikesValidity = map[imap.UID]int{}, f.uidValidity
	}
	validity, last, err := w.p.st.Load(ctx, w.key)
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	switch {
	case validity == f.uidValidity:
		f.lastUID = last
		return f, nil
	case w.sent:
		// First start on a Sent folder, or its UIDVALIDITY changed (a rebuilt or migrated
		// folder, with all its history): only what is sent from now on. Nothing is lost in
		// the sense of the guarantee: a Sent message is never moved, it is still there.
		if f.lastUID, err = s.lastUID(data); err != nil {
			return nil, err
		}
		if validity == 0 {
			w.log.Info("first start on the Sent folder: older messages are not imported",
				"folder", f.name, "uid", f.lastUID)
		} else {
			w.log.Warn("UIDVALIDITY of the Sent folder changed: reading it from its newest message on; messages sent just before the change may be missing",
				"folder", f.name, "old", validity, "new", f.uidValidity, "uid", f.lastUID)
		}
	case validity == 0:
		w.log.Info("first start: reading the whole folder", "folder", f.name)
	default:
		w.log.Warn("UIDVALIDITY changed: reading the folder again from the start (the deliverer drops duplicates)",
			"folder", f.name, "old", validity, "new", f.uidValidity)
	}
	if err := w.p.st.Save(ctx, w.key, f.uidValidity, f.lastUID); err != nil {
		return nil, fmt.Errorf("save state: %w", err)
	}
	return f, nil
}
