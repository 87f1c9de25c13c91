package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"guichet/store"
)

// server is a `guichet serve` subprocess that a test can kill and restart.
type server struct {
	t      *testing.T
	bin    string
	env    []string
	cmd    *exec.Cmd
	smtp   string
	http   string
	outbox string // the Maildir the notifications go to
	log    *os.File
}

func startServer(t *testing.T, db string, extra ...string) *server {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "guichet.toml")
	os.WriteFile(cfg, nil, 0o644)
	s := &server{t: t, bin: guichetBinary(t), smtp: freeAddr(t), http: freeAddr(t), outbox: filepath.Join(dir, "outbox")}
	s.env = append(os.Environ(), "GUICHET_DB="+db, "GUICHET_CONFIG="+cfg, "GUICHET_SMTP_ADDR="+s.smtp,
		"GUICHET_RELAY=maildir:"+s.outbox, "GUICHET_BASE_URL=http://"+s.http,
		"GUICHET_HTTP_ADDR="+s.http, "GUICHET_SUPPORT_ADDRESSES=support@crash.example",
		"GUICHET_NOREPLY_ADDRESS=noreply@crash.example", "GUICHET_FLOOD_LIMIT=0", "GUICHET_LOG_LEVEL=warn")
	s.env = append(s.env, extra...)
	s.log, _ = os.Create(filepath.Join(dir, "serve.log"))
	s.start()
	t.Cleanup(func() {
		if s.cmd != nil && s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
	})
	return s
}

func (s *server) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "serve")
	s.cmd.Env, s.cmd.Stdout, s.cmd.Stderr = s.env, s.log, s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	// Ready when /healthz answers: by then the store is migrated and the mail listeners started.
	for range 300 {
		if r, err := http.Get("http://" + s.http + "/healthz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("guichet serve did not answer on %s; see %s", s.http, s.log.Name())
}

// kill sends SIGKILL: no shutdown, no flush, as a crash.
func (s *server) kill() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			s.t.Errorf("serve exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		s.kill()
		s.t.Errorf("serve did not stop within 30 s of SIGTERM")
	}
}

func crashMail(i int) string {
	return fmt.Sprintf("From: user%d@client.example\r\nTo: support@crash.example\r\nSubject: crash test %d\r\n"+
		"Message-ID: <%d@crash.test>\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\n%s\r\n", i, i, i, strings.Repeat("Lorem ipsum dolor sit amet. ", 20))
}

// sendOne delivers message i over a connection it keeps; false when it must be retried.
func sendOne(c **smtp.Client, addr string, i int) bool {
	if *c == nil {
		cl, err := smtp.Dial(addr)
		if err != nil {
			return false
		}
		*c = cl
	}
	fail := func() bool { (*c).Close(); *c = nil; return false }
	if err := (*c).Mail(fmt.Sprintf("user%d@client.example", i), nil); err != nil {
		return fail()
	}
	if err := (*c).Rcpt("support@crash.example", nil); err != nil {
		return fail()
	}
	w, err := (*c).Data()
	if err != nil {
		return fail()
	}
	if _, err := w.Write([]byte(crashMail(i))); err != nil {
		return fail()
	}
	if err := w.Close(); err != nil { // the reply to DATA: only a 250 counts
		return fail()
	}
	return true
}

// TestCrashSMTP sends N messages over 8 SMTP connections while guichet is killed with SIGKILL
// twice and restarted; senders retry what was not accepted. Every accepted message must be
// stored exactly once, and none missing. N is GUICHET_CRASH_N (default 300; 5000 for the full run).
func TestCrashSMTP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts guichet serve")
	}
	n := 300
	if v, err := strconv.Atoi(os.Getenv("GUICHET_CRASH_N")); err == nil && v > 0 {
		n = v
	}
	db := testDB(t)
	mig := exec.Command(guichetBinary(t), "migrate")
	mig.Env = append(os.Environ(), "GUICHET_DB="+db, "GUICHET_CONFIG=/dev/null")
	if out, err := mig.CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v %s", err, out)
	}
	srv := startServer(t, db)
	var accepted atomic.Int64
	work := make(chan int, n)
	for i := range n {
		work <- i
	}
	var pending sync.WaitGroup
	pending.Add(n)
	var killing sync.RWMutex // held for writing while the server is down
	stopSenders := make(chan struct{})
	var senders sync.WaitGroup
	retries := atomic.Int64{}
	for range 8 {
		senders.Add(1)
		go func() {
			defer senders.Done()
			var c *smtp.Client
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			for {
				select {
				case i := <-work:
					killing.RLock()
					ok := sendOne(&c, srv.smtp, i)
					killing.RUnlock()
					if ok {
						accepted.Add(1)
						pending.Done()
					} else {
						retries.Add(1)
						time.Sleep(20 * time.Millisecond)
						work <- i
					}
				case <-stopSenders:
					return
				}
			}
		}()
	}
	kills := 0
	for _, at := range []int64{int64(n) / 3, 2 * int64(n) / 3} {
		for accepted.Load() < at {
			time.Sleep(5 * time.Millisecond)
		}
		srv.kill() // senders in the middle of a message see the connection die and retry it
		kills++
		killing.Lock()
		srv.start()
		killing.Unlock()
	}
	waited := make(chan struct{})
	go func() { pending.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(5 * time.Minute):
		t.Fatalf("only %d of %d messages accepted after 5 minutes", accepted.Load(), n)
	}
	close(stopSenders)
	senders.Wait()
	srv.stop()

	s, err := store.Open(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all, err := s.Tickets(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	numbers := map[int64]bool{}
	for i := range n {
		num, err := s.TicketByMessageID(context.Background(), []string{fmt.Sprintf("%d@crash.test", i)})
		if err != nil || num == 0 {
			t.Fatalf("message %d accepted but not stored (%v)", i, err)
		}
		if numbers[num] {
			t.Fatalf("message %d stored on ticket %d, which another message has too", i, num)
		}
		numbers[num] = true
	}
	if len(all) != n {
		t.Errorf("%d tickets for %d messages: some stored twice", len(all), n)
	}
	t.Logf("%d messages over SMTP, %d SIGKILLs, %d retries by the senders: %d stored, each once", n, kills, retries.Load(), len(all))
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
