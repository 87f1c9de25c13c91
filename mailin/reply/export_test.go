package reply

// ScoreCase is one corpus input with its expectation, for the pipeline-level score test in
// package reply_test, which runs the raw file through mailin as `guichet inspect` does.
type ScoreCase struct {
	Name    string // path relative to the corpus folder
	Path    string // path of the raw file
	Skip    string
	Verdict func(got string) string // "" when got meets the expectation
}

// ScoreCases lists the scored inputs of the corpus.
func ScoreCases() ([]ScoreCase, error) {
	cases, _, err := loadCorpus()
	var out []ScoreCase
	for _, c := range cases {
		out = append(out, ScoreCase{Name: c.name, Path: corpusDir + "/" + c.name, Skip: c.skip, Verdict: c.verdict})
	}
	return out, err
}
