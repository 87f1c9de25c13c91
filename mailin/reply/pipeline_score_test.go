package reply_test

import (
	"context"
	"os"
	"testing"

	"guichet/mailin"
	"guichet/mailin/reply"
	"guichet/signed"
	"guichet/ticket"
)

// TestPipelineScore is the score README reports: every corpus input with an expected visible
// text, read from its file by the whole inbound pipeline, and its `text` (what guichet inspect
// prints) compared, whitespace-normalised, with the expectation.
func TestPipelineScore(t *testing.T) {
	cases, err := reply.ScoreCases()
	if err != nil {
		t.Fatal(err)
	}
	sg, _ := signed.New([]byte("a test secret of enough bytes"))
	p := mailin.New(mailin.Config{SupportAddresses: []string{"support@example.com"}, TagPrefix: "#", Policy: ticket.DefaultPolicy()}, sg, nil)
	passed, total := 0, 0
	for _, c := range cases {
		if c.Skip != "" {
			continue
		}
		raw, err := os.ReadFile(c.Path)
		if err != nil {
			t.Fatal(err)
		}
		total++
		a, err := p.Analyze(context.Background(), raw, nil)
		if err != nil {
			t.Fatal(err)
		}
		if why := c.Verdict(a.Text); why != "" {
			t.Logf("FAIL %s: %s", c.Name, why)
			continue
		}
		passed++
	}
	pct := 100 * float64(passed) / float64(total)
	t.Logf("score through the pipeline: %d/%d (%.1f%%)", passed, total, pct)
	if total < 100 || pct < 95 {
		t.Errorf("got %d/%d (%.1f%%), want at least 95%% of at least 100 inputs", passed, total, pct)
	}
}
