package reply

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// corpusDir is the shared reply-stripping corpus, seen from this package's directory.
const corpusDir = "../../../shared/corpus/reply-stripping"

// corpusCase is one input of the corpus with what the upstream project expects of it.
type corpusCase struct {
	name  string // path relative to corpusDir
	input string
	html  bool   // run StripHTML rather than Strip
	want  string // expected visible text, compared whitespace-normalised
	// check, when set, replaces the comparison with want: it returns "" when got is right.
	check func(got string) string
	// skip, when set, says why the input has no expectation: it is only benchmarked.
	skip string
}

// run strips the case's input.
func (c corpusCase) run() string {
	if c.html {
		got, _ := StripHTML(c.input, nil)
		return got
	}
	got, _ := Strip(c.input, nil)
	return got
}

// verdict returns "" when got meets the expectation, or what is wrong.
func (c corpusCase) verdict(got string) string {
	if c.check != nil {
		return c.check(got)
	}
	if normalizeSpace(got) != normalizeSpace(c.want) {
		return fmt.Sprintf("got %q, want %q", shorten(normalizeSpace(got)), shorten(normalizeSpace(c.want)))
	}
	return ""
}

// normalizeSpace collapses all runs of white space to one space and trims.
func normalizeSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func shorten(s string) string {
	if r := []rune(s); len(r) > 160 {
		return string(r[:160]) + "…"
	}
	return s
}

// loadCorpus enumerates every input of the corpus with its expected visible text; the inputs
// without one come with the reason (skip), and the files that are not inputs at all are listed
// in skipped.
func loadCorpus() (cases []corpusCase, skipped []string, err error) {
	if st, err := os.Stat(corpusDir); err != nil || !st.IsDir() {
		return nil, nil, fmt.Errorf("corpus directory %s is missing", corpusDir)
	}
	for _, load := range []func() ([]corpusCase, []string, error){loadDiscourse, loadGithub, loadTalon} {
		c, s, err := load()
		if err != nil {
			return nil, nil, err
		}
		cases = append(cases, c...)
		skipped = append(skipped, s...)
	}
	if len(cases) == 0 {
		return nil, nil, errors.New("the corpus holds no case")
	}
	return cases, skipped, nil
}

func readFile(rel string) (string, error) {
	b, err := os.ReadFile(filepath.Join(corpusDir, rel))
	return string(b), err
}

func exists(rel string) bool {
	_, err := os.Stat(filepath.Join(corpusDir, rel))
	return err == nil
}

func glob(pattern string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(corpusDir, pattern))
	if err != nil {
		return nil, err
	}
	rels := make([]string, 0, len(paths))
	for _, p := range paths {
		rel, err := filepath.Rel(corpusDir, p)
		if err != nil {
			return nil, err
		}
		rels = append(rels, filepath.ToSlash(rel))
	}
	sort.Strings(rels)
	return rels, nil
}

// loadDiscourse: emails/X.txt is trimmed to trimmed/X.txt.
func loadDiscourse() ([]corpusCase, []string, error) {
	const dir = "discourse-email_reply_trimmer"
	inputs, err := glob(dir + "/emails/*.txt")
	if err != nil {
		return nil, nil, err
	}
	var cases []corpusCase
	var skipped []string
	for _, in := range inputs {
		want := dir + "/trimmed/" + filepath.Base(in)
		input, err := readFile(in)
		if err != nil {
			return nil, nil, err
		}
		if !exists(want) {
			cases = append(cases, corpusCase{name: in, input: input, skip: "no trimmed/ expectation"})
			continue
		}
		w, err := readFile(want)
		if err != nil {
			return nil, nil, err
		}
		cases = append(cases, corpusCase{name: in, input: input, want: w})
	}
	return cases, skipped, nil
}

// githubExpectation is expected/X.json of github-email_reply_parser.
type githubExpectation struct {
	VisibleText *string `json:"visible_text"`
	Fragments   *struct {
		Count  int    `json:"count"`
		Quoted []bool `json:"quoted"`
		Hidden []bool `json:"hidden"`
	} `json:"fragments"`
	Checks []struct {
		Index    int     `json:"index"`
		Equals   *string `json:"equals"`
		Regex    *string `json:"regex"`
		Contains *string `json:"contains"`
	} `json:"fragment_checks"`
}

