package relay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func readDir(t *testing.T, dir string) []os.DirEntry {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestMaildirConcurrentSends(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "outbox") // parents do not exist yet
	tr := openT(t, "maildir:"+dir, Options{})
	for _, sub := range []string{"tmp", "new", "cur"} {
		fi, err := os.Stat(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); !fi.IsDir() || perm != 0o700 {
			t.Errorf("%s: mode %v, want a 0700 directory", sub, fi.Mode())
		}
	}

	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			msg := fmt.Sprintf("Subject: message %d\r\n\r\nbody %d\r\n", i, i)
			errs <- tr.Send(context.Background(), "guichet@example.com", []string{fmt.Sprintf("user%d@example.org", i)}, []byte(msg))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	if left := readDir(t, filepath.Join(dir, "tmp")); len(left) != 0 {
		t.Errorf("tmp/ holds %d files after delivery, want none", len(left))
	}
	files := readDir(t, filepath.Join(dir, "new"))
	if len(files) != n {
		t.Fatalf("new/ holds %d files, want %d", len(files), n)
	}
	nameRE := regexp.MustCompile(`^[0-9]+\.[0-9]+_[0-9]+\.[^/:]+$`)
	seen := make(map[int]bool)
	for _, f := range files {
		if !nameRE.MatchString(f.Name()) {
			t.Errorf("file name %q is not <unixnano>.<pid>_<counter>.<host>", f.Name())
		}
		data, err := os.ReadFile(filepath.Join(dir, "new", f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var i int
		if _, err := fmt.Sscanf(string(data[strings.Index(string(data), "Subject:"):]), "Subject: message %d", &i); err != nil {
			t.Fatalf("%s: %v\n%s", f.Name(), err, data)
		}
		want := fmt.Sprintf("Return-Path: <guichet@example.com>\r\nDelivered-To: user%d@example.org\r\n"+
			"Subject: message %d\r\n\r\nbody %d\r\n", i, i, i)
		if string(data) != want {
			t.Errorf("%s:\n got %q\nwant %q", f.Name(), data, want)
		}
		if seen[i] {
			t.Errorf("message %d written twice", i)
		}
		seen[i] = true
	}
	if fi, err := os.Stat(filepath.Join(dir, "new", files[0].Name())); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("message file mode %v (%v), want 0600", fi.Mode(), err)
	}
}

// TestMaildirSendBatch: a batch is written whole with one sync of the files and one of new/;
// an envelope without recipients fails alone; when the moves fail, every message of the batch
// fails, temporarily, and nothing is left in tmp/.
func TestMaildirSendBatch(t *testing.T) {
	dir := t.TempDir()
	tr := openT(t, "maildir:"+dir, Options{}).(*maildirTransport)
	var fileSyncs, dirSyncs atomic.Int64
	files, dirs := tr.files.fn, tr.newDir.fn
	tr.files.fn = func() error { fileSyncs.Add(1); return files() }
	tr.newDir.fn = func() error { dirSyncs.Add(1); return dirs() }
	const n = 50
	var es []Envelope
	for i := range n {
		es = append(es, Envelope{From: "guichet@example.com", To: []string{fmt.Sprintf("user%d@example.org", i)},
			Msg: fmt.Appendf(nil, "Subject: message %d\r\n\r\nbody\r\n", i)})
	}
	es[7].To = nil
	errs := tr.SendBatch(context.Background(), es)
	for i, err := range errs {
		if (err != nil) != (i == 7) {
			t.Errorf("message %d: %v", i, err)
		}
	}
	if !IsPermanent(errs[7]) {
		t.Errorf("no recipients: %v, want a permanent error", errs[7])
	}
	if got := readDir(t, filepath.Join(dir, "new")); len(got) != n-1 {
		t.Fatalf("new/ holds %d files, want %d", len(got), n-1)
	}
	for _, f := range readDir(t, filepath.Join(dir, "new")) {
		data, _ := os.ReadFile(filepath.Join(dir, "new", f.Name()))
		var i int
		if _, err := fmt.Sscanf(string(data), "Return-Path: <guichet@example.com>\r\nDelivered-To: user%d@example.org\r\nSubject: message", &i); err != nil || i == 7 {
			t.Errorf("%s: %q (%v)", f.Name(), data, err)
		}
	}
	if left := readDir(t, filepath.Join(dir, "tmp")); len(left) != 0 {
		t.Errorf("tmp/ holds %d files, want none", len(left))
	}
	wantFiles := int64(1)
	if !syncFS {
		wantFiles = 0 // each file is synced as it is written
	}
	if fileSyncs.Load() != wantFiles || dirSyncs.Load() != 1 {
		t.Errorf("%d syncs of the files and %d of new/ for one batch, want %d and 1", fileSyncs.Load(), dirSyncs.Load(), wantFiles)
	}

	if err := os.RemoveAll(filepath.Join(dir, "new")); err != nil {
		t.Fatal(err)
	}
	for i, err := range tr.SendBatch(context.Background(), es[:3]) {
		if err == nil || IsPermanent(err) {
			t.Errorf("message %d, new/ gone: %v, want a temporary error", i, err)
		}
	}
	if left := readDir(t, filepath.Join(dir, "tmp")); len(left) != 0 {
		t.Errorf("after failed moves tmp/ holds %d files, want none", len(left))
	}
}

func TestMaildirHeaders(t *testing.T) {
	tests := []struct {
		name string
		from string
		to   []string
		msg  string
		want string
	}{
		{name: "CRLF message", from: "a@example.com", to: []string{"b@example.org"},
			msg:  "Subject: x\r\n\r\nhi\r\n",
			want: "Return-Path: <a@example.com>\r\nDelivered-To: b@example.org\r\nSubject: x\r\n\r\nhi\r\n"},
		{name: "LF message keeps LF", from: "a@example.com", to: []string{"b@example.org"},
			msg:  "Subject: x\n\nhi\n",
			want: "Return-Path: <a@example.com>\nDelivered-To: b@example.org\nSubject: x\n\nhi\n"},
		{name: "null sender, two recipients", from: "", to: []string{"b@example.org", "c@example.org"},
			msg: "Subject: x\r\n\r\nhi\r\n",
			want: "Return-Path: <>\r\nDelivered-To: b@example.org\r\nDelivered-To: c@example.org\r\n" +
				"Subject: x\r\n\r\nhi\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tr := openT(t, "maildir:"+dir, Options{})
			if err := tr.Send(context.Background(), tt.from, tt.to, []byte(tt.msg)); err != nil {
				t.Fatal(err)
			}
			files := readDir(t, filepath.Join(dir, "new"))
			if len(files) != 1 {
				t.Fatalf("new/ holds %d files, want 1", len(files))
			}
			data, err := os.ReadFile(filepath.Join(dir, "new", files[0].Name()))
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != tt.want {
				t.Errorf("got %q\nwant %q", data, tt.want)
			}
		})
	}
}

