package bounce

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// corpusRoot is the shared e-mail corpus, next to the repository.
const corpusRoot = "../../../shared/corpus"

// expectedRow is one line of bounces/sisimai/expected.tsv.
type expectedRow struct {
	file      string
	index     int // 1-based recipient index, 0 when none
	status    string
	replyCode string
	reason    string
	hard      string // "true", "false" or ""
}

func readExpected(t *testing.T, path string) map[string][]expectedRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("corpus expectations: %v", err)
	}
	defer f.Close()
	rows := map[string][]expectedRow{}
	sc := bufio.NewScanner(f)
	for n := 0; sc.Scan(); n++ {
		cols := strings.Split(sc.Text(), "\t")
		if n == 0 || len(cols) < 6 {
			continue
		}
		idx, _ := strconv.Atoi(cols[1])
		r := expectedRow{file: cols[0], index: idx, status: cols[2], replyCode: cols[3], reason: cols[4], hard: cols[5]}
		rows[r.file] = append(rows[r.file], r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return rows
}

// sisimaiSpecific reports a status Sisimai makes up when the bounce gives none: X.0.9xx is no
// RFC 3463 code (detail 900 and up are Sisimai's reason numbers), so only its class means
// anything. For those, any status of the same class is accepted.
func sisimaiSpecific(status string) bool {
	p := strings.Split(status, ".")
	if len(p) != 3 || p[1] != "0" {
		return false
	}
	d, err := strconv.Atoi(p[2])
	return err == nil && d >= 900
}

func TestSisimaiCorpus(t *testing.T) {
	root := filepath.Join(corpusRoot, "bounces", "sisimai")
	if _, err := os.Stat(root); err != nil {
		t.Fatalf("corpus folder missing: %v", err)
	}
	expected := readExpected(t, filepath.Join(root, "expected.tsv"))

	var files, recognised, rows, found, statusOK, replyRows, replyOK, hardRows, hardAgree int
	for _, dir := range []string{"bounce", "line-endings-dos", "line-endings-mac", "autoreply", "not-bounce", "feedback-report"} {
		entries, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			t.Fatalf("corpus folder %s: %v", dir, err)
		}
		for _, e := range entries {
			name := dir + "/" + e.Name()
			raw, err := os.ReadFile(filepath.Join(root, dir, e.Name()))
			if err != nil {
				t.Fatalf("reading %s: %v", name, err)
			}
			files++
			want := expected[name]
			reason := ""
			if len(want) > 0 {
				reason = want[0].reason
			}
			switch {
			case dir == "feedback-report" || reason == "feedback":
				if !IsFeedbackReport(raw) {
					t.Errorf("%s: IsFeedbackReport = false, want true", name)
				}
				if IsBounce(raw) {
					t.Errorf("%s: IsBounce = true, want false (a feedback report)", name)
				}
				continue
			case dir == "autoreply" || dir == "not-bounce" || reason == "vacation" || reason == "(not a bounce)" || len(want) == 0:
				if IsBounce(raw) {
					t.Errorf("%s: IsBounce = true, want false (%s)", name, reason)
				}
				if _, ok := Parse(raw); ok {
					t.Errorf("%s: Parse ok = true, want false", name)
				}
				continue
			}

			if !IsBounce(raw) {
				t.Errorf("%s: IsBounce = false, want true", name)
			}
			r, ok := Parse(raw)
			if !ok {
				t.Errorf("%s: Parse ok = false, want true", name)
				continue
			}
			recognised++
			highest := 0
			for _, w := range want {
				highest = max(highest, w.index)
			}
			if len(r.Recipients) < highest {
				t.Errorf("%s: got %d recipients, want at least %d", name, len(r.Recipients), highest)
			}
			seen := map[int]bool{}
			for _, w := range want {
				if w.index < 1 || seen[w.index] {
					continue // expected.tsv lists rfc3464-01 twice
				}
				seen[w.index] = true
				rows++
				if w.index > len(r.Recipients) {
					continue
				}
				found++
				got := r.Recipients[w.index-1]
				wantStatus := normStatus(w.status)
				switch {
				case got.Status == wantStatus:
					statusOK++
				case sisimaiSpecific(wantStatus) && got.Status != "" && got.Status[0] == wantStatus[0]:
					statusOK++ // Sisimai's own X.0.9xx code: same class is all one can ask
				default:
					t.Errorf("%s: recipient %d (%s) status: got %q, want %q (derived %v, diagnostic %q)",
						name, w.index, got.Address, got.Status, wantStatus, got.Derived, got.Diagnostic)
				}
				if wantPermanent := wantStatus != "" && wantStatus[0] == '5'; got.Permanent != wantPermanent {
					t.Errorf("%s: recipient %d Permanent: got %v, want %v (status class %q)", name, w.index, got.Permanent, wantPermanent, wantStatus)
				}
				if w.replyCode != "" {
					replyRows++
					if got.ReplyCode == w.replyCode {
						replyOK++
					} else {
						t.Logf("%s: recipient %d reply code: got %q, Sisimai %q", name, w.index, got.ReplyCode, w.replyCode)
					}
				}
				if w.hard == "true" || w.hard == "false" {
					hardRows++
					if strconv.FormatBool(got.Permanent) == w.hard {
						hardAgree++
					}
				}
			}
		}
	}
	t.Logf("sisimai corpus: %d files, %d bounces recognised and parsed; %d/%d expected recipients found, %d/%d statuses match (X.0.9xx by class), %d/%d reply codes match",
		files, recognised, found, rows, statusOK, rows, replyOK, replyRows)
	// Sisimai's hard_bounce is false for reasons it deems not the address's fault (filtered, spam,
	// security, mailbox full …) even on 5xx; Permanent follows the SMTP class only.
	t.Logf("agreement of Permanent with Sisimai's hard_bounce: %d/%d", hardAgree, hardRows)
}

