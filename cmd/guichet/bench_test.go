package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"guichet/internal/testdb"
)

// The SMTP benchmark is a test that prints figures, run by hand (README, "Benchmarks"):
//
//	GUICHET_BENCH=1 GUICHET_TEST_POSTGRES=postgres://… go test ./cmd/guichet -run TestBench -v
//
// It sends N (GUICHET_BENCH_N, default 20,000) 4 KB messages from distinct senders over C
// (GUICHET_BENCH_C, default 8) connections to guichet serve on SQLite and on PostgreSQL, and to
// a bare go-smtp server that discards them, in the same run, and reports accepted messages per
// second and the latency from the end of DATA to the 250, p50 and p99.

type benchResult struct {
	name          string
	n             int
	elapsed       time.Duration
	p50, p99, max time.Duration
}

func (r benchResult) String() string {
	return fmt.Sprintf("%-28s %6d msgs in %6.2fs = %7.0f msgs/s, p50 %6.2f ms, p99 %6.2f ms, max %6.1f ms",
		r.name, r.n, r.elapsed.Seconds(), float64(r.n)/r.elapsed.Seconds(), ms(r.p50), ms(r.p99), ms(r.max))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchMessage is a 4 KB message from a sender of its own.
func benchMessage(i int) string {
	head := fmt.Sprintf("From: sender%d@client.example\r\nTo: support@crash.example\r\nSubject: benchmark %d\r\n"+
		"Message-ID: <%d.%d@bench.test>\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\n", i, i, i, time.Now().UnixNano())
	line := "The printer on the second floor prints blank pages since this morning, again.\r\n"
	var b strings.Builder
	b.WriteString(head)
	for b.Len() < 4096-len(line) {
		b.WriteString(line)
	}
	return b.String()
}

// smtpLoad sends n messages over c connections with a plain line-by-line client (so that the
// time from the final "." to the 250 is measured, nothing else) and returns the figures.
func smtpLoad(t *testing.T, name, addr string, n, c int) benchResult {
	t.Helper()
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	lat := make([]time.Duration, 0, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			r, w := bufio.NewReader(conn), bufio.NewWriter(conn)
			reply := func() string {
				var last string
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return "EOF " + err.Error()
					}
					last = line
					if len(line) < 4 || line[3] != '-' {
						return last
					}
				}
			}
			cmd := func(s string) string { w.WriteString(s + "\r\n"); w.Flush(); return reply() }
			reply()
			cmd("EHLO bench.test")
			var mine []time.Duration
			for i := range next {
				if !strings.HasPrefix(cmd(fmt.Sprintf("MAIL FROM:<sender%d@client.example>", i)), "250") ||
					!strings.HasPrefix(cmd("RCPT TO:<support@crash.example>"), "250") || !strings.HasPrefix(cmd("DATA"), "354") {
					t.Errorf("%s: refused message %d", name, i)
					return
				}
				w.WriteString(benchMessage(i))
				w.Flush()
				t0 := time.Now()
				if got := cmd("."); !strings.HasPrefix(got, "250") {
					t.Errorf("%s: message %d: %q", name, i, got)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			cmd("QUIT")
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res := benchResult{name: name, n: len(lat), elapsed: time.Since(start)}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		res.p50, res.p99, res.max = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	}
	return res
}

// discardBackend is the baseline: a bare go-smtp server that takes every message and drops it.
type discardBackend struct{}

func (discardBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return discardSession{}, nil }

type discardSession struct{}

func (discardSession) Mail(string, *smtp.MailOptions) error { return nil }
func (discardSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (discardSession) Data(r io.Reader) error               { _, err := io.Copy(io.Discard, r); return err }
func (discardSession) Reset()                               {}
func (discardSession) Logout() error                        { return nil }

func benchSize(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func TestBenchSMTP(t *testing.T) {
	if os.Getenv("GUICHET_BENCH") == "" {
		t.Skip("set GUICHET_BENCH=1 to run the SMTP benchmark")
	}
	n, c := benchSize("GUICHET_BENCH_N", 20000), benchSize("GUICHET_BENCH_C", 8)
	if dev := journalless(os.TempDir()); dev != "" {
		t.Logf("warning: the Maildir and SQLite go under %s, on %s, an ext4 without a journal: creating files costs several times more there (README, Benchmarks): set TMPDIR to a directory on a journaled filesystem to measure what production would", os.TempDir(), dev)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bare := smtp.NewServer(discardBackend{})
	bare.Domain, bare.AllowInsecureAuth = "bench.test", true
	go bare.Serve(ln)
	base := smtpLoad(t, "bare go-smtp (discards)", ln.Addr().String(), n, c)
	bare.Close()
	t.Log(base)
	var dbs []string
	only := os.Getenv("GUICHET_BENCH_DB") // "sqlite" or "postgres": only that one
	if only != "postgres" {
		dbs = append(dbs, t.TempDir()+"/bench.db")
	}
	if os.Getenv("GUICHET_TEST_POSTGRES") != "" && only != "sqlite" {
		dbs = append(dbs, testDB(t))
	}
	// GUICHET_BENCH_ACKS=maildir (default), smtp, or both: where the acknowledgements go. smtp is a
	// bare go-smtp relay that counts and discards them, which shows what guichet takes when
	// the Maildir's file creations (BenchmarkMaildirSend) are not on the same disk and cores.
	acks := strings.Split(envOr("GUICHET_BENCH_ACKS", "maildir"), ",")
	if acks[0] == "both" {
		acks = []string{"maildir", "smtp"}
	}
	for _, db := range dbs {
		for _, to := range acks {
			name := "guichet, SQLite"
			if strings.HasPrefix(db, "postgres") {
				name = "guichet, PostgreSQL"
			}
			extra := []string{"GUICHET_LOG_LEVEL=info", "GUICHET_NOTIFY_RATE_LIMIT=0"} // info: the group commit's figures at the end
			var relayed *countingBackend
			if to == "smtp" {
				relayed = &countingBackend{}
				rl, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				rs := smtp.NewServer(relayed)
				rs.Domain = "relay.test"
				go rs.Serve(rl)
				defer rs.Close()
				extra = append(extra, "GUICHET_RELAY=smtp://"+rl.Addr().String()+"?starttls=never")
				name += ", acks by SMTP"
			}
			srv := startServer(t, db, extra...)
			pid := srv.cmd.Process.Pid
			own0, pg0 := testdb.CPUOf(func(p int, _ string) bool { return p == pid }), testdb.PostgresCPU()
			res := smtpLoad(t, name, srv.smtp, n, c)
			own, pg := testdb.CPUOf(func(p int, _ string) bool { return p == pid })-own0, testdb.PostgresCPU()-pg0
			t.Logf("%s — %.0f%% of the bare server", res, 100*float64(res.n)/res.elapsed.Seconds()/(float64(base.n)/base.elapsed.Seconds()))
			// CPU time per message varies far less than throughput on a shared VM: compare these.
			t.Logf("%s: CPU per message: guichet %.2f ms, PostgreSQL %.2f ms (user + system, while the load ran)",
				name, ms(own)/float64(res.n), ms(pg)/float64(res.n))
			// Acknowledgements are on, as in production: one per message — unless the run switched
			// them off (GUICHET_NOTIFY_OFF=created), which waits for none.
			end := time.Now()
			got, wait := 0, 5*time.Minute
			if slices.Contains(strings.Split(os.Getenv("GUICHET_NOTIFY_OFF"), ","), "created") {
				wait = 0
			}
			for time.Since(end) < wait {
				if relayed != nil {
					got = int(relayed.n.Load())
				} else {
					files, _ := os.ReadDir(filepath.Join(srv.outbox, "new"))
					got = len(files)
				}
				if got >= res.n {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			t.Logf("%s: %d acknowledgements, the last %.1f s after the last 250", name, got, time.Since(end).Seconds())
			srv.stop()
			if gc := groupCommit(srv.log.Name()); gc != nil {
				// One commit at a time: busy near the load's whole time means the commits hold the
				// intake back; well below, the messages are what is late.
				busy, _ := time.ParseDuration(gc["busy"])
				t.Logf("%s: group commit: %s batches of %s messages, %s ms each, committing %.0f%% of the load's %.1f s",
					name, gc["batches"], gc["per_batch"], gc["commit_ms"], 100*busy.Seconds()/res.elapsed.Seconds(), res.elapsed.Seconds())
			}
		}
	}
}

// groupCommit reads the figures `guichet serve` logs about its group commit when it stops.
func groupCommit(logFile string) map[string]string {
	data, err := os.ReadFile(logFile)
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, `msg="group commit"`) {
			continue
		}
		kv := map[string]string{}
		for _, f := range strings.Fields(line) {
			if k, v, ok := strings.Cut(f, "="); ok {
				kv[k] = v
			}
		}
		return kv
	}
	return nil
}

// countingBackend is a relay for the benchmark's acknowledgements: it counts them and drops them.
type countingBackend struct{ n atomic.Int64 }

func (b *countingBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &countingSession{b: b}, nil
}

type countingSession struct{ b *countingBackend }

func (s *countingSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *countingSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *countingSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	if err == nil {
		s.b.n.Add(1)
	}
	return err
}
func (s *countingSession) Reset()        {}
func (s *countingSession) Logout() error { return nil }

// TestBenchMemory measures guichet serve's peak resident memory while it takes one 25 MB
// message over SMTP, above its resident memory when idle (Linux /proc).
func TestBenchMemory(t *testing.T) {
	if os.Getenv("GUICHET_BENCH") == "" {
		t.Skip("set GUICHET_BENCH=1 to run the memory benchmark")
	}
	srv := startServer(t, t.TempDir()+"/mem.db", "GUICHET_MAX_MESSAGE_SIZE=30MB", "GUICHET_LOG_LEVEL=error")
	time.Sleep(500 * time.Millisecond)
	idle := procKB(t, srv.cmd.Process.Pid, "VmRSS")
	// 25 MB: a short text and one base64 attachment.
	var b strings.Builder
	b.WriteString("From: big@client.example\r\nTo: support@crash.example\r\nSubject: a big one\r\nMessage-ID: <big@bench.test>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nHere is the dump.\r\n" +
		"--B\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=dump.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	line := strings.Repeat("QUJD", 19) + "\r\n" // 76 base64 characters a line
	for b.Len() < 25<<20-200 {
		b.WriteString(line)
	}
	b.WriteString("--B--\r\n")
	size := b.Len()
	c, err := smtp.Dial(srv.smtp)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("big@client.example", []string{"support@crash.example"}, strings.NewReader(b.String())); err != nil {
		t.Fatal(err)
	}
	c.Close()
	peak := procKB(t, srv.cmd.Process.Pid, "VmHWM")
	srv.stop()
	t.Logf("one %.1f MB message: idle RSS %.1f MB, peak RSS %.1f MB: %.1f MB above idle = %.2f× the message",
		float64(size)/(1<<20), float64(idle)/1024, float64(peak)/1024, float64(peak-idle)/1024, float64((peak-idle)*1024)/float64(size))
}

func procKB(t *testing.T, pid int, field string) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, field+":") {
			v, _ := strconv.Atoi(strings.Fields(line)[1])
			return v
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// journalless returns the device of the ext4 filesystem that holds dir when it has no journal
// (Linux: an ext4 with one has /proc/fs/jbd2/DEVICE-8), else "".
func journalless(dir string) string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	best, fstype, source := "", "", ""
	for _, line := range strings.Split(string(data), "\n") {
		// id parent major:minor root mount-point options … - fstype source super-options
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 2 {
			continue
		}
		mp := f[4]
		if (dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
			best, fstype, source = mp, g[0], g[1]
		}
	}
	if fstype != "ext4" {
		return ""
	}
	dev := filepath.Base(source)
	if _, err := os.Stat("/proc/fs/jbd2/" + dev + "-8"); err == nil {
		return ""
	}
	return dev
}
