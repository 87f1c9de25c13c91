package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestOpenRejectsBadURLs(t *testing.T) {
	tests := []struct {
		url  string
		want string // substring of the error
	}{
		{"", "empty URL"},
		{"http://mail.example.com", `unknown URL scheme "http"`},
		{"mail.example.com", "no scheme"},
		{"smtp:mail.example.com", "smtp://host[:port]"},
		{"smtp://", "has no host"},
		{"smtp://:25", "has no host"},
		{"smtps://user:s3cret@:465", "has no host"},
		{"smtp://mail.example.com:0", `invalid port "0"`},
		{"smtp://mail.example.com:70000", `invalid port "70000"`},
		{"smtp://user:s3cret@mail.example.com:smtp", "port"},
		{"smtp://mail.example.com/inbox", "must not have a path"},
		{"smtp://mail.example.com#frag", "fragment"},
		{"smtp://mail.example.com?starttls=maybe", `invalid starttls value "maybe"`},
		{"smtps://mail.example.com?starttls=required", "starttls applies to smtp:// only"},
		{"smtp://mail.example.com?insecure_skip_verify=perhaps", "invalid insecure_skip_verify"},
		{"smtp://u:p@mail.example.com?auth=cram-md5", `invalid auth value "cram-md5"`},
		{"smtp://mail.example.com?auth=plain", "auth=plain given but the URL has no user"},
		{"smtp://mail.example.com?max=0", `invalid max value "0"`},
		{"smtp://mail.example.com?max=lots", `invalid max value "lots"`},
		{"smtp://mail.example.com?max=1&max=2", `"max" is given 2 times`},
		{"smtp://mail.example.com?tls=yes", `unknown URL parameter "tls"`},
		{"smtp://mail.example.com?a=%zz", "malformed query"},
		{"smtp://:s3cret@mail.example.com", "empty user name"},
		{"smtp://user:s3cret@mail.example.com?starttls=never", "refusing to send credentials"},
		{"maildir:", "has no path"},
		{"maildir://host/outbox", "names a host"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			tr, err := Open(tt.url, Options{})
			if err == nil {
				tr.Close()
				t.Fatalf("Open(%q) succeeded, want an error mentioning %q", tt.url, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open(%q) = %q, want it to mention %q", tt.url, err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestOpenRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"negative concurrency", Options{Concurrency: -1}, "Concurrency"},
		{"negative timeout", Options{Timeout: -time.Second}, "Timeout"},
		{"negative idle timeout", Options{IdleTimeout: -time.Second}, "IdleTimeout"},
		{"hello with a space", Options{Hello: "my host"}, "EHLO name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open("smtp://mail.example.com", tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestOpenString(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		url  string
		want string
	}{
		{"smtp://mail.example.com", "smtp://mail.example.com:25"},
		{"SMTP://mail.example.com:587", "smtp://mail.example.com:587"},
		{"smtps://mail.example.com", "smtps://mail.example.com:465"},
		{"smtp://guichet:s3cret@mail.example.com:587?starttls=required",
			"smtp://guichet@mail.example.com:587?starttls=required"},
		{"smtps://guichet:s3cret@[::1]?auth=login&max=2", "smtps://guichet@[::1]:465?auth=login&max=2"},
		{"smtp://guichet:s3cret@localhost?starttls=never", "smtp://guichet@localhost:25?starttls=never"},
		{"maildir:" + dir + "/outbox", "maildir:" + dir + "/outbox"},
		{"maildir://" + dir + "/abs", "maildir://" + dir + "/abs"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			tr, err := Open(tt.url, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			if got := tr.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckCleartextAuth(t *testing.T) {
	tests := []struct {
		host   string
		secure bool
		ok     bool
	}{
		{"mail.example.com", false, false},
		{"10.0.0.25", false, false},
		{"192.168.1.1", false, false},
		{"mail.example.com", true, true},
		{"127.0.0.1", false, true},
		{"127.8.9.10", false, true},
		{"::1", false, true},
		{"localhost", false, true},
		{"LocalHost", false, true},
		{"localhost.example.com", false, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s tls=%v", tt.host, tt.secure), func(t *testing.T) {
			err := checkCleartextAuth(tt.host, tt.secure)
			if (err == nil) != tt.ok {
				t.Errorf("checkCleartextAuth(%q, %v) = %v, want ok=%v", tt.host, tt.secure, err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), tt.host) {
				t.Errorf("error %q does not name the host", err)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{relay: "smtp://host:587", Code: 550, Enhanced: "5.1.1", Message: "no such user"},
			"relay smtp://host:587: 550 5.1.1 no such user"},
		{&Error{relay: "smtp://host:25", Code: 451, Message: "try later"}, "relay smtp://host:25: 451 try later"},
		{&Error{relay: "smtp://host:25", Message: "dial tcp: connection refused"},
			"relay smtp://host:25: dial tcp: connection refused"},
		{&Error{Err: errors.New("disk full")}, "relay: disk full"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestIsPermanent(t *testing.T) {
	inner := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain error", inner, false},
		{"context", context.Canceled, false},
		{"temporary", &Error{Code: 451}, false},
		{"permanent", &Error{Code: 550, Permanent: true}, true},
		{"wrapped permanent", fmt.Errorf("notify: %w", &Error{Code: 550, Permanent: true}), true},
	}
	for _, tt := range tests {
		if got := IsPermanent(tt.err); got != tt.want {
			t.Errorf("%s: IsPermanent = %v, want %v", tt.name, got, tt.want)
		}
	}
	e := &Error{Err: inner}
	if !errors.Is(e, inner) {
		t.Error("Unwrap does not expose the underlying error")
	}
}

func TestParseDefaults(t *testing.T) {
	cfg, err := parseSMTPURL("smtp://u:p@relay.example.com:587", Options{Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.addr != "relay.example.com:587" || cfg.startTLS != startTLSAuto || cfg.implicitTLS ||
		cfg.user != "u" || cfg.pass != "p" || cfg.mech != "" || cfg.concurrency != 4 ||
		cfg.tlsConfig.ServerName != "relay.example.com" || cfg.tlsConfig.InsecureSkipVerify {
		t.Errorf("unexpected config %+v", cfg)
	}
	cfg, err = parseSMTPURL("smtps://relay.example.com?insecure_skip_verify=true&max=9&auth=LOGIN", Options{Concurrency: 4})
	if err == nil {
		t.Fatalf("auth without user accepted: %+v", cfg)
	}
	cfg, err = parseSMTPURL("smtps://u:p@relay.example.com?insecure_skip_verify=true&max=9&auth=LOGIN", Options{Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.addr != "relay.example.com:465" || !cfg.implicitTLS || cfg.mech != "LOGIN" || cfg.concurrency != 9 ||
		!cfg.tlsConfig.InsecureSkipVerify {
		t.Errorf("unexpected config %+v", cfg)
	}
}