// loadGithub: the visible text is the json's visible_text, or else the text of the fragments
// before the first hidden one (email_reply_parser hides trailing fragments only), located in the
// input with the json's anchored fragment checks; a single fragment is the whole text.
func loadGithub() ([]corpusCase, []string, error) {
	const dir = "github-email_reply_parser"
	inputs, err := glob(dir + "/emails/*.txt")
	if err != nil {
		return nil, nil, err
	}
	var cases []corpusCase
	var skipped []string
	for _, in := range inputs {
		base := strings.TrimSuffix(filepath.Base(in), ".txt")
		js, err := readFile(dir + "/expected/" + base + ".json")
		if err != nil {
			skipped = append(skipped, in+": no expected/ json")
			continue
		}
		var e githubExpectation
		if err := json.Unmarshal([]byte(js), &e); err != nil {
			return nil, nil, fmt.Errorf("%s: %v", in, err)
		}
		input, err := readFile(in)
		if err != nil {
			return nil, nil, err
		}
		want, why := githubVisible(strings.ReplaceAll(input, "\r\n", "\n"), e)
		cases = append(cases, corpusCase{name: in, input: input, want: want, skip: why})
	}
	return cases, skipped, nil
}

// githubVisible derives the visible text of an input from its expectation, or says why it
// cannot.
func githubVisible(text string, e githubExpectation) (string, string) {
	if e.VisibleText != nil {
		return *e.VisibleText, ""
	}
	f := e.Fragments
	if f == nil {
		return "", "the json states neither visible_text nor which fragments are hidden"
	}
	if len(f.Hidden) == 0 {
		if f.Count == 1 {
			return text, "" // a single fragment, the first, is never hidden
		}
		return "", "the json does not state which fragments are hidden"
	}
	first := -1
	for i, h := range f.Hidden {
		if h && first < 0 {
			first = i
		}
		if !h && first >= 0 {
			return "", "hidden fragments are not all trailing"
		}
	}
	if first < 0 {
		return text, ""
	}
	if first == 0 {
		return "", ""
	}
	// Locate the start of each fragment the checks anchor, in order.
	starts := map[int]int{}
	cursor := 0
	sort.SliceStable(e.Checks, func(i, j int) bool { return e.Checks[i].Index < e.Checks[j].Index })
	for _, c := range e.Checks {
		if c.Index > first {
			break
		}
		pos := -1
		switch {
		case c.Equals != nil:
			if i := strings.Index(text[cursor:], *c.Equals); i >= 0 {
				pos = cursor + i
			}
		case c.Regex != nil && strings.HasPrefix(*c.Regex, "^"):
			re, err := regexp.Compile("(?m)" + *c.Regex)
			if err != nil {
				return "", "fragment regex does not compile: " + err.Error()
			}
			if loc := re.FindStringIndex(text[cursor:]); loc != nil {
				pos = cursor + loc[0]
			}
		}
		if pos >= 0 {
			starts[c.Index] = pos
			cursor = pos
		}
	}
	if pos, ok := starts[first]; ok {
		return text[:pos], ""
	}
	// The fragment before is anchored and the first hidden one differs in quoting: it starts at
	// the first line after it whose quoting changes.
	prev, ok := starts[first-1]
	if !ok || len(f.Quoted) <= first || f.Quoted[first] == f.Quoted[first-1] {
		return "", "the checks do not locate the first hidden fragment"
	}
	offset := prev
	for _, l := range strings.SplitAfter(text[prev:], "\n") {
		quoted := strings.HasPrefix(strings.TrimLeft(l, " \t"), ">")
		if quoted == f.Quoted[first] && offset > prev {
			return text[:offset], ""
		}
		offset += len(l)
	}
	return "", "the first hidden fragment is not found"
}

// talonSignature is talon's signature fixture: body minus signature.
func talonSignature(body, sig string) (string, bool) {
	body, sig = strings.TrimSpace(body), strings.TrimSpace(sig)
	if sig == "" {
		return body, true
	}
	if !strings.HasSuffix(body, sig) {
		return "", false
	}
	return strings.TrimSuffix(body, sig), true
}

