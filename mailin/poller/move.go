package poller

import (
	"fmt"

	"github.com/emersion/go-imap/v2"
)

// move moves the messages uids to the folder to: UID MOVE (RFC 6851) when the server has it,
// else UID COPY, then, only once the copy succeeded, UID STORE +FLAGS.SILENT (\Deleted) and
// UID EXPUNGE (RFC 4315), or a plain EXPUNGE without UIDPLUS. (imapclient's own fallback sends
// the three commands at once, and would delete the messages even when the copy failed.)
func (s *conn) move(uids []imap.UID, to string) error {
	set := imap.UIDSetNum(uids...)
	caps := s.caps()
	return s.do(fmt.Sprintf("move %d messages to %s", len(uids), to), func() error {
		if caps.Has(imap.CapMove) {
			_, err := s.c.Move(set, to).Wait()
			return err
		}
		if _, err := s.c.Copy(set, to).Wait(); err != nil {
			return fmt.Errorf("UID COPY: %w", err)
		}
		store := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
		if err := s.c.Store(set, store, nil).Close(); err != nil {
			return fmt.Errorf("UID STORE \\Deleted: %w", err)
		}
		if caps.Has(imap.CapUIDPlus) {
			return s.c.UIDExpunge(set).Close()
		}
		// Without UIDPLUS, EXPUNGE also removes whatever else is flagged \Deleted in the folder.
		return s.c.Expunge().Close()
	})
}

// flagSeen flags the messages uids \Seen (After=seen).
func (s *conn) flagSeen(uids []imap.UID) error {
	set := imap.UIDSetNum(uids...)
	return s.do(fmt.Sprintf("flag %d messages \\Seen", len(uids)), func() error {
		store := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}
		return s.c.Store(set, store, nil).Close()
	})
}
