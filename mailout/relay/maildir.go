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
	files  *groupSync // makes the files written into tmp/ durable, several at once
	newDir *groupSync // makes the renames into new/ durable, several at once
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
	tmp, newDir := filepath.Join(dir, "tmp"), filepath.Join(dir, "new")
	return &maildirTransport{name: "maildir:" + path, dir: dir, host: host,
		files:  newGroupSync(func() error { return syncFiles(tmp) }),
		newDir: newGroupSync(func() error { return fsyncDir(newDir) })}, nil
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
// would add them. Concurrent sends share their syncs.
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
	if err == nil && !syncFS {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && syncFS {
		err = t.files.sync()
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

// groupSync runs a sync — of a directory's renames, or of the files written — on behalf of
// everyone waiting for one: a caller whose change is done waits for the next sync that starts
// after it, and one sync serves all who were waiting — a group commit for the Maildir. One
// sync per message made concurrent senders queue on the directory's lock, and a file's fsync
// costs three times the CPU its share of a sync of the file system does.
type groupSync struct {
	fn      func() error
	mu      sync.Mutex
	cond    *sync.Cond
	running bool
	started uint64 // syncs started
	done    uint64 // the last sync finished
	err     error  // its error
}

func newGroupSync(fn func() error) *groupSync {
	g := &groupSync{fn: fn}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// sync returns once a sync that started after the call has finished.
func (g *groupSync) sync() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	target := g.started + 1 // one running now may have begun before our change: the next one counts
	for g.done < target {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		gen := g.started
		g.mu.Unlock()
		err := g.fn()
		g.mu.Lock()
		g.running, g.done, g.err = false, gen, err
		g.cond.Broadcast()
	}
	return g.err
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
