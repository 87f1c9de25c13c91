package poller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

const (
	user = "support@support.example"
	pass = "p@ss:w/rd%" // exercises the URL's percent-decoding
)

// setup starts a server with one user and returns a mailbox reading its INBOX.
//
// The schedule is long so that a test sees what IDLE does. Tests that append messages while
// the poller runs, and do not test IDLE itself, shorten it: imapmemserver holds back an EXISTS
// that comes between a command and the next IDLE until something else happens in the folder
// (Dovecot sends it when IDLE starts), and the schedule is the safety net for such servers.
func setup(t *testing.T, caps imap.CapSet, folders ...string) (*testServer, *Mailbox) {
	ts := newTestServer(t, caps, nil, false)
	ts.addUser(user, pass, folders...)
	return ts, &Mailbox{Name: "support", URL: ts.url(user, pass, "INBOX"), Schedule: "@every 1h"}
}

func newPoller(t *testing.T, boxes []Mailbox, d Deliverer, st State, lk Locker, o *Options) *Poller {
	t.Helper()
	p, err := New(boxes, d, st, lk, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMoveAfterDelivery(t *testing.T) {
	for _, tc := range []struct {
		name string
		caps imap.CapSet
	}{
		{"IMAP4rev2 (MOVE)", capsRev2},
		{"IMAP4rev1 with MOVE", capsRev1Plus},
		{"IMAP4rev1 with UIDPLUS only (COPY, UID EXPUNGE)", capsRev1UID},
		{"IMAP4rev1 alone (COPY, EXPUNGE)", capsRev1Plain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, box := setup(t, tc.caps)
			mu := ts.addUser("other", "x") // another user on the server is not read
			appendTo(t, mu, "INBOX", "other@x")
			inbox := ts.userOf(user)
			want := []string{"m1@x", "m2@x", "m3@x", "m4@x", "m5@x"}
			appendTo(t, inbox, "INBOX", want...)
			box.BatchSize = 2 // three batches
			d, st := newFakeDeliverer(), newMemState()
			p := newPoller(t, []Mailbox{*box}, d, st, nil, fastOptions(t))
			r := start(t, p)
			waitFor(t, 5*time.Second, "5 messages moved", func() bool {
				return len(folderContents(t, ts.addr, user, pass, "guichet/done")) == 5
			})
			r.stop(t)

			var got []string
			var uids []uint32
			for _, dl := range d.deliveries() {
				got = append(got, dl.id)
				uids = append(uids, dl.m.UID)
				if dl.m.Mailbox != "support" || dl.m.Folder != "INBOX" || dl.m.Sent {
					t.Errorf("Meta: got %+v, want support, INBOX, not sent", dl.m)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("delivered: got %v, want %v", got, want)
			}
			if !slices.IsSorted(uids) {
				t.Errorf("UIDs delivered: got %v, want ascending", uids)
			}
			if l := folderContents(t, ts.addr, user, pass, "INBOX"); len(l) != 0 {
				t.Errorf("INBOX: got %v, want empty", ids(l))
			}
			done := folderContents(t, ts.addr, user, pass, "guichet/done")
			if got := ids(done); !slices.Equal(got, want) {
				t.Errorf("guichet/done: got %v, want %v", got, want)
			}
			for _, m := range done {
				if m.seen {
					t.Errorf("%s: got \\Seen in guichet/done, want unread (BODY.PEEK)", m.id)
				}
			}
			if v, last := st.get("support"); v == 0 || last != 5 {
				t.Errorf("state: got validity %d, last UID %d, want non-zero, 5", v, last)
			}
			if got := p.Status()["support"]; got.Processed != 5 || got.State != StateStopped || got.LastSuccessAt.IsZero() {
				t.Errorf("status: got %+v, want 5 processed, stopped, a success time", got)
			}
			if len(folderContents(t, ts.addr, "other", "x", "INBOX")) != 1 {
				t.Error("the other user's INBOX changed")
			}
		})
	}
}

func TestAfterSeen(t *testing.T) {
	ts, box := setup(t, capsRev2)
	box.After = AfterSeen
	box.Schedule = "@every 1s"
	inbox := ts.userOf(user)
	appendTo(t, inbox, "INBOX", "a@x", "b@x", "c@x")
	d, st := newFakeDeliverer(), newMemState()
	p := newPoller(t, []Mailbox{*box}, d, st, nil, fastOptions(t))
	r := start(t, p)
	waitFor(t, 5*time.Second, "3 deliveries", func() bool { return d.distinct() == 3 })
	appendTo(t, inbox, "INBOX", "d@x")
	waitFor(t, 5*time.Second, "the 4th delivery", func() bool { return d.distinct() == 4 })
	waitFor(t, 5*time.Second, "4 messages flagged \\Seen", func() bool {
		n := 0
		for _, m := range folderContents(t, ts.addr, user, pass, "INBOX") {
			if m.seen {
				n++
			}
		}
		return n == 4
	})
	// Let the schedule tick at least once more: nothing is delivered twice.
	time.Sleep(1500 * time.Millisecond)
	r.stop(t)
	if got := len(d.deliveries()); got != 4 {
		t.Errorf("deliveries: got %d, want 4 (no re-delivery with After=seen)", got)
	}
	if got := ids(folderContents(t, ts.addr, user, pass, "INBOX")); !slices.Equal(got, []string{"a@x", "b@x", "c@x", "d@x"}) {
		t.Errorf("INBOX: got %v, want the 4 messages still there", got)
	}
	if _, last := st.get("support"); last != 4 {
		t.Errorf("last UID: got %d, want 4", last)
	}
}

func TestDeliverErrorIsRetried(t *testing.T) {
	ts, box := setup(t, capsRev2)
	box.Schedule = "@every 1s"
	inbox := ts.userOf(user)
	appendTo(t, inbox, "INBOX", "1@x", "2@x", "3@x")
	d, st := newFakeDeliverer(), newMemState()
	var attempts atomic.Int64
	d.setFail(func(id string, m Meta) error {
		if id == "2@x" {
			attempts.Add(1)
			return errTestDown
		}
		return nil
	})
	p := newPoller(t, []Mailbox{*box}, d, st, nil, fastOptions(t))
	r := start(t, p)
	waitFor(t, 5*time.Second, "2@x tried 3 times", func() bool { return attempts.Load() >= 3 })
	// While 2 fails: 1 is moved, 2 and 3 stay, 3 is never delivered before 2.
	waitFor(t, 5*time.Second, "1 moved", func() bool {
		return len(folderContents(t, ts.addr, user, pass, "guichet/done")) == 1
	})
	if got := ids(folderContents(t, ts.addr, user, pass, "INBOX")); !slices.Equal(got, []string{"2@x", "3@x"}) {
		t.Errorf("INBOX while failing: got %v, want [2@x 3@x]", got)
	}
	if d.has("3@x") {
		t.Error("3@x was delivered before 2@x")
	}
	if _, last := st.get("support"); last != 1 {
		t.Errorf("last UID while failing: got %d, want 1", last)
	}
	if got := p.Status()["support"]; !strings.Contains(got.LastError, errTestDown.Error()) || got.LastErrorAt.IsZero() {
		t.Errorf("status: got %+v, want the delivery error and its time", got)
	}
	written := st.written("support")
	if !slices.ContainsFunc(written, func(s Status) bool { return s.State == StateBackoff && s.LastError != "" }) {
		t.Errorf("SetStatus: got %+v, want a backoff with its error", written)
	}

	d.setFail(nil) // the database is back
	waitFor(t, 5*time.Second, "all 3 moved", func() bool {
		return len(folderContents(t, ts.addr, user, pass, "guichet/done")) == 3
	})
	r.stop(t)
	var got []string
	for _, dl := range d.deliveries() {
		got = append(got, dl.id)
	}
	if !slices.Equal(got, []string{"1@x", "2@x", "3@x"}) {
		t.Errorf("deliveries: got %v, want each message once, in order", got)
	}
	if l := folderContents(t, ts.addr, user, pass, "INBOX"); len(l) != 0 {
		t.Errorf("INBOX: got %v, want empty", ids(l))
	}
}

func TestQuarantinedGoToFailed(t *testing.T) {
	for _, after := range []string{AfterMove, AfterSeen} {
		t.Run(after, func(t *testing.T) {
			ts, box := setup(t, capsRev2)
			box.After = after
			box.FailedTo = "Quarantine/guichet"
			inbox := ts.userOf(user)
			appendTo(t, inbox, "INBOX", "ok1@x", "spam@x", "ok2@x")
			d, st := newFakeDeliverer(), newMemState()
			d.quarantine = func(id string) bool { return id == "spam@x" }
			p := newPoller(t, []Mailbox{*box}, d, st, nil, fastOptions(t))
			r := start(t, p)
			waitFor(t, 5*time.Second, "the quarantined message in FailedTo", func() bool {
				return len(folderContents(t, ts.addr, user, pass, "Quarantine/guichet")) == 1
			})
			waitFor(t, 5*time.Second, "the others handled", func() bool {
				return after == AfterSeen || len(folderContents(t, ts.addr, user, pass, "guichet/done")) == 2
			})
			r.stop(t)
			if got := ids(folderContents(t, ts.addr, user, pass, "Quarantine/guichet")); !slices.Equal(got, []string{"spam@x"}) {
				t.Errorf("FailedTo: got %v, want [spam@x]", got)
			}
			wantInbox := []string(nil)
			if after == AfterSeen {
				wantInbox = []string{"ok1@x", "ok2@x"}
			}
			if got := ids(folderContents(t, ts.addr, user, pass, "INBOX")); !slices.Equal(got, wantInbox) {
				t.Errorf("INBOX: got %v, want %v", got, wantInbox)
			}
		})
	}
}

func TestUIDValidityChange(t *testing.T) {
	ts, box := setup(t, capsRev2)
	box.After = AfterSeen
	inbox := ts.userOf(user)
	appendTo(t, inbox, "INBOX", "old1@x", "old2@x", "old3@x")
	d, st := newFakeDeliverer(), newMemState()
	p := newPoller(t, []Mailbox{*box}, d, st, nil, fastOptions(t))
	r := start(t, p)
	waitFor(t, 5*time.Second, "3 deliveries", func() bool { return d.distinct() == 3 })
	r.stop(t)
	v1, last := st.get("support")
	if last != 3 {
		t.Fatalf("last UID: got %d, want 3", last)
	}

	// The folder is re-created: new UIDVALIDITY, UIDs start from 1 again.
	if err := inbox.Delete("INBOX"); err != nil {
		t.Fatal(err)
	}
	if err := inbox.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	appendTo(t, inbox, "INBOX", "old2@x", "new1@x")
	r = start(t, newPoller(t, []Mailbox{*box}, d, st, nil, fastOptions(t)))
	waitFor(t, 5*time.Second, "new1 delivered", func() bool { return d.has("new1@x") })
	r.stop(t)
	v2, last := st.get("support")
	if v2 == v1 || last != 2 {
		t.Errorf("state: got validity %d (was %d), last UID %d; want a new validity, 2", v2, v1, last)
	}
	if got := d.distinct(); got != 4 {
		t.Errorf("distinct stored: got %d, want 4 (old2 again is a duplicate)", got)
	}
}

func TestUnreadableMessage(t *testing.T) {
	for _, sent := range []bool{false, true} {
		t.Run(fmt.Sprintf("sent=%v", sent), func(t *testing.T) {
			ts := newWrappedServer(t, capsRev1UID, nil, false, func(s imapserver.Session) imapserver.Session {
				return &brokenSession{Session: s, bad: 2}
			})
			u := ts.addUser(user, pass, "Sent")
			box := Mailbox{Name: "support", URL: ts.url(user, pass, "INBOX"), Schedule: "@every 1h"}
			folder, key := "INBOX", "support"
			st := newMemState()
			if sent {
				box.SentFolder = "Sent"
				folder, key = "Sent", "support/sent"
				st.m[key] = [2]uint32{2, 0} // known from before (Sent is the 2nd folder created): read from UID 1
			}
			appendTo(t, u, folder, "u1@x", "broken@x", "u3@x")
			d := newFakeDeliverer()
			p := newPoller(t, []Mailbox{box}, d, st, nil, fastOptions(t))
			r := start(t, p)
			waitFor(t, 5*time.Second, "u3 delivered", func() bool { return d.has("u3@x") })
			if !sent {
				waitFor(t, 5*time.Second, "the broken message in guichet/failed", func() bool {
					return len(folderContents(t, ts.addr, user, pass, "guichet/failed")) == 1 &&
						len(folderContents(t, ts.addr, user, pass, "INBOX")) == 0
				})
			}
			r.stop(t)
			if got := d.deliveries(); len(got) != 2 || got[0].id != "u1@x" || got[1].id != "u3@x" {
				t.Errorf("deliveries: got %+v, want u1 then u3", got)
			}
			if got := ts.count("UID FETCH 2 ("); got != unreadableStrikes {
				t.Errorf("FETCHes of the broken message alone: got %d, want %d", got, unreadableStrikes)
			}
			wantFailed, wantFolder := []string{"broken@x"}, []string(nil)
			if sent {
				wantFailed, wantFolder = nil, []string{"u1@x", "broken@x", "u3@x"}
			}
			if got := ids(folderContents(t, ts.addr, user, pass, "guichet/failed")); !slices.Equal(got, wantFailed) {
				t.Errorf("guichet/failed: got %v, want %v", got, wantFailed)
			}
			if got := ids(folderContents(t, ts.addr, user, pass, folder)); !slices.Equal(got, wantFolder) {
				t.Errorf("%s: got %v, want %v", folder, got, wantFolder)
			}
			if _, last := st.get(key); last != 3 {
				t.Errorf("last UID: got %d, want 3", last)
			}
		})
	}
}

func TestCrashAfterDeliver(t *testing.T) {
	for _, after := range []string{AfterMove, AfterSeen} {
		t.Run(after, func(t *testing.T) {
			ts, box := setup(t, capsRev2)
			box.After = after
			inbox := ts.userOf(user)
			want := []string{"c1@x", "c2@x", "c3@x"}
			appendTo(t, inbox, "INBOX", want...)
			d, st := newFakeDeliverer(), newMemState()
			ctx, cancel := context.WithCancel(context.Background())
			d.after = func(id string, m Meta) {
				if id == "c2@x" {
					cancel() // the process dies right after the commit of c2
				}
			}
			p := newPoller(t, []Mailbox{*box}, d, st, nil, fastOptions(t))
			if err := p.Run(ctx); err != nil {
				t.Fatalf("Run: got %v, want nil", err)
			}
			if got := ids(folderContents(t, ts.addr, user, pass, "INBOX")); !slices.Equal(got, want) {
				t.Fatalf("INBOX after the crash: got %v, want all 3 still there", got)
			}
			if _, last := st.get("support"); last != 0 {
				t.Fatalf("last UID after the crash: got %d, want 0 (not saved)", last)
			}

			d.after = nil
			r := start(t, newPoller(t, []Mailbox{*box}, d, st, nil, fastOptions(t)))
			waitFor(t, 5*time.Second, "c3 delivered", func() bool { return d.has("c3@x") })
			if after == AfterMove {
				waitFor(t, 5*time.Second, "all moved", func() bool {
					return len(folderContents(t, ts.addr, user, pass, "guichet/done")) == 3
				})
			}
			r.stop(t)
			if got := d.distinct(); got != len(want) {
				t.Errorf("distinct stored: got %d, want %d", got, len(want))
			}
			var dups []string
			for _, dl := range d.deliveries() {
				if dl.dup {
					dups = append(dups, dl.id)
				}
			}
			if !slices.Equal(dups, []string{"c1@x", "c2@x"}) {
				t.Errorf("duplicates the deliverer recognised: got %v, want [c1@x c2@x]", dups)
			}
			if after == AfterMove {
				if l := folderContents(t, ts.addr, user, pass, "INBOX"); len(l) != 0 {
					t.Errorf("INBOX: got %v, want empty", ids(l))
				}
			}
		})
	}
}

func TestIdlePickup(t *testing.T) {
	ts, box := setup(t, capsRev2)
	inbox := ts.userOf(user)
	d, st := newFakeDeliverer(), newMemState()
	p := newPoller(t, []Mailbox{*box}, d, st, nil, fastOptions(t))
	r := start(t, p)
	waitFor(t, 5*time.Second, "idle", func() bool { return p.Status()["support"].State == StateIdle })

	var got []time.Duration
	for i := range 3 {
		id := fmt.Sprintf("idle%d@x", i)
		time.Sleep(20 * time.Millisecond) // the server is in IDLE too
		t0 := time.Now()
		appendTo(t, inbox, "INBOX", id)
		waitFor(t, 2*time.Second, id+" delivered through IDLE", func() bool { return d.has(id) })
		got = append(got, time.Since(t0))
		waitFor(t, 2*time.Second, "idle again", func() bool { return p.Status()["support"].State == StateIdle })
	}
	t.Logf("IDLE pickup latency (in-memory server): %v", got)

	t0 := time.Now()
	r.stop(t)
	if el := time.Since(t0); el > time.Second {
		t.Errorf("Run returned %v after the cancel during IDLE, want < 1s", el)
	}
}

func TestIdleRestart(t *testing.T) {
	ts, box := setup(t, capsRev2)
	d, st := newFakeDeliverer(), newMemState()
	o := fastOptions(t)
	o.IdleRestart = 100 * time.Millisecond
	p := newPoller(t, []Mailbox{*box}, d, st, nil, o)
	r := start(t, p)
	waitFor(t, 5*time.Second, "IDLE issued 4 times", func() bool { return ts.count(" IDLE\r\n") >= 4 })
	appendTo(t, ts.userOf(user), "INBOX", "after-restarts@x")
	waitFor(t, 2*time.Second, "delivered", func() bool { return d.has("after-restarts@x") })
	r.stop(t)
	if got := ts.count("DONE\r\n"); got < 3 {
		t.Errorf("IDLE ended with DONE: got %d times, want ≥ 3", got)
	}
}

func TestPollWithoutIdle(t *testing.T) {
	ts, box := setup(t, capsRev2)
	box.Schedule = "@every 1s"
	inbox := ts.userOf(user)
	d, st := newFakeDeliverer(), newMemState()
	p := newPoller(t, []Mailbox{*box}, d, st, nil, fastOptions(t))
	p.noIdle = true
	r := start(t, p)
	waitFor(t, 5*time.Second, "idle", func() bool { return p.Status()["support"].State == StateIdle })
	appendTo(t, inbox, "INBOX", "polled@x")
	waitFor(t, 3*time.Second, "polled@x delivered on the schedule", func() bool { return d.has("polled@x") })
	r.stop(t)
}

func TestLockerOneAtATime(t *testing.T) {
	ts, box := setup(t, capsRev2)
	box.Schedule = "@every 1s"
	inbox := ts.userOf(user)
	var batch []string
	for i := range 40 {
		batch = append(batch, fmt.Sprintf("l%d@x", i))
	}
	appendTo(t, inbox, "INBOX", batch...)
	d, lk := newFakeDeliverer(), newMemLocker()
	d.delay = time.Millisecond
	st := newMemState()
	p1 := newPoller(t, []Mailbox{*box}, d, st, lk, fastOptions(t))
	p2 := newPoller(t, []Mailbox{*box}, d, st, lk, fastOptions(t))
	r1 := start(t, p1)
	r2 := start(t, p2)
	waitFor(t, 10*time.Second, "40 delivered", func() bool { return d.distinct() == 40 })
	// And moved: stopping the holder while its MOVE is in flight leaves the messages in INBOX,
	// to be delivered again by the other poller (the deliverer drops such duplicates), which
	// is not what this test is about.
	waitFor(t, 10*time.Second, "40 moved", func() bool {
		return len(folderContents(t, ts.addr, user, pass, "guichet/done")) == 40
	})
	waitFor(t, 5*time.Second, "one poller waiting for the lock", func() bool {
		return p1.Status()["support"].State == StateWaitingLock || p2.Status()["support"].State == StateWaitingLock
	})
	// Stop the holder: the other takes over.
	holder, other := r1, p2
	if p1.Status()["support"].State == StateWaitingLock {
		holder, other = r2, p1
	}
	holder.stop(t)
	appendTo(t, inbox, "INBOX", "after@x")
	waitFor(t, 10*time.Second, "the other poller takes over", func() bool { return d.has("after@x") })
	if got := other.Status()["support"].State; got == StateWaitingLock {
		t.Errorf("the remaining poller: got %q, want it to hold the lock", got)
	}
	d.mu.Lock()
	maxActive, calls := d.maxActive, d.calls
	d.mu.Unlock()
	if maxActive != 1 {
		t.Errorf("deliveries at once for one mailbox: got %d, want 1", maxActive)
	}
	if calls != 41 {
		t.Errorf("Deliver calls: got %d, want 41 (no message handled by both pollers)", calls)
	}
}

// TestLockLost: a poller whose lock is taken away (its database connection died) stops
// working on the mailbox at once, says so in its status, and goes on once it holds it again.
func TestLockLost(t *testing.T) {
	ts, box := setup(t, capsRev2)
	inbox := ts.userOf(user)
	appendTo(t, inbox, "INBOX", "before@x")
	d, lk, st := newFakeDeliverer(), newMemLocker(), newMemState()
	p := newPoller(t, []Mailbox{*box}, d, st, lk, fastOptions(t))
	r := start(t, p)
	waitFor(t, 5*time.Second, "idle after the first message", func() bool {
		return d.has("before@x") && p.Status()["support"].State == StateIdle
	})
	if !lk.lose("support") {
		t.Fatal("the poller does not hold the lock")
	}
	waitFor(t, 5*time.Second, "the loss in the status", func() bool {
		return strings.Contains(p.Status()["support"].LastError, "lost while held")
	})
	appendTo(t, inbox, "INBOX", "after@x")
	waitFor(t, 10*time.Second, "the mail that came after, with the lock taken again", func() bool { return d.has("after@x") })
	r.stop(t)
	if d.calls != 2 {
		t.Errorf("Deliver calls: got %d, want 2", d.calls)
	}
	if got := ids(folderContents(t, ts.addr, user, pass, "guichet/done")); !slices.Equal(got, []string{"before@x", "after@x"}) {
		t.Errorf("moved: got %v", got)
	}
}

func TestSentFolder(t *testing.T) {
	ts, box := setup(t, capsRev2, "Sent")
	box.SentFolder = "Sent"
	box.Schedule = "@every 1s" // see setup
	inbox := ts.userOf(user)
	appendTo(t, inbox, "Sent", "oldsent1@x", "oldsent2@x") // before guichet: not imported
	appendTo(t, inbox, "INBOX", "in@x")
	d, st := newFakeDeliverer(), newMemState()
	p := newPoller(t, []Mailbox{*box}, d, st, nil, fastOptions(t))
	r := start(t, p)
	waitFor(t, 5*time.Second, "both folders idle", func() bool {
		s := p.Status()
		return s["support"].State == StateIdle && s["support/sent"].State == StateIdle
	})
	appendTo(t, inbox, "Sent", "reply@x")
	waitFor(t, 5*time.Second, "the reply delivered", func() bool { return d.has("reply@x") })
	r.stop(t)

	for _, dl := range d.deliveries() {
		wantSent := dl.id == "reply@x"
		if dl.m.Sent != wantSent {
			t.Errorf("%s: got Sent %v, want %v", dl.id, dl.m.Sent, wantSent)
		}
		if wantSent && dl.m.Folder != "Sent" {
			t.Errorf("%s: got folder %q, want Sent", dl.id, dl.m.Folder)
		}
	}
	if d.has("oldsent1@x") || d.has("oldsent2@x") {
		t.Error("old sent mail was imported on the first start")
	}
	sent := folderContents(t, ts.addr, user, pass, "Sent")
	if got := ids(sent); !slices.Equal(got, []string{"oldsent1@x", "oldsent2@x", "reply@x"}) {
		t.Errorf("Sent: got %v, want the 3 messages still there", got)
	}
	for _, m := range sent {
		if m.seen {
			t.Errorf("Sent %s: got \\Seen, want untouched", m.id)
		}
	}
	if _, last := st.get("support/sent"); last != 3 {
		t.Errorf("support/sent last UID: got %d, want 3", last)
	}
	if !d.has("in@x") {
		t.Error("the INBOX was not read")
	}

	// The Sent folder is rebuilt (new UIDVALIDITY) with its whole history: not imported again.
	if err := inbox.Delete("Sent"); err != nil {
		t.Fatal(err)
	}
	if err := inbox.Create("Sent", nil); err != nil {
		t.Fatal(err)
	}
	appendTo(t, inbox, "Sent", "migrated1@x", "migrated2@x")
	p = newPoller(t, []Mailbox{*box}, d, st, nil, fastOptions(t))
	r = start(t, p)
	waitFor(t, 5*time.Second, "the Sent folder idle", func() bool { return p.Status()["support/sent"].State == StateIdle })
	appendTo(t, inbox, "Sent", "reply2@x")
	waitFor(t, 5*time.Second, "reply2 delivered", func() bool { return d.has("reply2@x") })
	r.stop(t)
	if d.has("migrated1@x") || d.has("migrated2@x") {
		t.Error("a rebuilt Sent folder was imported again")
	}
}

func TestOneFailingMailboxDoesNotStopOthers(t *testing.T) {
	ts, good := setup(t, capsRev2)
	good.Schedule = "@every 1s" // see setup
	bad := Mailbox{Name: "billing", URL: ts.url(user, "wrong password", "INBOX"), Schedule: "@every 1h"}
	gone := Mailbox{Name: "closed", URL: "imap://u:p@127.0.0.1:1/INBOX", Schedule: "@every 1h"} // nothing listens
	inbox := ts.userOf(user)
	appendTo(t, inbox, "INBOX", "g1@x")
	d, st := newFakeDeliverer(), newMemState()
	p := newPoller(t, []Mailbox{bad, *good, gone}, d, st, nil, fastOptions(t))
	r := start(t, p)
	waitFor(t, 5*time.Second, "g1 delivered", func() bool { return d.has("g1@x") })
	appendTo(t, inbox, "INBOX", "g2@x")
	waitFor(t, 5*time.Second, "g2 delivered", func() bool { return d.has("g2@x") })
	waitFor(t, 5*time.Second, "the failing mailboxes in backoff", func() bool {
		s := p.Status()
		return s["billing"].LastError != "" && s["closed"].LastError != ""
	})
	r.stop(t)
	s := p.Status()
	for _, tc := range []struct{ key, want string }{
		{"billing", "login"},
		{"closed", "connect"},
	} {
		got := s[tc.key]
		if !strings.Contains(got.LastError, tc.want) || got.LastErrorAt.IsZero() {
			t.Errorf("%s: got %+v, want LastError mentioning %q and its time", tc.key, got, tc.want)
		}
		if strings.Contains(got.LastError, "wrong password") {
			t.Errorf("%s: the error shows the password: %q", tc.key, got.LastError)
		}
		if got.State != StateStopped {
			t.Errorf("%s: got state %q after Run, want stopped", tc.key, got.State)
		}
	}
	if got := s["support"]; got.Processed != 2 || got.LastError != "" {
		t.Errorf("support: got %+v, want 2 processed and no error", got)
	}
	written := st.written("billing")
	if len(written) == 0 || !strings.Contains(written[len(written)-1].LastError, "login") {
		t.Errorf("billing statuses written: got %+v, want the login error", written)
	}
}

func TestTLS(t *testing.T) {
	srvCfg, cliCfg := selfSigned(t)
	for _, tc := range []struct {
		name     string
		implicit bool
		scheme   string
	}{
		{"imaps", true, "imaps"},
		{"STARTTLS", false, "imap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, capsRev2, srvCfg, tc.implicit)
			u := ts.addUser(user, pass)
			appendTo(t, u, "INBOX", "tls@x")
			// "localhost" is loopback, so imap:// would be plain: the test forces STARTTLS below.
			box := Mailbox{Name: "support", URL: ts.urlAs(tc.scheme, "localhost", user, pass, "INBOX"), TLSConfig: cliCfg}
			d := newFakeDeliverer()
			p := newPoller(t, []Mailbox{box}, d, newMemState(), nil, fastOptions(t))
			p.workers[0].ep.startTLS = !tc.implicit
			r := start(t, p)
			waitFor(t, 5*time.Second, "delivered over TLS", func() bool { return d.has("tls@x") })
			r.stop(t)
		})
	}
}

func TestTimeouts(t *testing.T) {
	// A server that accepts connections and never says anything.
	ln := newSilentListener(t)
	d, st := newFakeDeliverer(), newMemState()
	o := fastOptions(t)
	o.DialTimeout = 200 * time.Millisecond
	box := Mailbox{Name: "mute", URL: "imap://u:p@" + ln + "/INBOX"}
	p := newPoller(t, []Mailbox{box}, d, st, nil, o)
	r := start(t, p)
	waitFor(t, 3*time.Second, "a timeout in the status", func() bool {
		return strings.Contains(p.Status()["mute"].LastError, errTimeout.Error())
	})
	r.stop(t)
}

func TestRunTwice(t *testing.T) {
	_, box := setup(t, capsRev2)
	p := newPoller(t, []Mailbox{*box}, newFakeDeliverer(), newMemState(), nil, fastOptions(t))
	r := start(t, p)
	waitFor(t, 5*time.Second, "idle", func() bool { return p.Status()["support"].State == StateIdle })
	if err := p.Run(context.Background()); err == nil {
		t.Error("a second Run at once: got nil, want an error")
	}
	r.stop(t)
}
