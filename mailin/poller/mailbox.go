package poller

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/robfig/cron/v3"
)

// Mailbox is one configured mailbox to read.
//
// In folder names (the URL's path, MoveTo, FailedTo, SentFolder) "/" stands for the server's
// hierarchy delimiter: "guichet/done" is "guichet.done" on a server whose delimiter is ".".
type Mailbox struct {
	// Name is unique and is the key of the mailbox's state, lock and status, e.g. "support".
	// Its Sent folder uses Name+"/sent".
	Name string
	// URL is imaps://user:pass@host:993/INBOX or imap://user:pass@host:143/INBOX. imap://
	// requires STARTTLS unless the host is loopback (then plain) or Insecure is set. The user
	// and password are percent-decoded; the path is the folder (default INBOX).
	URL string
	// Insecure allows plain imap:// without STARTTLS to any host (tests).
	Insecure bool
	// TLSConfig is optional (tests with self-signed certificates). Its ServerName defaults to
	// the URL's host.
	TLSConfig *tls.Config
	// Auth is "plain" (default: AUTHENTICATE PLAIN when offered, else LOGIN). "xoauth2" is
	// refused as not supported yet.
	Auth string
	// After says what to do with a stored message: "move" (default) to MoveTo, or "seen" to
	// flag it \Seen and leave it.
	After string
	// MoveTo is the folder for stored messages when After is "move", default "guichet/done".
	// It is created (and subscribed) when missing.
	MoveTo string
	// FailedTo is the folder for messages the Deliverer quarantined, and for messages the
	// server cannot give us (see unreadableStrikes), default "guichet/failed"; created when
	// missing.
	FailedTo string
	// SentFolder, if set, is also read (the shared mailbox's Sent folder), on a connection of
	// its own: its messages are delivered with Meta.Sent = true and are never moved nor
	// flagged; only the last UID delivered is remembered, under the key Name+"/sent". On its
	// first start (no stored state for that key) it starts from the folder's current UIDNEXT:
	// years of old sent mail are not imported, only what is sent from then on. The same when
	// the folder's UIDVALIDITY changes (a rebuilt or migrated folder holds its whole history).
	SentFolder string
	// Schedule is a cron spec for polling, default "@every 1m". With IDLE it is a safety net.
	Schedule string
	// BatchSize is the number of messages fetched per FETCH, default 200.
	BatchSize int
}

// Values of Mailbox.After.
const (
	AfterMove = "move"
	AfterSeen = "seen"
)

// endpoint is where and how to connect, from Mailbox.URL.
type endpoint struct {
	addr        string // host:port
	host        string
	implicitTLS bool // imaps://
	startTLS    bool // imap:// to a remote host
	user, pass  string
	folder      string
}

// resolve checks the mailbox and returns it with its defaults filled in, and its endpoint.
// Errors never contain the password.
func (b Mailbox) resolve() (Mailbox, endpoint, error) {
	if b.Name == "" {
		return b, endpoint{}, errors.New("a mailbox has no name")
	}
	fail := func(format string, a ...any) (Mailbox, endpoint, error) {
		return b, endpoint{}, fmt.Errorf("mailbox %q: "+format, append([]any{b.Name}, a...)...)
	}
	ep, err := parseURL(b.URL, b.Insecure)
	if err != nil {
		return fail("%w", err)
	}
	switch strings.ToLower(b.Auth) {
	case "", "plain":
		b.Auth = "plain"
	case "xoauth2":
		return fail("auth %q: %w", b.Auth, errXOAUTH2)
	default:
		return fail("unknown auth %q (want plain)", b.Auth)
	}
	switch strings.ToLower(b.After) {
	case "", AfterMove:
		b.After = AfterMove
	case AfterSeen:
		b.After = AfterSeen
	default:
		return fail("unknown After %q (want move or seen)", b.After)
	}
	if b.MoveTo == "" {
		b.MoveTo = "guichet/done"
	}
	if b.FailedTo == "" {
		b.FailedTo = "guichet/failed"
	}
	for _, f := range []string{b.MoveTo, b.FailedTo, b.SentFolder} {
		if f != "" && strings.EqualFold(f, ep.folder) {
			return fail("folder %q is both read and a destination or the Sent folder", f)
		}
	}
	if b.SentFolder != "" && (b.SentFolder == b.MoveTo || b.SentFolder == b.FailedTo) {
		return fail("the Sent folder %q is also where messages are moved", b.SentFolder)
	}
	if b.Schedule == "" {
		b.Schedule = "@every 1m"
	}
	if _, err := cron.ParseStandard(b.Schedule); err != nil {
		return fail("schedule %q: %w", b.Schedule, err)
	}
	if b.BatchSize < 0 {
		return fail("BatchSize %d is negative", b.BatchSize)
	}
	if b.BatchSize == 0 {
		b.BatchSize = 200
	}
	return b, ep, nil
}

var errXOAUTH2 = fmt.Errorf("XOAUTH2 is not supported yet: %w", errors.ErrUnsupported)

// parseURL reads imaps://user:pass@host:993/INBOX or imap://… .
func parseURL(raw string, insecure bool) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, password included
		}
		return endpoint{}, fmt.Errorf("invalid URL: %v", err)
	}
	var ep endpoint
	port := ""
	switch strings.ToLower(u.Scheme) {
	case "imaps":
		ep.implicitTLS, port = true, "993"
	case "imap":
		port = "143"
	default:
		return endpoint{}, fmt.Errorf("URL scheme %q: want imaps or imap", u.Scheme)
	}
	ep.host = u.Hostname()
	if ep.host == "" {
		return endpoint{}, errors.New("URL has no host")
	}
	if p := u.Port(); p != "" {
		port = p
	}
	ep.addr = net.JoinHostPort(ep.host, port)
	if !ep.implicitTLS && !insecure && !isLoopback(ep.host) {
		ep.startTLS = true
	}
	if u.User == nil || u.User.Username() == "" {
		return endpoint{}, errors.New("URL has no user")
	}
	ep.user = u.User.Username()
	ep.pass, _ = u.User.Password()
	ep.folder = strings.Trim(u.Path, "/")
	if ep.folder == "" {
		ep.folder = "INBOX"
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return endpoint{}, errors.New("URL has a query or fragment; put the folder in the path")
	}
	return ep, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serverName turns a configured folder name into the server's: "/" becomes its delimiter.
func serverName(name string, delim rune) string {
	if delim == 0 || delim == '/' {
		return name
	}
	return strings.ReplaceAll(name, "/", string(delim))
}
