package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maildirSeq numbers the files written by this process, across transports.
var maildirSeq atomic.Uint64

// maildirTransport writes each message as a file in a Maildir, for machines
// without a relay: a newcomer can read what guichet sends with any mail
// client, or with less.
type maildirTransport struct {
	name   string // "maildir:" + dir as given
	dir    string
	host   string // for file names, with '/' and ':' escaped
	closed atomic.Bool
	newDir *dirSyncer // makes the renames into new/ durable, several at once
}

// openMaildir opens the Maildir at path (the part after "maildir:"),
// creating tmp/, new/ and cur/ if needed.
func openMaildir(path string, _ Options) (Transport, error) {
	dir := path
	if rest, ok := strings.CutPrefix(path, "//"); ok {
		// maildir:///abs/path, the URL form of an absolute path.
		if !strings.HasPrefix(rest, "/") {
			return nil, fmt.Errorf("relay: maildir URL %q names a host; use maildir:PATH or maildir:///absolute/path", "maildir:"+path)
		}
		dir = rest
	}
	if dir == "" {
		return nil, errors.New("relay: maildir URL has no path (want maildir:PATH, e.g. maildir:./outbox)")
	}
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("relay: cannot create Maildir: %v", err)
		}
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
	return &maildirTransport{name: "maildir:" + path, dir: dir, host: host, newDir: newDirSyncer(filepath.Join(dir, "new"))}, nil
}

// String returns the URL.
func (t *maildirTransport) String() string { return t.name }

// Close makes later sends fail. Nothing is held open.
func (t *maildirTransport) Close() error {
	t.closed.Store(true)
	return nil
}

// Send writes msg to tmp/, syncs it, moves it to new/ and syncs new/, with
// Return-Path and Delivered-To header lines in front, as a delivery agent
// would add them.
func (t *maildirTransport) Send(ctx context.Context, from string, to []string, msg []byte) error {
	if err := checkEnvelope(from, to); err != nil {
		return &Error{relay: t.name, Permanent: true, Message: err.Error(), Err: err}
	}
	if err := ctx.Err(); err != nil {
		return classify(ctx, t.name, err)
	}
	if t.closed.Load() {
		return &Error{relay: t.name, Message: "transport is closed"}
	}
	if err := t.write(from, to, msg); err != nil {
		return &Error{relay: t.name, Message: err.Error(), Err: err}
	}
	return nil
}

func (t *maildirTransport) write(from string, to []string, msg []byte) error {
	eol := "\n"
	if bytes.Contains(msg, []byte("\r\n")) {
		eol = "\r\n"
	}
	var head strings.Builder
	head.WriteString("Return-Path: <" + from + ">" + eol)
	for _, rcpt := range to {
		head.WriteString("Delivered-To: " + rcpt + eol)
	}

	name := strconv.FormatInt(time.Now().UnixNano(), 10) + "." +
		strconv.Itoa(os.Getpid()) + "_" + strconv.FormatUint(maildirSeq.Add(1), 10) + "." + t.host
	tmp := filepath.Join(t.dir, "tmp", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(head.String())
	if err == nil {
		_, err = f.Write(msg)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(t.dir, "new", name))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return t.newDir.sync()
}

// dirSyncer makes renames into a directory durable with fsync of the directory, shared: a
// sender whose rename is done waits for the next fsync that starts after it, and one fsync
// serves everyone who was waiting — a group commit for the Maildir. Opening and syncing the
// directory once per message made concurrent senders queue on the directory's lock.
type dirSyncer struct {
	dir     string
	mu      sync.Mutex
	cond    *sync.Cond
	running bool
	started uint64 // fsyncs started
	done    uint64 // the last fsync finished
	err     error  // its error
}

func newDirSyncer(dir string) *dirSyncer {
	d := &dirSyncer{dir: dir}
	d.cond = sync.NewCond(&d.mu)
	return d
}

// sync returns once an fsync of the directory that started after the call has finished.
func (d *dirSyncer) sync() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	target := d.started + 1 // one running now may have begun before our rename: the next one counts
	for d.done < target {
		if d.running {
			d.cond.Wait()
			continue
		}
		d.running = true
		d.started++
		gen := d.started
		d.mu.Unlock()
		err := fsyncDir(d.dir)
		d.mu.Lock()
		d.running, d.done, d.err = false, gen, err
		d.cond.Broadcast()
	}
	return d.err
}

// fsyncDir makes the renames into dir durable.
func fsyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
