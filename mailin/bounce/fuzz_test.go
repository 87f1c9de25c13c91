package bounce

import (
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds the parser arbitrary input: it must never panic (the internal parse is called,
// without the recover of Parse) and what it returns must hold together.
func FuzzParse(f *testing.F) {
	for _, seed := range [][]byte{dsnMinimal, dsnDelayed, postfixText, exchangeNDR, exchangeFrench, eximMulti, dsnMulti} {
		f.Add(seed)
	}
	for _, name := range []string{
		"bounce/lhost-qmail-01.eml", "bounce/lhost-exchange2003-01.eml", "bounce/lhost-x5-01.eml",
		"bounce/lhost-amazonworkmail-01.eml", "bounce/lhost-x1-01.eml", "bounce/lhost-kddi-01.eml",
		"line-endings-mac/lhost-postfix-01.eml", "feedback-report/arf-01.eml", "autoreply/rfc3834-02.eml",
	} {
		if b, err := os.ReadFile(filepath.Join(corpusRoot, "bounces", "sisimai", name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := readMessage(raw, 0)
		m.isFeedback()
		r, ok := parse(raw)
		if !ok {
			if len(r.Recipients) > 0 {
				t.Fatalf("not a bounce, yet %d recipients", len(r.Recipients))
			}
			return
		}
		for _, rc := range r.Recipients {
			if rc.Address == "" {
				t.Errorf("recipient without an address: %+v", rc)
			}
			if rc.Status == "" || normStatus(rc.Status) != rc.Status {
				t.Errorf("got status %q, want a normalised enhanced code", rc.Status)
			}
			if rc.Permanent != (rc.Status[0] == '5') {
				t.Errorf("got Permanent %v for status %q", rc.Permanent, rc.Status)
			}
			if len(rc.Diagnostic) > maxDiagnostic || !utf8.ValidString(rc.Diagnostic) {
				t.Errorf("got a diagnostic of %d bytes (valid UTF-8: %v)", len(rc.Diagnostic), utf8.ValidString(rc.Diagnostic))
			}
		}
	})
}
