package ticket

import "testing"

func TestParseAnswer(t *testing.T) {
	for _, c := range []struct {
		in   string
		kind ActionKind
		rest string
	}{
		{"approve", ActApprove, ""},
		{"Approve.\n\nThanks, it works now.", ActApprove, "Thanks, it works now."},
		{"  APPROVED!", ActApprove, ""},
		{"I approve", ActApprove, ""},
		{"approuver", ActApprove, ""},
		{"J'approuve", ActApprove, ""},
		{"j’approuve.", ActApprove, ""},
		{"Approuvé", ActApprove, ""},
		{"refuse: the printer still jams", ActRefuse, "the printer still jams"},
		{"Refuse - still broken\nsee attached", ActRefuse, "still broken\nsee attached"},
		{"refuser : toujours en panne", ActRefuse, "toujours en panne"},
		{"Je refuse : ça ne marche pas", ActRefuse, "ça ne marche pas"},
		{"refuse:\nit does not print", ActRefuse, "it does not print"},
		{"refuse:", "", ""},                                  // no reason
		{"refuse", "", ""},                                   // no colon, no reason
		{"I approve of the idea but it still fails", "", ""}, // a sentence, not an answer
		{"approve?", "", ""},
		{"Please approve my leave", "", ""},
		{"", "", ""},
		{"thanks", "", ""},
	} {
		kind, rest, ok := ParseAnswer(c.in)
		if kind != c.kind || rest != c.rest || ok != (c.kind != "") {
			t.Errorf("ParseAnswer(%q) = %q, %q, %v; want %q, %q", c.in, kind, rest, ok, c.kind, c.rest)
		}
	}
}