// TestOtherCorpora runs IsBounce over the other folders of the corpus: DSN samples must be
// bounces, charset letters and mailing-list messages must not.
func TestOtherCorpora(t *testing.T) {
	if _, err := os.Stat(corpusRoot); err != nil {
		t.Fatalf("corpus folder missing: %v", err)
	}
	var total, bounces int
	for _, dir := range []string{"mime", "mailing-list", "charsets"} {
		base := filepath.Join(corpusRoot, dir)
		if _, err := os.Stat(base); err != nil {
			t.Fatalf("corpus folder missing: %v", err)
		}
		err := filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !isMessageFile(d.Name()) {
				return nil
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(corpusRoot, path)
			total++
			got := IsBounce(raw)
			lname := strings.ToLower(d.Name())
			dsnSample := strings.Contains(lname, "dsn") || strings.Contains(lname, "delivery-status") || strings.Contains(rel, "multipart_report")
			if got {
				bounces++
				r, ok := Parse(raw)
				var addrs []string
				for _, rc := range r.Recipients {
					addrs = append(addrs, rc.Address+" "+rc.Status)
				}
				t.Logf("bounce: %s (parsed %v, recipients %v, original %q)", rel, ok, addrs, r.OriginalMessageID)
			}
			switch {
			case dsnSample && !got:
				t.Errorf("%s: IsBounce = false, want true (a DSN sample)", rel)
			case !dsnSample && got && (dir == "charsets" || dir == "mailing-list"):
				t.Errorf("%s: IsBounce = true, want false (ordinary mail)", rel)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("walking %s: %v", base, err)
		}
	}
	t.Logf("other corpora: %d messages, %d called bounces", total, bounces)
}

// isMessageFile leaves out the corpus's expectation and documentation files.
func isMessageFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json", ".md", ".tsv", ".list", ".html", ".png", ".jpg", ".gif", ".pdf", ".dat", ".tnef":
		return false
	}
	return !strings.Contains(name, "expected")
}