func TestMaildirErrors(t *testing.T) {
	dir := t.TempDir()
	tr := openT(t, "maildir:"+dir, Options{})

	err := tr.Send(context.Background(), "a@example.com", []string{"b@example.org\nBcc: x@example.net"}, []byte("x\r\n"))
	if !IsPermanent(err) {
		t.Errorf("header injection through a recipient: got %v, want a permanent error", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = tr.Send(ctx, "a@example.com", []string{"b@example.org"}, []byte("x\r\n"))
	asError(t, err)
	if err == nil || IsPermanent(err) {
		t.Errorf("cancelled context: got %v, want a temporary error", err)
	}

	if err := os.RemoveAll(filepath.Join(dir, "tmp")); err != nil {
		t.Fatal(err)
	}
	err = tr.Send(context.Background(), "a@example.com", []string{"b@example.org"}, []byte("x\r\n"))
	if e := asError(t, err); e.Permanent || !strings.Contains(err.Error(), "maildir:"+dir) {
		t.Errorf("missing tmp/: got %v, want a temporary error naming the Maildir", err)
	}

	tr.Close()
	if err := tr.Send(context.Background(), "a@example.com", []string{"b@example.org"}, []byte("x\r\n")); err == nil {
		t.Error("Send after Close succeeded")
	}
	if files := readDir(t, filepath.Join(dir, "new")); len(files) != 0 {
		t.Errorf("new/ holds %d files, want none", len(files))
	}
}

// BenchmarkMaildirSend writes 6 KB acknowledgements into a Maildir from 1 and 8 goroutines, and
// in batches of 64 as the sender does, and reports files per second and the process's CPU time (user + system) per file: on a disk where
// creating an inode is expensive, that is the ceiling of a Maildir outbox.
//
//	go test ./mailout/relay -run '^$' -bench BenchmarkMaildirSend -benchtime 3000x
func BenchmarkMaildirSend(b *testing.B) {
	msg := []byte(strings.Repeat("The printer on the second floor prints blank pages.\r\n", 115))
	for _, workers := range []int{1, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			tr, err := Open("maildir:"+b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			cpu0 := processCPU()
			b.ResetTimer()
			var next atomic.Int64
			var wg sync.WaitGroup
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if err := tr.Send(context.Background(), "noreply@example.com", []string{"c@example.com"}, msg); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
			b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/file")
		})
	}
	// As the sender writes a claim: batches of 64, one SendBatch each.
	b.Run("batch=64", func(b *testing.B) {
		tr, err := Open("maildir:"+b.TempDir(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		cpu0 := processCPU()
		b.ResetTimer()
		for sent := 0; sent < b.N; {
			var es []Envelope
			for ; len(es) < 64 && sent < b.N; sent++ {
				es = append(es, Envelope{From: "noreply@example.com", To: []string{"c@example.com"}, Msg: msg})
			}
			for _, err := range tr.(BatchTransport).SendBatch(context.Background(), es) {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
		b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/file")
	})
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestGroupSync: a sync returns only after a run that saw the caller's change, one run serves
// many callers, and its error reaches each of them.
func TestGroupSync(t *testing.T) {
	var changes, covered, runs atomic.Int64
	fail := atomic.Bool{}
	g := newGroupSync(func() error {
		runs.Add(1)
		seen := changes.Load() // what this run makes durable
		time.Sleep(2 * time.Millisecond)
		covered.Store(seen)
		if fail.Load() {
			return errors.New("disk on fire")
		}
		return nil
	})
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			mine := changes.Add(1)
			if err := g.sync(); err != nil {
				t.Error(err)
			}
			if c := covered.Load(); c < mine {
				t.Errorf("sync returned after a run that saw %d changes, before change %d", c, mine)
			}
		})
	}
	wg.Wait()
	if n := runs.Load(); n < 1 || n > 25 {
		t.Errorf("%d runs for 50 concurrent callers, want them shared", n)
	}
	fail.Store(true)
	if err := g.sync(); err == nil || err.Error() != "disk on fire" {
		t.Errorf("sync after a failing run: %v", err)
	}
}
