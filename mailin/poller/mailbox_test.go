package poller

import (
	"errors"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url      string
		insecure bool
		want     endpoint
	}{
		{"imaps://alice:secret@mail.example:993/INBOX", false,
			endpoint{addr: "mail.example:993", host: "mail.example", implicitTLS: true, user: "alice", pass: "secret", folder: "INBOX"}},
		{"imaps://alice:secret@mail.example", false,
			endpoint{addr: "mail.example:993", host: "mail.example", implicitTLS: true, user: "alice", pass: "secret", folder: "INBOX"}},
		{"imap://alice:secret@mail.example/Support", false,
			endpoint{addr: "mail.example:143", host: "mail.example", startTLS: true, user: "alice", pass: "secret", folder: "Support"}},
		{"imap://alice:secret@mail.example:1143/", true,
			endpoint{addr: "mail.example:1143", host: "mail.example", user: "alice", pass: "secret", folder: "INBOX"}},
		{"imap://alice:secret@127.0.0.1:1143/INBOX", false,
			endpoint{addr: "127.0.0.1:1143", host: "127.0.0.1", user: "alice", pass: "secret", folder: "INBOX"}},
		{"imap://alice:secret@[::1]:1143/INBOX", false,
			endpoint{addr: "[::1]:1143", host: "::1", user: "alice", pass: "secret", folder: "INBOX"}},
		{"IMAP://alice:secret@localhost/INBOX", false,
			endpoint{addr: "localhost:143", host: "localhost", user: "alice", pass: "secret", folder: "INBOX"}},
		{"imaps://support%40client.example:p%40ss%3Aw%2Frd%25@mail.example/Shared/Support%20desk", false,
			endpoint{addr: "mail.example:993", host: "mail.example", implicitTLS: true, user: "support@client.example",
				pass: "p@ss:w/rd%", folder: "Shared/Support desk"}},
		{"imaps://support@client.example:secret@mail.example/INBOX", false, // an unencoded @ in the user
			endpoint{addr: "mail.example:993", host: "mail.example", implicitTLS: true, user: "support@client.example",
				pass: "secret", folder: "INBOX"}},
	} {
		got, err := parseURL(tc.url, tc.insecure)
		if err != nil {
			t.Errorf("parseURL(%q): got error %v", tc.url, err)
			continue
		}
		if got != tc.want {
			t.Errorf("parseURL(%q):\ngot  %+v\nwant %+v", tc.url, got, tc.want)
		}
	}
}

func TestNewRejects(t *testing.T) {
	ok := Mailbox{Name: "support", URL: "imaps://alice:s3cret@mail.example/INBOX"}
	for _, tc := range []struct {
		name  string
		boxes []Mailbox
		want  string
	}{
		{"no name", []Mailbox{{URL: ok.URL}}, "no name"},
		{"scheme", []Mailbox{{Name: "a", URL: "pop3://alice:s3cret@mail.example/"}}, "scheme"},
		{"no host", []Mailbox{{Name: "a", URL: "imaps://alice:s3cret@/INBOX"}}, "no host"},
		{"no user", []Mailbox{{Name: "a", URL: "imaps://mail.example/INBOX"}}, "no user"},
		{"bad URL", []Mailbox{{Name: "a", URL: "imaps://alice:s3cret@mail.example:99999999x/"}}, "invalid URL"},
		{"query", []Mailbox{{Name: "a", URL: "imaps://alice:s3cret@mail.example/?folder=x"}}, "query"},
		{"duplicate", []Mailbox{ok, ok}, "used twice"},
		{"sent key collides", []Mailbox{{Name: "a", URL: ok.URL, SentFolder: "Sent"}, {Name: "a/sent", URL: ok.URL}}, "used twice"},
		{"xoauth2", []Mailbox{{Name: "a", URL: ok.URL, Auth: "xoauth2"}}, "not supported yet"},
		{"auth", []Mailbox{{Name: "a", URL: ok.URL, Auth: "cram-md5"}}, "unknown auth"},
		{"after", []Mailbox{{Name: "a", URL: ok.URL, After: "delete"}}, "unknown After"},
		{"schedule", []Mailbox{{Name: "a", URL: ok.URL, Schedule: "every minute"}}, "schedule"},
		{"batch", []Mailbox{{Name: "a", URL: ok.URL, BatchSize: -1}}, "negative"},
		{"move to itself", []Mailbox{{Name: "a", URL: ok.URL, MoveTo: "INBOX"}}, "destination"},
		{"sent is inbox", []Mailbox{{Name: "a", URL: ok.URL, SentFolder: "inbox"}}, "destination"},
		{"sent is done", []Mailbox{{Name: "a", URL: ok.URL, SentFolder: "guichet/done"}}, "Sent folder"},
	} {
		_, err := New(tc.boxes, newFakeDeliverer(), newMemState(), nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the password: %v", tc.name, err)
		}
	}
	_, err := New([]Mailbox{{Name: "a", URL: ok.URL, Auth: "XOAUTH2"}}, newFakeDeliverer(), newMemState(), nil, nil)
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("xoauth2: got %v, want errors.ErrUnsupported", err)
	}
	if _, err := New([]Mailbox{ok}, nil, newMemState(), nil, nil); err == nil {
		t.Error("no Deliverer: got nil, want an error")
	}
}

func TestNewDefaults(t *testing.T) {
	p, err := New([]Mailbox{{Name: "support", URL: "imaps://alice:s3cret@mail.example", SentFolder: "Sent"}},
		newFakeDeliverer(), newMemState(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(p.workers); got != 2 {
		t.Fatalf("workers: got %d, want 2 (INBOX and Sent)", got)
	}
	b := p.workers[0].box
	for _, tc := range []struct{ name, got, want string }{
		{"Auth", b.Auth, "plain"},
		{"After", b.After, AfterMove},
		{"MoveTo", b.MoveTo, "guichet/done"},
		{"FailedTo", b.FailedTo, "guichet/failed"},
		{"Schedule", b.Schedule, "@every 1m"},
		{"inbox key", p.workers[0].key, "support"},
		{"sent key", p.workers[1].key, "support/sent"},
		{"sent folder", p.workers[1].folder, "Sent"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if b.BatchSize != 200 {
		t.Errorf("BatchSize: got %d, want 200", b.BatchSize)
	}
	o := p.o
	if o.MinBackoff.Seconds() != 1 || o.MaxBackoff.Minutes() != 5 || o.DialTimeout.Seconds() != 30 ||
		o.CommandTimeout.Minutes() != 5 || o.IdleRestart.Minutes() != 25 {
		t.Errorf("options: got %+v, want the documented defaults", o)
	}
	st := p.Status()
	if len(st) != 2 || st["support"].State != StateStopped || st["support/sent"].State != StateStopped {
		t.Errorf("Status before Run: got %+v, want both stopped", st)
	}
}

func TestServerName(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delim rune
		want  string
	}{
		{"guichet/done", '/', "guichet/done"},
		{"guichet/done", '.', "guichet.done"},
		{"guichet/done", 0, "guichet/done"},
		{"INBOX", '.', "INBOX"},
	} {
		if got := serverName(tc.name, tc.delim); got != tc.want {
			t.Errorf("serverName(%q, %q): got %q, want %q", tc.name, tc.delim, got, tc.want)
		}
	}
}
