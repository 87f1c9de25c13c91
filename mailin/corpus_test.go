package mailin_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"guichet/mailin"
	"guichet/signed"
	"guichet/ticket"
)

const corpusDir = "../../shared/corpus"

// corpusFiles lists every message-like file of the shared corpus: everything but the manifests
// and the expectation files.
func corpusFiles(t testing.TB) []string {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		t.Fatalf("the shared corpus is missing: %v", err)
	}
	var files []string
	filepath.WalkDir(corpusDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			switch {
			case name == "trimmed", name == "elided", name == "embedded", name == "before", name == "expected", strings.HasSuffix(name, ".expected"):
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case name == "MANIFEST.md", name == "README.md", name == "FILES.tsv", strings.Contains(name, "expected"),
			strings.HasSuffix(name, ".json"), strings.HasSuffix(name, ".tsv"), strings.HasSuffix(name, ".list"):
			return nil
		}
		files = append(files, path)
		return nil
	})
	sort.Strings(files)
	return files
}

// TestCorpus runs every message of the corpus through the whole pipeline into a real store:
// nothing panics, nothing fails, bounces are bounces and auto-replies auto-replies.
func TestCorpus(t *testing.T) {
	f := newFixture(t, func(c *mailin.Config) { c.FloodLimit = 0 })
	files := corpusFiles(t)
	kinds := map[string]int{}
	// What sisimai's expectations say each of its files is, from the reason column.
	want := map[string]string{}
	tsv, err := os.ReadFile(corpusDir + "/bounces/sisimai/expected.tsv")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(tsv), "\n")[1:] {
		cols := strings.Split(line, "\t")
		if len(cols) < 5 {
			continue
		}
		kind := mailin.KindBounce
		switch cols[4] {
		case "vacation", "feedback": // feedback reports are kept like auto-replies: never a ticket
			kind = mailin.KindAutoReply
		case "(not a bounce)":
			kind = mailin.KindNew
		}
		want["bounces/sisimai/"+cols[0]] = kind
	}
	if len(want) < 60 {
		t.Fatalf("read %d expectations from expected.tsv", len(want))
	}
	for _, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		a, d, err := f.p.Ingest(context.Background(), raw, &mailin.Envelope{Source: "corpus"})
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		kinds[a.Kind]++
		rel := strings.TrimPrefix(path, corpusDir+"/")
		switch {
		case want[rel] != "":
			if a.Kind != want[rel] {
				t.Errorf("%s: kind %s, want %s", rel, a.Kind, want[rel])
			}
		case strings.HasPrefix(rel, "charsets/"):
			if a.Kind != mailin.KindNew && a.Kind != mailin.KindFollowUp {
				t.Errorf("%s: kind %s (%s), want a ticket", rel, a.Kind, a.Why)
			}
		}
		if (a.Kind == mailin.KindBounce || a.Kind == mailin.KindAutoReply) && d.Created {
			t.Errorf("%s: a %s created a ticket", rel, a.Kind)
		}
	}
	t.Logf("%d corpus files: %v", len(files), kinds)
}

func FuzzAnalyze(f *testing.F) {
	for i, path := range corpusFiles(f) {
		if i%7 == 0 { // a spread of the corpus as seeds
			if raw, err := os.ReadFile(path); err == nil && len(raw) < 64<<10 {
				f.Add(raw)
			}
		}
	}
	sg, _ := signed.New([]byte("a test secret of enough bytes"))
	p := mailin.New(mailin.Config{SupportAddresses: []string{"support@support.example"}, NoreplyAddress: "noreply@support.example",
		TagPrefix: "#", Policy: ticket.DefaultPolicy()}, sg, nil)
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := p.Analyze(context.Background(), raw, nil)
		if err != nil || a == nil || a.Kind == "" {
			t.Fatalf("Analyze: %+v, %v", a, err)
		}
	})
}

// BenchmarkPipeline measures Analyze over the whole corpus, in MB/s of raw mail.
func BenchmarkPipeline(b *testing.B) {
	var msgs [][]byte
	var total int64
	for _, path := range corpusFiles(b) {
		raw, _ := os.ReadFile(path)
		msgs = append(msgs, raw)
		total += int64(len(raw))
	}
	sg, _ := signed.New([]byte("a test secret of enough bytes"))
	p := mailin.New(mailin.Config{SupportAddresses: []string{"support@support.example"}, TagPrefix: "#", Policy: ticket.DefaultPolicy()},
		sg, &mailin.Options{Now: func() time.Time { return clock }})
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		for _, raw := range msgs {
			p.Analyze(context.Background(), raw, nil)
		}
	}
}
