package poller

import (
	"context"
	"errors"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

var errServerClosed = errors.New("the server closed the connection")

// wait returns when the folder should be drained again: the server announced new messages
// (EXISTS, during IDLE — RFC 2177) or the schedule ticked. Without IDLE only the schedule
// wakes it. IDLE is stopped and issued again every Options.IdleRestart, before servers drop
// it (RFC 2177 asks clients to re-issue it at least every 29 minutes).
func (w *worker) wait(ctx context.Context, s *conn, idle bool) error {
	if !idle {
		w.setState(ctx, StateIdle)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.c.Closed():
			return errServerClosed
		case <-w.wakeCh:
			return nil
		}
	}
	for {
		var cmd *imapclient.IdleCommand
		if err := s.do("IDLE", func() (err error) { cmd, err = s.c.Idle(); return err }); err != nil {
			return err
		}
		w.setState(ctx, StateIdle)
		t := time.NewTimer(w.p.o.IdleRestart)
		restart := false
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-s.c.Closed():
			t.Stop()
			return errServerClosed
		case <-w.wakeCh:
		case <-t.C:
			restart = true
		}
		t.Stop()
		err := s.do("IDLE DONE", func() error {
			if err := cmd.Close(); err != nil {
				return err
			}
			return cmd.Wait()
		})
		if err != nil {
			return err
		}
		if !restart {
			return nil
		}
	}
}
