package poller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/emersion/go-imap/v2"
)

// unreadableStrikes is the number of drains in a row in which the server must refuse to give a
// message before it is moved to FailedTo (left alone in a Sent folder) and the folder goes on:
// a transient refusal is retried like a delivery error, a broken message does not block the
// folder for ever.
const unreadableStrikes = 3

// drain delivers every message waiting in the folder, batch after batch. With After=move it
// reads the whole folder (whatever is still there was not moved, so may not be stored); else the
// messages above lastUID.
//
// The batches are pipelined: the FETCH of the next batch and the MOVE of the previous one run
// on the server while this batch is delivered, so a backlog drains at the pace of the slower
// of the server and the Deliverer, not of the two added up. The order that matters stays: a
// batch's MOVE is sent only after its messages were delivered and lastUID saved.
func (w *worker) drain(ctx context.Context, s *conn, f *folder) (err error) {
	select { // this drain answers any wake-up received so far
	case <-w.wakeCh:
	default:
	}
	w.setState(ctx, StatePolling)
	from := f.lastUID + 1
	if !w.sent && w.box.After == AfterMove {
		from = 1
	}
	l, err := s.list(from)
	if err != nil {
		return err
	}
	if len(l) == 0 {
		return nil
	}
	w.setState(ctx, StateFetching)

	bs := batches(l, w.box.BatchSize, w.p.o.BatchBytes)
	var (
		next  = s.prefetch(bs[0])
		after chan error // the previous batch's MOVE or STORE, in flight
		total int
	)
	waitAfter := func() error {
		if after == nil {
			return nil
		}
		err := <-after
		after = nil
		return err
	}
	defer func() {
		// Nothing is left running on the connection when drain returns.
		if next != nil {
			<-next
		}
		err = errors.Join(err, waitAfter())
		if total > 0 {
			w.log.Info("drained", "folder", f.name, "messages", total)
		}
	}()
	for i, uids := range bs {
		got := <-next
		next = nil
		if got.err != nil {
			return got.err
		}
		if i+1 < len(bs) {
			next = s.prefetch(bs[i+1])
		}
		n, stored, failed, err := w.deliver(ctx, f, uids, got)
		total += n
		if err := waitAfter(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			// Shutting down: the connection is closed already. What was delivered and not
			// moved is delivered again (a duplicate) and moved on the next run.
			return ctx.Err()
		}
		after = w.startAfter(s, f, stored, failed)
		if err != nil {
			return err
		}
	}
	return nil
}

// deliverError is a Deliver failure: the message stays where it is.
type deliverError struct {
	uid imap.UID
	err error
}

func (e *deliverError) Error() string { return fmt.Sprintf("deliver UID %d: %v", e.uid, e.err) }
func (e *deliverError) Unwrap() error { return e.err }

// deliver delivers the messages of one fetched batch in UID order, stopping at the first that
// cannot be delivered, then saves the last UID delivered. It returns the number of messages
// stored, and which go to MoveTo (or get \Seen) and which to FailedTo: only stored ones.
func (w *worker) deliver(ctx context.Context, f *folder, uids []imap.UID, got fetched) (n int, stored, failed []imap.UID, err error) {
	var stop error
	last := f.lastUID
	for _, uid := range uids {
		raw, ok := got.bodies[uid]
		if !ok {
			if ferr, bad := got.unreadable[uid]; bad {
				w.strikes[uid]++
				if w.strikes[uid] < unreadableStrikes {
					stop = fmt.Errorf("UID %d: %w", uid, ferr)
					break
				}
				delete(w.strikes, uid)
				w.log.Error("the server will not give this message; leaving it aside", "uid", uid,
					"folder", f.name, "to", f.failedTo, "error", ferr)
				if !w.sent {
					failed = append(failed, uid)
				}
			}
			// else: expunged by someone else since the listing; nothing to do.
			last = max(last, uint32(uid))
			continue
		}
		quarantined, err := w.p.d.Deliver(ctx, raw, Meta{Mailbox: w.box.Name, Folder: f.name, UID: uint32(uid), Sent: w.sent})
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("delivery failed; the message stays and is tried again later",
					"uid", uid, "message_id", messageID(raw), "error", err)
			}
			stop = &deliverError{uid: uid, err: err}
			break
		}
		delete(w.strikes, uid)
		n++
		last = max(last, uint32(uid))
		if quarantined {
			w.log.Info("quarantined by the deliverer", "uid", uid, "message_id", messageID(raw))
			if !w.sent {
				failed = append(failed, uid)
			}
		} else {
			if w.log.Enabled(ctx, slog.LevelDebug) { // parsing the header costs, in a backlog
				w.log.Debug("stored", "uid", uid, "message_id", messageID(raw))
			}
			stored = append(stored, uid)
		}
		if ctx.Err() != nil {
			break
		}
	}
	if n > 0 {
		w.setStatus(ctx, func(st *Status) { st.Processed += int64(n) })
	}
	if ctx.Err() != nil {
		return n, nil, nil, ctx.Err()
	}
	var serr error
	if last > f.lastUID {
		if serr = w.p.st.Save(ctx, w.key, f.uidValidity, last); serr != nil {
			serr = fmt.Errorf("save state: %w", serr)
		} else {
			f.lastUID = last
		}
	}
	// A failed Save does not stop the moves: the messages are stored all the same.
	return n, stored, failed, errors.Join(serr, stop)
}

// startAfter moves (or flags) the stored messages of a batch in the background, and the
// quarantined ones to FailedTo; the channel gets the outcome.
func (w *worker) startAfter(s *conn, f *folder, stored, failed []imap.UID) chan error {
	done := make(chan error, 1)
	if (w.sent || len(stored) == 0) && len(failed) == 0 {
		done <- nil
		return done
	}
	go func() {
		var errs []error
		switch {
		case w.sent || len(stored) == 0:
		case w.box.After == AfterMove:
			errs = append(errs, s.move(stored, f.moveTo))
		default:
			errs = append(errs, s.flagSeen(stored))
		}
		if len(failed) > 0 {
			errs = append(errs, s.move(failed, f.failedTo))
		}
		done <- errors.Join(errs...)
	}()
	return done
}
