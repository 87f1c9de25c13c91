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

var _ BatchTransport = (*maildirTransport)(nil)

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
	if err := t.check(ctx, from, to); err != nil {
		return err
	}
	tmp, name, err := t.create(from, to, msg)
	if err == nil && syncFS {
		if err = t.files.sync(); err != nil {
			os.Remove(tmp)
		}
	}
	if err == nil {
		err = t.deliver(tmp, name)
	}
	if err == nil {
		err = t.newDir.sync()
	}
	return t.fail(err)
}

// SendBatch writes every message into tmp/, makes them durable together, moves them into new/
// and makes the moves durable: two syncs for the batch, where concurrent Sends share theirs
// only with the sends that happen to wait at the same moment.
func (t *maildirTransport) SendBatch(ctx context.Context, es []Envelope) []error {
	errs := make([]error, len(es))
	type file struct{ tmp, name string }
	files := make([]file, len(es))
	written := 0
	for i, e := range es {
		if errs[i] = t.check(ctx, e.From, e.To); errs[i] != nil {
			continue
		}
		tmp, name, err := t.create(e.From, e.To, e.Msg)
		errs[i], files[i] = t.fail(err), file{tmp, name}
		if err == nil {
			written++
		}
	}
	if written == 0 {
		return errs
	}
	var err error
	if syncFS {
		err = t.files.sync()
	}
	moved := 0
	for i, f := range files {
		if errs[i] != nil {
			continue
		}
		if err != nil {
			os.Remove(f.tmp)
			errs[i] = t.fail(err)
			continue
		}
		if errs[i] = t.fail(t.deliver(f.tmp, f.name)); errs[i] == nil {
			moved++
		}
	}
	if moved > 0 {
		if err := t.newDir.sync(); err != nil {
			for i := range errs {
				if errs[i] == nil {
					errs[i] = t.fail(err)
				}
			}
		}
	}
	return errs
}

// check refuses an envelope without recipients, a cancelled context and a closed transport.
func (t *maildirTransport) check(ctx context.Context, from string, to []string) error {
	if err := checkEnvelope(from, to); err != nil {
		return &Error{relay: t.name, Permanent: true, Message: err.Error(), Err: err}
	}
	if err := ctx.Err(); err != nil {
		return classify(ctx, t.name, err)
	}
	if t.closed.Load() {
		return &Error{relay: t.name, Message: "transport is closed"}
	}
	return nil
}

// fail wraps a failure to write as a temporary *Error.
func (t *maildirTransport) fail(err error) error {
	if err == nil {
		return nil
	}
	return &Error{relay: t.name, Message: err.Error(), Err: err}
}

// deliver moves a file written into tmp/ into new/, and removes it if it cannot.
func (t *maildirTransport) deliver(tmp, name string) error {
	err := os.Rename(tmp, filepath.Join(t.dir, "new", name))
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// create writes msg into tmp/ under a new unique name, with Return-Path and Delivered-To in
// front, and returns the file's path and name. Without syncfs the file is synced here; with it,
// the caller syncs the files it wrote together.
func (t *maildirTransport) create(from string, to []string, msg []byte) (tmp, name string, err error) {
	eol := "\n"
	if bytes.Contains(msg, []byte("\r\n")) {
		eol = "\r\n"
	}
	// The file in one write: each write of a part of a page makes the kernel prepare (zero) it.
	data := make([]byte, 0, 64+len(from)+len(to)*64+len(msg))
	data = append(append(append(append(data, "Return-Path: <"...), from...), '>'), eol...)
	for _, rcpt := range to {
		data = append(append(append(data, "Delivered-To: "...), rcpt...), eol...)
	}
	data = append(data, msg...)

	name = strconv.FormatInt(time.Now().UnixNano(), 10) + "." +
		strconv.Itoa(os.Getpid()) + "_" + strconv.FormatUint(maildirSeq.Add(1), 10) + "." + t.host
	tmp = filepath.Join(t.dir, "tmp", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", "", err
	}
	_, err = f.Write(data)
	if err == nil && !syncFS {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", "", err
	}
	return tmp, name, nil
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
