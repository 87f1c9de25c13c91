package poller

import (
	"errors"
	"fmt"
	"slices"

	"github.com/emersion/go-imap/v2"
)

// listed is a message found by list.
type listed struct {
	uid  imap.UID
	size int64
}

// list returns the UIDs from from on, in ascending order, with their sizes: one
// UID FETCH from:* (UID RFC822.SIZE), so that batches can be bounded in bytes as well.
func (s *conn) list(from uint32) ([]listed, error) {
	var set imap.UIDSet
	set.AddRange(imap.UID(from), 0) // from:*
	var l []listed
	err := s.do("UID FETCH (list)", func() error {
		cmd := s.c.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true})
		for m := cmd.Next(); m != nil; m = cmd.Next() {
			buf, err := m.Collect()
			if err != nil {
				cmd.Close()
				return err
			}
			// "n:*" also names the last message when n is above every UID.
			if buf.UID >= imap.UID(from) {
				l = append(l, listed{uid: buf.UID, size: buf.RFC822Size})
			}
		}
		return cmd.Close()
	})
	var ie *imap.Error
	if errors.As(err, &ie) {
		if mb := s.c.Mailbox(); mb != nil && mb.NumMessages == 0 {
			return nil, nil // some servers refuse "n:*" in an empty folder
		}
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(l, func(a, b listed) int { return int(int64(a.uid) - int64(b.uid)) })
	return l, nil
}

// batches cuts l into runs of at most n messages and maxBytes bytes (at least one message).
func batches(l []listed, n int, maxBytes int64) [][]imap.UID {
	var out [][]imap.UID
	var cur []imap.UID
	var size int64
	for _, m := range l {
		if len(cur) > 0 && (len(cur) >= n || size+m.size > maxBytes) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, m.uid)
		size += m.size
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// fetched is the outcome of fetchBodies.
type fetched struct {
	bodies     map[imap.UID][]byte
	unreadable map[imap.UID]error
	err        error
}

// prefetch runs fetchBodies in the background. The FETCH's answer is read as it comes, so that
// it never holds up the answers to the commands sent after it.
func (s *conn) prefetch(uids []imap.UID) chan fetched {
	ch := make(chan fetched, 1)
	go func() {
		var f fetched
		f.bodies, f.unreadable, f.err = s.fetchBodies(uids)
		ch <- f
	}()
	return ch
}

// bodySection is BODY.PEEK[]: the whole message, without setting \Seen.
var bodySection = &imap.FetchItemBodySection{Peek: true}

// fetchBodies fetches the messages of uids in one UID FETCH. A UID missing from both maps is no
// longer in the folder (expunged by someone else). unreadable holds the messages the server
// refused to give (a NO to the FETCH, asked again one at a time) or gave without a body. A
// connection error fails the whole call.
func (s *conn) fetchBodies(uids []imap.UID) (bodies map[imap.UID][]byte, unreadable map[imap.UID]error, err error) {
	bodies, err = s.fetchSet(imap.UIDSetNum(uids...))
	var ie *imap.Error
	if err != nil && !errors.As(err, &ie) {
		return nil, nil, err
	}
	unreadable = map[imap.UID]error{}
	if err != nil {
		// The server refused part of the batch: ask for the others one at a time.
		for _, uid := range uids {
			if _, ok := bodies[uid]; ok {
				continue
			}
			one, err := s.fetchSet(imap.UIDSetNum(uid))
			if err != nil && !errors.As(err, &ie) {
				return nil, nil, err
			}
			if err != nil {
				unreadable[uid] = err
			}
			if b, ok := one[uid]; ok {
				bodies[uid] = b
			}
		}
	}
	for uid, b := range bodies {
		if b == nil {
			delete(bodies, uid)
			unreadable[uid] = errors.New("the server gave no body (BODY[] NIL)")
		}
	}
	return bodies, unreadable, nil
}

// fetchSet runs one UID FETCH (UID BODY.PEEK[]); a message returned without body maps to nil.
func (s *conn) fetchSet(set imap.UIDSet) (map[imap.UID][]byte, error) {
	out := map[imap.UID][]byte{}
	what := "UID FETCH " + set.String()
	if uids, _ := set.Nums(); len(uids) > 1 {
		what = fmt.Sprintf("UID FETCH of %d messages", len(uids))
	}
	err := s.do(what, func() error {
		cmd := s.c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{bodySection}})
		for m := cmd.Next(); m != nil; m = cmd.Next() {
			buf, err := m.Collect()
			if err != nil {
				cmd.Close()
				return err
			}
			if buf.UID != 0 {
				out[buf.UID] = buf.FindBodySection(bodySection)
			}
		}
		return cmd.Close()
	})
	return out, err
}

// lastUID returns the UID of the newest message of the folder just selected, from UIDNEXT when
// the server gave it, else by asking for the UID of message "*".
func (s *conn) lastUID(data *imap.SelectData) (uint32, error) {
	if data.UIDNext > 0 {
		return uint32(data.UIDNext) - 1, nil
	}
	if data.NumMessages == 0 {
		return 0, nil
	}
	var uid imap.UID
	err := s.do("FETCH * (UID)", func() error {
		l, err := s.c.Fetch(imap.SeqSetNum(0), &imap.FetchOptions{UID: true}).Collect()
		for _, m := range l {
			uid = max(uid, m.UID)
		}
		return err
	})
	return uint32(uid), err
}
