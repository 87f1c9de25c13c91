package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"7d", 7 * 24 * time.Hour, true},
		{"36h", 36 * time.Hour, true},
		{"90s", 90 * time.Second, true},
		{"1d12h", 36 * time.Hour, true},
		{"0", 0, true},
		{"off", 0, true},
		{"", 0, false},
		{"7 days", 0, false},
		{"-1h", 0, false},
		{"d", 0, false},
	} {
		got, err := ParseDuration(c.in)
		if got != c.want || (err == nil) != c.ok {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestDefaults(t *testing.T) {
	t.Chdir(t.TempDir())
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Policy()
	if c.DB != "guichet.db" || c.HTTPAddr != "127.0.0.1:8080" || p.ReopenWithin != 14*24*time.Hour ||
		p.AutoCloseAfter != 7*24*time.Hour || p.PendingCloseAfter != 0 || !p.ThanksKeepsSolved ||
		len(p.Types) != 6 || p.Types[2].Names.FR != "Demande de fonctionnalité" || c.File != "" {
		t.Errorf("defaults %+v, policy %+v", c, p)
	}
}

func TestFileThenEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile("guichet.toml", []byte(`
db = "file.db"
reopen_within = "3d"
tag_prefix = "ACME-"
default_type = "incident"
[[types]]
code = "incident"
en = "Incident"
fr = "Incident"
[[types]]
code = "request"
en = "Request"
`), 0o644)
	c, err := Load(env(map[string]string{"GUICHET_DB": "postgres://x", "GUICHET_AUTOCLOSE_AFTER": "36h"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.DB != "postgres://x" || time.Duration(c.ReopenWithin) != 72*time.Hour || time.Duration(c.AutoCloseAfter) != 36*time.Hour ||
		c.TagPrefix != "ACME-" || len(c.Types) != 2 || c.File != "guichet.toml" {
		t.Errorf("got %+v", c)
	}
	if p := c.Policy(); p.Types[1].Names.FR != "Request" {
		t.Errorf("a type without French name: %+v, want the English one", p.Types[1])
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("db = \"x\"\nmailbox = 3\n"), 0o644)
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"GUICHET_CONFIG": filepath.Join(dir, "missing.toml")}, "no such file"},
		{map[string]string{"GUICHET_CONFIG": bad}, "unknown setting mailbox"},
		{map[string]string{"GUICHET_REOPEN_WITHIN": "two weeks"}, "GUICHET_REOPEN_WITHIN"},
		{map[string]string{"GUICHET_TICKET_START": "0"}, "ticket_start"},
		{map[string]string{"GUICHET_TICKET_START": "x"}, "GUICHET_TICKET_START"},
		{map[string]string{"GUICHET_TAG_PREFIX": "[x"}, "tag_prefix"},
		{map[string]string{"GUICHET_DEFAULT_TYPE": "rant"}, "default_type"},
		{map[string]string{"GUICHET_THANKS_KEEPS_SOLVED": "maybe"}, "GUICHET_THANKS_KEEPS_SOLVED"},
		{map[string]string{"GUICHET_LOG_LEVEL": "loud"}, "log_level"},
	} {
		_, err := Load(env(c.env))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Load(%v) = %v, want an error mentioning %q", c.env, err, c.want)
		}
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"7d", "1d12h", "90s", "off", "d", "99999999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseDuration(s); err == nil && d < 0 {
			t.Errorf("ParseDuration(%q) = %v, negative", s, d)
		}
	})
}

func TestMailSettings(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile("guichet.toml", []byte(`
support_addresses = ["support@example.com", "billing@example.com"]
[[routes]]
address = "billing@example.com"
type = "billing"
priority = "high"
lang = "fr"
`), 0o644)
	c, err := Load(env(map[string]string{"GUICHET_MAX_MESSAGE_SIZE": "10MB", "GUICHET_TRUSTED_AUTHSERV_IDS": "mx.example.com, mx2.example.com"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SupportAddresses) != 2 || c.MaxMessageSize != 10<<20 || len(c.TrustedAuthServ) != 2 || c.Routes[0].Type != "billing" || c.FloodLimit != 20 {
		t.Errorf("got %+v", c)
	}
	for _, bad := range []map[string]string{
		{"GUICHET_SUPPORT_ADDRESSES": "support+x@example.com"},
		{"GUICHET_SUPPORT_ADDRESSES": "other@example.com"}, // the route's address is no longer a support address
		{"GUICHET_MAX_MESSAGE_SIZE": "big"},
		{"GUICHET_SECRET": "short"},
		{"GUICHET_FLOOD_LIMIT": "-1"},
	} {
		if _, err := Load(env(bad)); err == nil {
			t.Errorf("Load(%v) succeeded, want an error", bad)
		}
	}
}

func TestTransportSettings(t *testing.T) {
	t.Chdir(t.TempDir())
	os.WriteFile("guichet.toml", []byte(`
smtp_addr = "0.0.0.0:25"
smtp_allow_networks = ["10.0.0.0/8"]
[[mailboxes]]
name = "support"
url = "imaps://support%40example.com:s3cret@imap.example.com:993/INBOX"
sent_folder = "Sent"
agent = "team@example.com"
`), 0o644)
	c, err := Load(env(map[string]string{"GUICHET_LMTP_ADDR": "unix:/run/guichet/lmtp"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTPAddr != "0.0.0.0:25" || c.LMTPAddr != "unix:/run/guichet/lmtp" || len(c.Mailboxes) != 1 || c.Mailboxes[0].SentFolder != "Sent" {
		t.Errorf("got %+v", c)
	}
	for _, bad := range []map[string]string{{"GUICHET_SMTP_ALLOW_NETWORKS": "everyone"}, {"GUICHET_TLS_CERT": "cert.pem"}} {
		if _, err := Load(env(bad)); err == nil {
			t.Errorf("Load(%v) succeeded", bad)
		}
	}
	os.WriteFile("guichet.toml", []byte("[[mailboxes]]\nname = \"a\"\nurl = \"http://x\"\n"), 0o644)
	if _, err := Load(env(nil)); err == nil || !strings.Contains(err.Error(), "imaps://") {
		t.Errorf("a mailbox with an http URL: %v", err)
	}
}
