package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"guichet/store"
)

// imapBacklog starts an in-process IMAP server (which outlives the guichet processes the test
// kills) with n messages in support's INBOX, and returns its address.
func imapBacklog(t *testing.T, n int) string {
	t.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("support", "secret")
	if err := u.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := u.Append("INBOX", bytes.NewReader([]byte(crashMail(i))), &imap.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// inboxCount asks the IMAP server how many messages are left in INBOX.
func inboxCount(t *testing.T, addr string) uint32 {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("support", "secret").Wait(); err != nil {
		t.Fatal(err)
	}
	d, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return d.NumMessages
}

// TestCrashIMAP drains a backlog of N messages (GUICHET_CRASH_N, default 300; 5000 for the full
// run) from an IMAP mailbox and kills guichet with SIGKILL in the middle: at the end the INBOX
// is empty and every message is stored exactly once.
func TestCrashIMAP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts guichet serve")
	}
	n := 300
	if v, err := strconv.Atoi(os.Getenv("GUICHET_CRASH_N")); err == nil && v > 0 {
		n = v
	}
	addr := imapBacklog(t, n)
	db := testDB(t)
	cfg := filepath.Join(t.TempDir(), "guichet.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("[[mailboxes]]\nname = \"support\"\nurl = \"imap://%s@%s/INBOX\"\ninsecure = true\nschedule = \"@every 1s\"\n",
		url.UserPassword("support", "secret"), addr)), 0o644)
	srv := startServer(t, db, "GUICHET_CONFIG="+cfg, "GUICHET_SMTP_ADDR=off")
	s, err := store.Open(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	count := func() int {
		ts, err := s.Tickets(context.Background(), store.Filter{})
		if err != nil {
			return 0 // the schema may not exist yet
		}
		return len(ts)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for count() < n/2 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d messages stored after 3 minutes; see the serve log", count(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	stored := count()
	srv.kill()
	srv.start()
	for count() < n || inboxCount(t, addr) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d stored, %d left in INBOX after 3 minutes", count(), inboxCount(t, addr))
		}
		time.Sleep(50 * time.Millisecond)
	}
	srv.stop()
	numbers := map[int64]bool{}
	for i := range n {
		num, err := s.TicketByMessageID(context.Background(), []string{fmt.Sprintf("%d@crash.test", i)})
		if err != nil || num == 0 || numbers[num] {
			t.Fatalf("message %d: ticket %d (%v): missing or shared", i, num, err)
		}
		numbers[num] = true
	}
	if c := count(); c != n {
		t.Errorf("%d tickets for %d messages", c, n)
	}
	t.Logf("IMAP backlog of %d, SIGKILL after %d were stored: %d stored, each once, INBOX empty", n, stored, n)
}
