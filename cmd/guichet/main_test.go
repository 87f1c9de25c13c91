package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// guichet runs one command in-process against the database in dir and returns its exit code and output.
func guichet(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	vars := map[string]string{"GUICHET_DB": filepath.Join(dir, "g.db"), "GUICHET_CONFIG": filepath.Join(dir, "none.toml")}
	os.WriteFile(vars["GUICHET_CONFIG"], nil, 0o644)
	getenv := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	var out, errb bytes.Buffer
	code := run(context.Background(), args, getenv, strings.NewReader("from stdin"), &out, &errb)
	return code, out.String(), errb.String()
}

func mustRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	code, out, errs := guichet(t, dir, args...)
	if code != 0 {
		t.Fatalf("guichet %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	return out
}

func TestErrorsAreOneClearLine(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "migrate")
	mustRun(t, dir, "agent", "add", "alice@support.example")
	mustRun(t, dir, "ticket", "create", "--from", "jean@client.example", "--subject", "Printer", "--text", "blank")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"ticket", "show", "99"}, 1, "ticket 99 does not exist"},
		{[]string{"ticket", "approve", "1"}, 1, "only a solved ticket can be approved"},
		{[]string{"ticket", "status", "1", "open"}, 1, `unknown status: "open"`},
		{[]string{"ticket", "status", "1", "new"}, 1, "cannot be put back to new"},
		{[]string{"ticket", "status", "1", "assigned"}, 1, "has nobody assigned"},
		{[]string{"ticket", "status", "1", "solved"}, 1, "a solution needs its text"},
		{[]string{"ticket", "assign", "1", "bob@support.example"}, 1, "bob@support.example is not an agent"},
		{[]string{"ticket", "reply", "1", "--from", "eve@evil.example", "--text", "hi"}, 1, "not allowed"},
		{[]string{"ticket", "reply", "1", "--from", "jean@client.example", "--text", "x", "--internal"}, 1, "not allowed"},
		{[]string{"ticket", "reply", "1", "--from", "jean@client.example", "--text", " "}, 1, "needs text or an attachment"},
		{[]string{"ticket", "solve", "1", "--from", "jean@client.example", "--text", "self-solved"}, 1, "not allowed"},
		{[]string{"ticket", "create", "--from", "nobody", "--subject", "x"}, 1, "not an e-mail address"},
		{[]string{"ticket", "create", "--from", "a@b.example", "--subject", "x", "--type", "rant"}, 1, `unknown type: "rant"`},
		{[]string{"ticket", "create", "--from", "a@b.example", "--subject", "x", "--attach", "/nonexistent"}, 1, "--attach"},
		{[]string{"ticket", "set", "1", "--priority", "asap"}, 1, `unknown priority: "asap"`},
		{[]string{"ticket", "show", "abc"}, 2, `ticket number "abc"`},
		{[]string{"ticket", "create", "--subject", "x"}, 2, "--from and --subject are required"},
		{[]string{"ticket", "list", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"ticket", "frobnicate"}, 2, `unknown command "ticket frobnicate"`},
		{[]string{"agent", "remove", "nobody@x.example"}, 1, "nobody@x.example is not an agent"},
	} {
		code, _, errs := guichet(t, dir, c.args...)
		first, _, _ := strings.Cut(errs, "\n")
		if code != c.code || !strings.Contains(first, c.want) {
			t.Errorf("guichet %s: exit %d, %q; want exit %d and %q", strings.Join(c.args, " "), code, first, c.code, c.want)
		}
	}
	var tk struct {
		Status string            `json:"status"`
		Events []json.RawMessage `json:"events"`
	}
	json.Unmarshal([]byte(mustRun(t, dir, "ticket", "show", "1", "--json")), &tk)
	if tk.Status != "new" || len(tk.Events) != 1 {
		t.Errorf("refused commands changed ticket 1: status %s, %d events", tk.Status, len(tk.Events))
	}
}

