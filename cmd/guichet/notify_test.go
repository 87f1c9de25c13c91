package main

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"
)

// cli runs one guichet command against the server's database and configuration.
func (s *server) cli(args ...string) string {
	s.t.Helper()
	cmd := exec.Command(s.bin, args...)
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("guichet %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// delivered is a notification found in the server's Maildir.
type delivered struct {
	to, subject, text string
	header            mail.Header
}

// waitMail waits until a notification to rcpt whose subject or text contains want is in the
// Maildir, and returns it.
func (s *server) waitMail(rcpt, want string, within time.Duration) delivered {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(s.outbox, "new", "*"))
		for _, f := range files {
			d, ok := readDelivered(f)
			if ok && d.to == rcpt && (strings.Contains(d.subject, want) || strings.Contains(d.text, want)) {
				return d
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("no notification to %s containing %q within %s", rcpt, want, within)
	return delivered{}
}

func readDelivered(path string) (delivered, bool) {
	f, err := os.Open(path)
	if err != nil {
		return delivered{}, false
	}
	defer f.Close()
	mr, err := mail.CreateReader(f)
	if err != nil {
		return delivered{}, false
	}
	d := delivered{header: mr.Header}
	if to, err := mr.Header.AddressList("To"); err == nil && len(to) == 1 {
		d.to = to[0].Address
	}
	d.subject, _ = mr.Header.Subject()
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		if h, ok := p.Header.(*mail.InlineHeader); ok {
			if ct, _, _ := h.ContentType(); ct == "text/plain" {
				b, _ := io.ReadAll(p.Body)
				d.text = string(b)
			}
		}
	}
	return d, true
}

var approveLink = regexp.MustCompile(`http://[^\s]+/approve/[A-Za-z0-9._\-]+`)

// TestNotificationsThroughServe runs the whole loop with the real binary and its defaults: mail
// in over SMTP, the acknowledgement in the Maildir outbox within seconds, a solution proposed
// from the CLI (another process) reaching the requester with an approve link that a GET does not
// use and a POST does; then a change committed while serve is down is delivered after restart.
func TestNotificationsThroughServe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts guichet serve")
	}
	srv := startServer(t, testDB(t))
	srv.cli("agent", "add", "alice@crash.example", "--name", "Alice")

	// Mail in: the requester gets the acknowledgement, the agent the new ticket.
	start := time.Now()
	msg := "From: Claire <claire@client.example>\r\nTo: support@crash.example\r\nSubject: Printer on fire\r\n" +
		"Message-ID: <fire-1@client.example>\r\nContent-Language: fr\r\n\r\nIt smells of smoke.\r\n"
	c, err := smtp.Dial(srv.smtp)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("claire@client.example", []string{"support@crash.example"}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	ack := srv.waitMail("claire@client.example", "[#1]", 5*time.Second)
	t.Logf("acknowledgement in the Maildir %s after the 250", time.Since(start).Round(time.Millisecond))
	if ack.header.Get("Content-Language") != "fr" || !strings.Contains(ack.text, "Suivre votre demande") {
		t.Errorf("a message in French gets a French acknowledgement:\n%s", ack.text)
	}
	if irt, _ := ack.header.MsgIDList("In-Reply-To"); len(irt) != 1 || irt[0] != "fire-1@client.example" {
		t.Errorf("In-Reply-To %v, want the requester's message", irt)
	}
	srv.waitMail("alice@crash.example", "It smells of smoke.", 5*time.Second)

	// A solution from the CLI, another process: serve's sender finds the row by polling.
	srv.cli("ticket", "solve", "1", "--from", "alice@crash.example", "--text", "Unplug it and call the fire brigade.")
	sol := srv.waitMail("claire@client.example", "fire brigade", 5*time.Second)
	link := approveLink.FindString(strings.ReplaceAll(sol.text, "=\r\n", ""))
	if link == "" || !strings.HasPrefix(link, "http://"+srv.http+"/approve/") {
		t.Fatalf("no approve link on the configured base URL in:\n%s", sol.text)
	}
	r, err := http.Get(link) // what a link scanner does
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 200 || !strings.Contains(srv.cli("ticket", "show", "1"), "solved") {
		t.Fatalf("GET %s: %d; the ticket must still be solved", link, r.StatusCode)
	}
	r, err = http.PostForm(link, url.Values{"comment": {"Done, thanks."}})
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 200 || !strings.Contains(srv.cli("ticket", "show", "1"), "closed") {
		t.Fatalf("POST %s: %d; the ticket must be closed", link, r.StatusCode)
	}
	srv.waitMail("alice@crash.example", "approved", 5*time.Second)

	// A change committed while serve is down (as if it crashed before sending) goes after restart.
	srv.kill()
	srv.cli("ticket", "reopen", "1", "--by", "alice@crash.example", "--reason", "smoke again")
	if files, _ := filepath.Glob(filepath.Join(srv.outbox, "new", "*")); len(files) == 0 {
		t.Fatal("no mail at all")
	}
	pending := srv.cli("outbox", "list")
	if !strings.Contains(pending, "pending") {
		t.Fatalf("outbox list shows no pending notification while serve is down:\n%s", pending)
	}
	srv.start()
	srv.waitMail("claire@client.example", "smoke again", 5*time.Second)
	if out := srv.cli("outbox", "list", "--failed"); !strings.Contains(out, "no notifications") {
		t.Errorf("failed notifications:\n%s", out)
	}
}
