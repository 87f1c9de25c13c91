package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// guichetEnv runs one command in-process with extra environment variables and standard input.
func guichetEnv(t *testing.T, dir string, vars map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	all := map[string]string{"GUICHET_DB": filepath.Join(dir, "g.db"), "GUICHET_CONFIG": filepath.Join(dir, "none.toml"),
		"GUICHET_SUPPORT_ADDRESSES": "support@support.example", "GUICHET_NOREPLY_ADDRESS": "noreply@support.example"}
	os.WriteFile(all["GUICHET_CONFIG"], nil, 0o644)
	for k, v := range vars {
		all[k] = v
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), args, func(k string) (string, bool) { v, ok := all[k]; return v, ok }, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

const sampleMail = "From: Jean <jean@client.example>\r\nTo: support@support.example\r\nSubject: Printer\r\nMessage-ID: <p1@client.example>\r\n\r\nIt is broken.\r\n"

func TestInspectChangesNothing(t *testing.T) {
	dir := t.TempDir()
	msg := filepath.Join(dir, "m.eml")
	os.WriteFile(msg, []byte(sampleMail), 0o644)
	junk := filepath.Join(dir, "junk.bin")
	os.WriteFile(junk, []byte{0, 1, 2, 0xff}, 0o644)
	code, out, errs := guichetEnv(t, dir, nil, "", "inspect", "--json", msg, junk, filepath.Join(dir, "missing.eml"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d objects for 3 files:\n%s", len(lines), out)
	}
	var first, second, third map[string]any
	json.Unmarshal([]byte(lines[0]), &first)
	json.Unmarshal([]byte(lines[1]), &second)
	json.Unmarshal([]byte(lines[2]), &third)
	if first["kind"] != "new" || first["text"] != "It is broken." || first["ticket"] != nil || first["message_id"] != "p1@client.example" {
		t.Errorf("first: %v", first)
	}
	if second["kind"] != "unreadable" || third["kind"] != "unreadable" || len(third["warnings"].([]any)) == 0 {
		t.Errorf("junk and missing files: %v / %v", second, third)
	}
	for _, k := range []string{"file", "message_id", "from", "to", "cc", "subject", "date", "kind", "ticket", "thread_by", "requester",
		"forwarded", "text", "quoted_removed", "attachments", "commands", "bounces", "mentions", "warnings"} {
		if _, ok := first[k]; !ok {
			t.Errorf("inspect output lacks %q", k)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "g.db")); !os.IsNotExist(err) {
		t.Errorf("inspect created the database: %v", err)
	}
}

func TestIngestAndQuarantine(t *testing.T) {
	dir := t.TempDir()
	guichetEnv(t, dir, nil, "", "migrate")
	flood := map[string]string{"GUICHET_FLOOD_LIMIT": "1"}
	if code, out, errs := guichetEnv(t, dir, flood, sampleMail, "ingest"); code != 0 || !strings.Contains(out, "new ticket [#1]") {
		t.Fatalf("ingest: exit %d, %q %q", code, out, errs)
	}
	if code, out, _ := guichetEnv(t, dir, flood, sampleMail, "ingest"); code != 0 || !strings.Contains(out, "already stored") {
		t.Errorf("second delivery: exit %d, %q", code, out)
	}
	second := strings.Replace(sampleMail, "p1@", "p2@", 1)
	if code, out, _ := guichetEnv(t, dir, flood, second, "ingest"); code != 0 || !strings.Contains(out, "quarantined as entry 1") {
		t.Fatalf("over the flood limit: exit %d, %q", code, out)
	}
	code, out, _ := guichetEnv(t, dir, flood, "", "quarantine", "list", "--json")
	var list []map[string]any
	json.Unmarshal([]byte(out), &list)
	if code != 0 || len(list) != 1 || !strings.Contains(list[0]["reason"].(string), "flood") {
		t.Fatalf("quarantine list: %d %s", code, out)
	}
	if code, out, _ := guichetEnv(t, dir, flood, "", "quarantine", "show", "1", "--raw"); code != 0 || out != second {
		t.Errorf("quarantine show --raw: exit %d, %q", code, out)
	}
	if code, out, _ := guichetEnv(t, dir, flood, "", "quarantine", "retry", "1"); code != 0 || !strings.Contains(out, "still quarantined") {
		t.Errorf("retry under the same limit: exit %d, %q", code, out)
	}
	if code, out, errs := guichetEnv(t, dir, map[string]string{"GUICHET_FLOOD_LIMIT": "0"}, "", "quarantine", "retry", "--all"); code != 0 || !strings.Contains(out, "released") {
		t.Errorf("retry after raising the limit: exit %d, %q %q", code, out, errs)
	}
	code, out, _ = guichetEnv(t, dir, nil, "", "ticket", "list", "--json")
	json.Unmarshal([]byte(out), &list)
	if len(list) != 2 {
		t.Errorf("%d tickets after the retry, want 2", len(list))
	}
	if code, _, errs := guichetEnv(t, dir, nil, "", "quarantine", "show", "99"); code != 1 || !strings.Contains(errs, "does not exist") {
		t.Errorf("unknown entry: exit %d, %q", code, errs)
	}
}

func TestIngestTempFail(t *testing.T) {
	dir := t.TempDir()
	// Not migrated yet: keep the mail, the MTA retries.
	if code, _, errs := guichetEnv(t, dir, nil, sampleMail, "ingest"); code != exitTempFail {
		t.Errorf("unmigrated database: exit %d (%s), want %d", code, errs, exitTempFail)
	}
	down := map[string]string{"GUICHET_DB": "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2"}
	if code, _, errs := guichetEnv(t, dir, down, sampleMail, "ingest"); code != exitTempFail {
		t.Errorf("database down: exit %d (%s), want %d", code, errs, exitTempFail)
	}
	_ = io.Discard
}

func TestMailboxStatusCommand(t *testing.T) {
	dir := t.TempDir()
	guichetEnv(t, dir, nil, "", "migrate")
	if code, out, _ := guichetEnv(t, dir, nil, "", "mailbox", "status"); code != 0 || !strings.Contains(out, "no mailbox has been read yet") {
		t.Errorf("empty status: %d %q", code, out)
	}
	if code, out, _ := guichetEnv(t, dir, nil, "", "mailbox", "status", "--json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("empty JSON status: %d %q", code, out)
	}
}
