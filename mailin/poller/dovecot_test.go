package poller

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	osuser "os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// dovecot is a throwaway Dovecot IMAP server on 127.0.0.1, set up as in
// /work/shared/notes/interop.md: every path under one folder, run in the foreground.
type dovecot struct {
	dir, addr  string
	user, pass string
}

// startDovecot skips the test unless GUICHET_TEST_DOVECOT=1 (or GUICHET_BENCH_IMAP=1), and fails
// it when Dovecot cannot start.
func startDovecot(t *testing.T) *dovecot {
	t.Helper()
	if !envSet("GUICHET_TEST_DOVECOT") && !envSet("GUICHET_BENCH_IMAP") {
		t.Skip("set GUICHET_TEST_DOVECOT=1 to run against a real Dovecot " +
			"(apt-get install dovecot-imapd; the test starts its own instance)")
	}
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		t.Fatalf("GUICHET_TEST_DOVECOT=1 but no dovecot: %v (apt-get install dovecot-imapd)", err)
	}
	// Not t.TempDir: Dovecot's unprivileged processes must be able to walk into it.
	dir, err := os.MkdirTemp("", "guichet-dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	dv := &dovecot{dir: dir, addr: fmt.Sprintf("127.0.0.1:%d", port), user: "alice", pass: "secret"}
	internalUser, internalGroup, loginUser, chroot := "dovecot", "dovecot", "dovenull", ""
	mailUID, mailGID := 65534, 65534
	if os.Geteuid() != 0 {
		me, err := osuser.Current()
		if err != nil {
			t.Fatal(err)
		}
		g, err := osuser.LookupGroupId(me.Gid)
		if err != nil {
			t.Fatal(err)
		}
		internalUser, internalGroup, loginUser = me.Username, g.Name, me.Username
		mailUID, _ = strconv.Atoi(me.Uid)
		mailGID, _ = strconv.Atoi(me.Gid)
		chroot = "service anvil {\n  chroot =\n}\nservice imap-login {\n  chroot =\n}\n"
	}
	conf := fmt.Sprintf(`instance_name = guichet-test-%[2]d
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = %[3]s
default_internal_group = %[4]s
default_login_user = %[5]s
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/users
}
userdb {
  driver = static
  args = uid=%[6]d gid=%[7]d home=%[1]s/mail/%%u
}
mail_location = maildir:~/Maildir
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[2]d
  }
  inet_listener imaps {
    port = 0
  }
}
%[8]s`, dir, port, internalUser, internalGroup, loginUser, mailUID, mailGID, chroot)
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("dovecot.conf", conf)
	write("users", dv.user+":{PLAIN}"+dv.pass+"\n")
	if err := os.Mkdir(filepath.Join(dir, "mail"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(dir, "mail"), mailUID, mailGID); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "-c", filepath.Join(dir, "dovecot.conf"), "-F")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its children in our own process group
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dovecot: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) // the master stops its children
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})

	// Wait for the greeting.
	deadline := time.Now().Add(15 * time.Second)
	for {
		if greeted(dv.addr) {
			return dv
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Fatalf("dovecot exited: %s\n%s", out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Fatalf("dovecot did not greet on %s within 15s: %s\n%s", dv.addr, out.String(), log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func greeted(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "* OK")
}

func (dv *dovecot) url(folder string) string {
	return "imap://" + dv.user + ":" + dv.pass + "@" + dv.addr + "/" + folder
}

func (dv *dovecot) client(t *testing.T) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(dv.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(dv.user, dv.pass).Wait(); err != nil {
		t.Fatal(err)
	}
	// Dovecot creates the Maildir when a folder is first opened.
	if _, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// appendIMAP appends messages with APPEND (slow, ~400/s, but as a real MTA would deliver).
func (dv *dovecot) appendIMAP(t *testing.T, c *imapclient.Client, folder string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		b := msg(id)
		cmd := c.Append(folder, int64(len(b)), nil)
		cmd.Write(b)
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatalf("APPEND %s: %v", id, err)
		}
	}
}

// writeMaildir writes n messages straight into INBOX's Maildir/new, far faster than APPEND;
// Dovecot indexes them when the folder is next opened (or notices them during IDLE).
func (dv *dovecot) writeMaildir(t *testing.T, prefix string, n int) {
	t.Helper()
	newDir := filepath.Join(dv.dir, "mail", dv.user, "Maildir", "new")
	st, err := os.Stat(filepath.Dir(newDir))
	if err != nil {
		t.Fatalf("Maildir not created yet (log in once first): %v", err)
	}
	uid, gid := int(st.Sys().(*syscall.Stat_t).Uid), int(st.Sys().(*syscall.Stat_t).Gid)
	now := time.Now().Unix()
	for i := range n {
		b := msg(fmt.Sprintf("%s%05d@x", prefix, i))
		name := filepath.Join(newDir, fmt.Sprintf("%d.M%dP%d.%s%05d,S=%d", now, i, os.Getpid(), prefix, i, len(b)))
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chown(name, uid, gid)
	}
}

func TestDovecot(t *testing.T) {
	dv := startDovecot(t)
	c := dv.client(t)
	if err := c.Create("Sent", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	caps := c.Caps()
	for _, cp := range []imap.Cap{imap.CapIdle, imap.CapMove, imap.CapUIDPlus} {
		if !caps.Has(cp) {
			t.Errorf("Dovecot: got no %s, want it", cp)
		}
	}
	dv.appendIMAP(t, c, "Sent", "oldsent@x")
	want := []string{"d1@x", "d2@x", "spam@x", "d3@x"}
	dv.appendIMAP(t, c, "INBOX", want...)

	d, st := newFakeDeliverer(), newMemState()
	d.quarantine = func(id string) bool { return id == "spam@x" }
	box := Mailbox{Name: "support", URL: dv.url("INBOX"), SentFolder: "Sent"}
	p := newPoller(t, []Mailbox{box}, d, st, nil, fastOptions(t))
	r := start(t, p)

	contents := func(folder string) []string { return ids(folderContents(t, dv.addr, dv.user, dv.pass, folder)) }
	// Dovecot's Maildir delimiter is ".": guichet/done is guichet.done there.
	waitFor(t, 10*time.Second, "the backlog moved", func() bool {
		return len(contents("guichet.done")) == 3 && len(contents("guichet.failed")) == 1
	})
	var got []string
	for _, dl := range d.deliveries() {
		got = append(got, dl.id)
	}
	if !slices.Equal(got, want) {
		t.Errorf("delivered: got %v, want %v in UID order", got, want)
	}
	if got := contents("INBOX"); len(got) != 0 {
		t.Errorf("INBOX: got %v, want empty", got)
	}
	if got := contents("guichet.failed"); !slices.Equal(got, []string{"spam@x"}) {
		t.Errorf("guichet.failed: got %v, want [spam@x]", got)
	}
	if d.has("oldsent@x") {
		t.Error("old sent mail was imported")
	}

	// IDLE: messages APPENDed by another connection are picked up at once.
	waitFor(t, 5*time.Second, "idle", func() bool {
		s := p.Status()
		return s["support"].State == StateIdle && s["support/sent"].State == StateIdle
	})
	lat := idleLatencies(t, dv, c, d, p, "INBOX", 5)
	t.Logf("Dovecot IDLE pickup latency: %v", lat)
	for _, l := range lat {
		if l > 2*time.Second {
			t.Errorf("IDLE pickup: got %v, want < 2s", l)
		}
	}

	// The Sent folder: delivered with Sent=true, left where it is.
	dv.appendIMAP(t, c, "Sent", "reply@x")
	waitFor(t, 5*time.Second, "the reply delivered", func() bool { return d.has("reply@x") })
	for _, dl := range d.deliveries() {
		if dl.id == "reply@x" && (!dl.m.Sent || dl.m.Folder != "Sent") {
			t.Errorf("reply@x: got %+v, want Sent from Sent", dl.m)
		}
	}
	if got := contents("Sent"); !slices.Equal(got, []string{"oldsent@x", "reply@x"}) {
		t.Errorf("Sent: got %v, want both messages still there", got)
	}

	// Files dropped straight into Maildir/new while idle.
	dv.writeMaildir(t, "drop", 300)
	waitFor(t, 10*time.Second, "300 dropped messages", func() bool { return d.distinct() == 4+5+1+300 })
	waitFor(t, 10*time.Second, "INBOX empty", func() bool { return len(contents("INBOX")) == 0 })
	r.stop(t)

	// A restart reads nothing again.
	calls := len(d.deliveries())
	r = start(t, newPoller(t, []Mailbox{box}, d, st, nil, fastOptions(t)))
	waitFor(t, 5*time.Second, "idle", func() bool { return r.p.Status()["support"].State == StateIdle })
	r.stop(t)
	if got := len(d.deliveries()); got != calls {
		t.Errorf("deliveries after a restart: got %d, want %d (nothing new)", got, calls)
	}
}

// idleLatencies appends n messages one by one and measures how long each takes to be delivered.
func idleLatencies(t *testing.T, dv *dovecot, c *imapclient.Client, d *fakeDeliverer, p *Poller, folder string, n int) []time.Duration {
	t.Helper()
	var out []time.Duration
	for i := range n {
		id := fmt.Sprintf("idle%d-%d@x", time.Now().UnixNano(), i)
		t0 := time.Now()
		dv.appendIMAP(t, c, folder, id)
		waitFor(t, 5*time.Second, id+" through IDLE", func() bool { return d.has(id) })
		out = append(out, time.Since(t0))
		waitFor(t, 5*time.Second, "idle again", func() bool { return p.Status()["support"].State == StateIdle })
		time.Sleep(50 * time.Millisecond) // well inside IDLE
	}
	return out
}

// countingDeliverer stores nothing and counts.
type countingDeliverer struct{ n atomic.Int64 }

func (d *countingDeliverer) Deliver(context.Context, []byte, Meta) (bool, error) {
	d.n.Add(1)
	return false, nil
}

// TestDovecotBacklog measures how fast a backlog of 10,000 messages drains from Dovecot, with a
// Deliverer that only counts (GUICHET_BENCH_IMAP=1), and the IDLE pickup latency.
func TestDovecotBacklog(t *testing.T) {
	if !envSet("GUICHET_BENCH_IMAP") {
		t.Skip("set GUICHET_BENCH_IMAP=1 to measure the drain of a 10,000-message backlog from Dovecot")
	}
	const n = 10000
	for _, after := range []string{AfterMove, AfterSeen} {
		t.Run(after, func(t *testing.T) {
			dv := startDovecot(t)
			c := dv.client(t)
			dv.writeMaildir(t, "bk", n)
			t0 := time.Now()
			data, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait() // Dovecot indexes new/
			if err != nil {
				t.Fatal(err)
			}
			if data.NumMessages != n {
				t.Fatalf("INBOX: got %d messages, want %d", data.NumMessages, n)
			}
			t.Logf("Dovecot indexed %d files from Maildir/new in %v", n, time.Since(t0))
			c.Unselect().Wait()

			d := &countingDeliverer{}
			box := Mailbox{Name: "support", URL: dv.url("INBOX"), After: after, Schedule: "@every 1h"}
			o := fastOptions(t)
			o.Logger = slog.New(slog.DiscardHandler) // a log line per message would be measured too
			p := newPoller(t, []Mailbox{box}, d, newMemState(), nil, o)
			t0 = time.Now()
			r := start(t, p)
			waitFor(t, 120*time.Second, "the backlog drained", func() bool {
				s := p.Status()["support"]
				return s.Processed == n && s.State == StateIdle
			})
			el := time.Since(t0)
			rate := float64(n) / el.Seconds()
			t.Logf("After=%s: %d messages drained (fetched, delivered, %s) in %v: %.0f messages/s",
				after, n, map[string]string{AfterMove: "moved", AfterSeen: "flagged \\Seen"}[after], el.Round(time.Millisecond), rate)
			if rate < 1000 {
				t.Errorf("drain rate: got %.0f messages/s, want ≥ 1000", rate)
			}
			if after == AfterMove {
				if got := len(folderContents(t, dv.addr, dv.user, dv.pass, "INBOX")); got != 0 {
					t.Errorf("INBOX: got %d messages, want 0", got)
				}
			}
			if got := d.n.Load(); got != n {
				t.Errorf("deliveries: got %d, want %d", got, n)
			}

			// IDLE pickup latency, 20 samples.
			var lat []time.Duration
			for i := range 20 {
				before := d.n.Load()
				t0 := time.Now()
				dv.appendIMAP(t, c, "INBOX", fmt.Sprintf("lat%d@x", i))
				waitFor(t, 5*time.Second, "pickup", func() bool { return d.n.Load() > before })
				lat = append(lat, time.Since(t0))
				waitFor(t, 5*time.Second, "idle", func() bool { return p.Status()["support"].State == StateIdle })
				time.Sleep(50 * time.Millisecond)
			}
			slices.Sort(lat)
			t.Logf("IDLE pickup latency over %d appends: min %v, median %v, max %v", len(lat), lat[0], lat[len(lat)/2], lat[len(lat)-1])
			r.stop(t)
		})
	}
}