// loadTalon: standard_replies/*.eml (first text/plain part) → X.expected.txt, html_replies/*.html
// → X.expected.txt, misc/*.html → X.expected.html (as text), misc/*.eml (the raw file as a plain
// body) → X.expected.json's checks, signature_stripped/X_body → X_body minus X_signature.
func loadTalon() ([]corpusCase, []string, error) {
	const dir = "talon"
	var cases []corpusCase
	var skipped []string

	emls, err := glob(dir + "/standard_replies/*.eml")
	if err != nil {
		return nil, nil, err
	}
	for _, in := range emls {
		want, err := readFile(strings.TrimSuffix(in, ".eml") + ".expected.txt")
		if err != nil {
			skipped = append(skipped, in+": no expected text")
			continue
		}
		raw, err := readFile(in)
		if err != nil {
			return nil, nil, err
		}
		body, err := plainBody([]byte(raw))
		if err != nil {
			skipped = append(skipped, in+": no text/plain part: "+err.Error())
			continue
		}
		cases = append(cases, corpusCase{name: in, input: body, want: want})
	}

	htmls, err := glob(dir + "/html_replies/*.html")
	if err != nil {
		return nil, nil, err
	}
	for _, in := range htmls {
		want, err := readFile(strings.TrimSuffix(in, ".html") + ".expected.txt")
		if err != nil {
			skipped = append(skipped, in+": no expected text")
			continue
		}
		input, err := readFile(in)
		if err != nil {
			return nil, nil, err
		}
		cases = append(cases, corpusCase{name: in, input: input, html: true, want: want})
	}

	misc, err := glob(dir + "/misc/*")
	if err != nil {
		return nil, nil, err
	}
	for _, in := range misc {
		if strings.Contains(filepath.Base(in), ".expected.") {
			continue
		}
		input, err := readFile(in)
		if err != nil {
			return nil, nil, err
		}
		stem := strings.TrimSuffix(in, filepath.Ext(in))
		switch {
		case strings.HasSuffix(in, ".html") && exists(stem+".expected.html"):
			want, err := readFile(stem + ".expected.html")
			if err != nil {
				return nil, nil, err
			}
			cases = append(cases, corpusCase{name: in, input: input, html: true, want: HTMLToText(want)})
		case exists(stem + ".expected.json"):
			js, err := readFile(stem + ".expected.json")
			if err != nil {
				return nil, nil, err
			}
			var e struct {
				NonEmpty       bool     `json:"result_non_empty"`
				MustNotContain []string `json:"result_must_not_contain"`
			}
			if err := json.Unmarshal([]byte(js), &e); err != nil {
				return nil, nil, fmt.Errorf("%s: %v", in, err)
			}
			cases = append(cases, corpusCase{name: in, input: input, check: func(got string) string {
				if e.NonEmpty && strings.TrimSpace(got) == "" {
					return "got an empty text, want a non-empty one"
				}
				for _, s := range e.MustNotContain {
					if strings.Contains(got, s) {
						return fmt.Sprintf("got %q, want no %q in it", shorten(normalizeSpace(got)), s)
					}
				}
				return ""
			}})
		default:
			skipped = append(skipped, in+": no expectation")
		}
	}

	bodies, err := glob(dir + "/signature_stripped/*_body")
	if err != nil {
		return nil, nil, err
	}
	for _, in := range bodies {
		stem := strings.TrimSuffix(in, "_body")
		body, err := readFile(in)
		if err != nil {
			return nil, nil, err
		}
		sig, err := readFile(stem + "_signature")
		if err != nil {
			skipped = append(skipped, in+": no _signature file")
			continue
		}
		want, ok := talonSignature(body, sig)
		if !ok {
			skipped = append(skipped, in+": the signature is not the end of the body")
			continue
		}
		cases = append(cases, corpusCase{name: in, input: body, want: want})
	}
	return cases, skipped, nil
}

// plainBody returns the first text/plain part of a message, decoded to UTF-8 (for the charsets
// of the corpus: UTF-8, US-ASCII and ISO-8859-1).
func plainBody(raw []byte) (string, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return "", err
	}
	text, ok, err := partText(textproto.MIMEHeader(msg.Header), msg.Body)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errors.New("no text/plain part")
	}
	return text, nil
}

func partText(h textproto.MIMEHeader, body io.Reader) (string, bool, error) {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", false, err
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return "", false, nil
			}
			if err != nil {
				return "", false, err
			}
			text, ok, err := partText(p.Header, p)
			if err != nil || ok {
				return text, ok, err
			}
		}
	}
	if mt != "text/plain" {
		return "", false, nil
	}
	var r io.Reader = body
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body) // it skips line breaks
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return "", false, err
	}
	if cs := strings.ToLower(params["charset"]); cs == "iso-8859-1" || cs == "latin1" {
		runes := make([]rune, len(b))
		for i, c := range b {
			runes[i] = rune(c)
		}
		return string(runes), true, nil
	}
	return string(b), true, nil
}