func TestUnmigratedDatabase(t *testing.T) {
	code, _, errs := guichet(t, t.TempDir(), "ticket", "list")
	if code != 1 || !strings.Contains(errs, "run `guichet migrate`") {
		t.Errorf("exit %d, %q; want a hint to migrate", code, errs)
	}
}

func TestDatabaseDownIsTempFail(t *testing.T) {
	var errb bytes.Buffer
	getenv := func(k string) (string, bool) {
		if k == "GUICHET_DB" {
			return "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", true
		}
		return "", false
	}
	t.Chdir(t.TempDir())
	if code := run(context.Background(), []string{"ticket", "list"}, getenv, nil, io.Discard, &errb); code != exitTempFail {
		t.Errorf("exit %d (%s), want %d", code, errb.String(), exitTempFail)
	}
}

func TestHelp(t *testing.T) {
	dir := t.TempDir()
	for _, c := range [][]string{{"help"}, {"help", "ticket", "create"}, {"ticket", "create", "-h"}} {
		code, out, errs := guichet(t, dir, c...)
		if code != 0 || !strings.Contains(out+errs, "usage: guichet") {
			t.Errorf("guichet %v: exit %d, %q", c, code, out+errs)
		}
	}
	for _, c := range commands {
		if c.summary == "" {
			t.Errorf("command %q has no help", c.name)
		}
	}
}

func TestCreateWithAttachmentsAndList(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "migrate")
	shot := filepath.Join(dir, "screen shot.png")
	os.WriteFile(shot, []byte("\x89PNG\r\n\x1a\n"), 0o644)
	mustRun(t, dir, "ticket", "create", "--from", "Jean@Client.example", "--name", "Jean", "--subject", "Écran",
		"--text-file", "-", "--attach", shot, "--cc", "boss@client.example", "--type", "bug", "--priority", "high", "--lang", "fr")
	var tk struct {
		Number       int64  `json:"number"`
		Type         string `json:"type"`
		Priority     string `json:"priority"`
		Assignee     *string
		Participants []struct{ Address string }
		Messages     []struct {
			Text        string
			Author      struct{ Role string }
			Attachments []struct {
				Filename    string `json:"filename"`
				ContentType string `json:"content_type"`
				Size        int64  `json:"size"`
			}
		}
	}
	if err := json.Unmarshal([]byte(mustRun(t, dir, "ticket", "show", "1", "--json")), &tk); err != nil {
		t.Fatal(err)
	}
	if tk.Number != 1 || tk.Type != "bug" || tk.Priority != "high" || tk.Assignee != nil || len(tk.Participants) != 1 ||
		len(tk.Messages) != 1 || tk.Messages[0].Text != "from stdin" || tk.Messages[0].Author.Role != "requester" {
		t.Fatalf("got %+v", tk)
	}
	if a := tk.Messages[0].Attachments; len(a) != 1 || a[0].Filename != "screen shot.png" || a[0].ContentType != "image/png" || a[0].Size != 8 {
		t.Errorf("attachments %+v", a)
	}
	mustRun(t, dir, "ticket", "create", "--from", "other@client.example", "--subject", "Second")
	var list []map[string]any
	json.Unmarshal([]byte(mustRun(t, dir, "ticket", "list", "--json", "--requester", "jean@client.example")), &list)
	if len(list) != 1 || list[0]["number"] != 1.0 || list[0]["messages"] != nil {
		t.Errorf("list %+v, want ticket 1 without messages", list)
	}
	json.Unmarshal([]byte(mustRun(t, dir, "ticket", "list", "--json", "--status", "closed")), &list)
	if len(list) != 0 {
		t.Errorf("closed tickets %+v, want none", list)
	}
	if out := mustRun(t, dir, "ticket", "list"); !strings.Contains(out, "[#2]") || !strings.Contains(out, "Écran") {
		t.Errorf("text list:\n%s", out)
	}
}

func TestServeHealthAndShutdown(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	vars := map[string]string{"GUICHET_DB": filepath.Join(dir, "g.db"), "GUICHET_HTTP_ADDR": addr, "GUICHET_CONFIG": filepath.Join(dir, "x.toml")}
	os.WriteFile(vars["GUICHET_CONFIG"], nil, 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) (string, bool) { v, ok := vars[k]; return v, ok }, nil, io.Discard, io.Discard)
	}()
	var resp *http.Response
	for i := 0; i < 100; i++ {
		if resp, err = http.Get("http://" + addr + "/healthz"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"ok"`) {
		t.Errorf("healthz: %d %s", resp.StatusCode, body)
	}
	// serve migrated the database: the CLI can use it.
	mustRun(t, dir, "ticket", "list")
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exit %d after SIGTERM, want 0", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestReadmeWalkthrough runs README's walk-through block verbatim with a freshly built binary.
func TestReadmeWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "<!-- walkthrough -->\n```sh\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("README has no walk-through block")
	}
	dir := t.TempDir()
	if err := os.Symlink(guichetBinary(t), filepath.Join(dir, "guichet")); err != nil {
		t.Fatal(err)
	}
	var cleanEnv []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GUICHET_") {
			cleanEnv = append(cleanEnv, kv)
		}
	}
	sh := exec.Command("bash", "-euo", "pipefail", "-c", block)
	sh.Dir, sh.Env = dir, cleanEnv
	out, err := sh.Output()
	if err != nil {
		t.Fatalf("walk-through failed: %v\n%s%s", err, out, err.(*exec.ExitError).Stderr)
	}
	// The last command is `ticket show 1 --json`: its object ends the output.
	i := strings.LastIndex(string(out), "\n{\n")
	var tk struct {
		Status   string
		Messages []struct{ Visibility string }
		Events   []struct{ Actor, Kind, From, To, Reason string }
	}
	if i < 0 || json.Unmarshal(out[i+1:], &tk) != nil {
		t.Fatalf("no JSON ticket at the end of:\n%s", out)
	}
	var kinds []string
	for _, e := range tk.Events {
		kinds = append(kinds, fmt.Sprintf("%s:%s>%s", e.Kind, e.From, e.To))
	}
	want := "created:>new assignee:>alice@support.example status:new>assigned status:assigned>pending status:pending>assigned " +
		"solution_proposed:assigned>solved solution_refused:solved>assigned solution_proposed:assigned>solved solution_approved:solved>closed"
	if tk.Status != "closed" || strings.Join(kinds, " ") != want {
		t.Errorf("status %s, events\n got %s\nwant %s", tk.Status, strings.Join(kinds, " "), want)
	}
	if tk.Events[6].Reason == "" || tk.Events[6].Actor != "jean@client.example" {
		t.Errorf("refusal event %+v, want the requester's reason", tk.Events[6])
	}
}

// ticket show says when each timer fires.
func TestShowTimers(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "migrate")
	mustRun(t, dir, "agent", "add", "alice@support.example")
	mustRun(t, dir, "ticket", "create", "--from", "jean@client.example", "--subject", "Printer", "--text", "Blank pages.")
	out := mustRun(t, dir, "ticket", "show", "1")
	if !strings.Contains(out, "escalate (in 4h") || !strings.Contains(out, "tells the agents it is still unassigned") {
		t.Errorf("a new ticket's escalation timer is not shown:\n%s", out)
	}
	mustRun(t, dir, "ticket", "solve", "1", "--from", "alice@support.example", "--text", "New toner.")
	out = mustRun(t, dir, "ticket", "show", "1", "--json")
	if !strings.Contains(out, `"timers": [`) || !strings.Contains(out, `"kind": "autoclose"`) || strings.Contains(out, `"kind": "escalate"`) {
		t.Errorf("a solved ticket has its closing timer, and no escalation:\n%s", out)
	}
}
