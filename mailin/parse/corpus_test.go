package parse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
)

// The shared e-mail corpus lives beside the repository (see
// /work/shared/corpus/README.md). The corpus tests fail when it is missing.
const corpusDir = "../../../shared/corpus"

func corpusPath(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(corpusDir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("corpus missing: %v", err)
	}
	return p
}

func parseFile(t testing.TB, path string) (*Message, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Parse(f, nil)
}

// normWS collapses white space, for body comparisons.
func normWS(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestCharsetCorpus checks the 27 messages of charsets/letters against
// their expected.json: decoded subject, text and HTML bodies, attachment
// names; and the tolerant behaviour the notes ask for.
func TestCharsetCorpus(t *testing.T) {
	dir := corpusPath(t, "charsets/letters")
	files, err := filepath.Glob(filepath.Join(dir, "*.expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 27 {
		t.Errorf("got %d expectation files, want 27", len(files))
	}
	checks, passed := 0, 0
	check := func(ok bool, format string, args ...any) {
		checks++
		if ok {
			passed++
			return
		}
		t.Errorf(format, args...)
	}
	for _, ef := range files {
		name := strings.TrimSuffix(filepath.Base(ef), ".expected.json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(ef)
			if err != nil {
				t.Fatal(err)
			}
			var want struct {
				Subject              *string  `json:"subject"`
				Text                 *string  `json:"text"`
				HTML                 *string  `json:"html"`
				Attachments          []string `json:"attachment_filenames_in_headers"`
				TopLevelContentType  string   `json:"top_level_content_type"`
				ContentDisposition   string   `json:"content_disposition"`
				LettersBehaviour     string   `json:"letters_behaviour"`
				TopLevelCharsetParam string   `json:"top_level_charset_param"`
			}
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			m, err := parseFile(t, filepath.Join(dir, name+".txt"))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if want.Subject != nil {
				check(m.Subject == *want.Subject, "%s: subject: got %q, want %q", name, m.Subject, *want.Subject)
			}
			if want.Text != nil {
				check(normWS(m.Text) == normWS(*want.Text), "%s: text:\ngot  %q\nwant %q", name, m.Text, *want.Text)
			}
			if want.HTML != nil {
				check(normWS(m.HTML) == normWS(*want.HTML), "%s: html:\ngot  %q\nwant %q", name, m.HTML, *want.HTML)
			}
			// enriched_text is not compared: the text/enriched alternative is
			// only used when a message has no text/plain (these all have one).
			for _, a := range want.Attachments {
				found := false
				for _, p := range m.Attachments {
					found = found || p.Filename == a
				}
				check(found, "%s: attachment %q missing (got %v)", name, a, attachmentNames(m))
			}
			if want.TopLevelContentType != "" {
				check(len(m.Attachments) == 1 && m.Attachments[0].ContentType == want.TopLevelContentType,
					"%s: got attachments %v, want one %s", name, attachmentNames(m), want.TopLevelContentType)
			}
			if want.LettersBehaviour != "" {
				// Upstream fails with ErrUnknownCharset; a gateway must not:
				// the body is kept and a warning names the charset.
				check(strings.TrimSpace(m.Text) == "body", "%s: text: got %q, want %q", name, m.Text, "body")
				check(hasWarning(m, "x-invalid"), "%s: no warning names the unknown charset: %q", name, m.Warnings)
			}
		})
	}
	t.Logf("charsets/letters: %d files, %d/%d checks passed", len(files), passed, checks)
}

func attachmentNames(m *Message) []string {
	var n []string
	for _, a := range m.Attachments {
		n = append(n, fmt.Sprintf("%s (%s, %d)", a.Filename, a.ContentType, len(a.Data)))
	}
	return n
}

func hasWarning(m *Message, sub string) bool {
	for _, w := range m.Warnings {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

// stalwartMessage is the part of mail_parser::Message the test uses.
type stalwartMessage struct {
	TextBody    []int          `json:"text_body"`
	HTMLBody    []int          `json:"html_body"`
	Attachments []int          `json:"attachments"`
	Parts       []stalwartPart `json:"parts"`
}

type stalwartPart struct {
	Headers []struct {
		Name  json.RawMessage `json:"name"`
		Value json.RawMessage `json:"value"`
	} `json:"headers"`
	Body map[string]json.RawMessage `json:"body"`
}

// header returns the raw value of the header called name ("subject",
// "from", "content_type" …), or nil.
func (p stalwartPart) header(name string) json.RawMessage {
	for _, h := range p.Headers {
		var n string
		if json.Unmarshal(h.Name, &n) == nil && n == name {
			return h.Value
		}
	}
	return nil
}

// param returns a parameter of a content_type / content_disposition header.
func (p stalwartPart) param(header, name string) string {
	var v struct {
		ContentType struct {
			Attributes []struct{ Name, Value string } `json:"attributes"`
		}
	}
	if raw := p.header(header); raw != nil && json.Unmarshal(raw, &v) == nil {
		for _, a := range v.ContentType.Attributes {
			if strings.EqualFold(a.Name, name) {
				return a.Value
			}
		}
	}
	return ""
}

// stalwartSkips lists the expectations of the Stalwart corpus that do not
// fit this parser, with the reason. Keys are "file:check".
var stalwartSkips = map[string]string{
	// Broken boundaries. Stalwart (after Dovecot) keeps a multipart open
	// across its parent's boundary and turns what follows into a broken
	// attachment; this parser closes it there (RFC 2046) and keeps every
	// text part as text, so nothing is lost but the split differs.
	"malformed/001.json:text":  "inner multipart closed at the parent's boundary: its stray '--a' line is text here",
	"malformed/004.json:text":  "'--ab' is not boundary 'a': the multipart has no part and its whole body is kept as text",
	"malformed/009.json:text":  "all three text parts are kept here; Stalwart keeps '1' and makes '22…333' a broken attachment",
	"malformed/011.json:text":  "same file as malformed/009",
	"malformed/016.json:text":  "a boundary whose multipart was closed is content here; Stalwart still honours it",
	"thirdparty/005.json:text": "'invalid--1--' has no line break before the final boundary: it is content (RFC 2046)",
	// Parts Stalwart makes attachments and this parser body text.
	"malformed/002.json:text": "multipart without boundary: Stalwart makes the body an attachment, here it is the text",
	"malformed/003.json:text": "nested multipart reusing the parent's boundary: its text is an attachment for Stalwart, body text here",
	"malformed/006.json:text": "text of an unclosed nested multipart: an attachment for Stalwart, body text here",
	// Choices.
	"malformed/019.json:text":  "fuzzed garbage: the broken part header is recovered differently",
	"malformed/020.json:text":  "two Content-Type fields: Stalwart takes the last (text/plain), this parser the first (multipart/alternative), as mikel-mail's multiple_content_types.eml needs",
	"malformed/021.json:text":  "same as malformed/020",
	"thirdparty/000.json:text": "two text/plain alternatives: Stalwart (JMAP) concatenates them, this parser keeps the first one",
	"thirdparty/001.json:text": "three text/plain alternatives: Stalwart (JMAP) concatenates them, this parser keeps the first one",
	"thirdparty/002.json:text": "invalid UTF-8 after 'yötä vaan.': Stalwart writes U+FFFD, this parser drops the junk after base64 padding and decodes the garbage part as windows-1252",
}

// TestStalwartCorpus compares the parse of the Stalwart mail-parser corpus
// (rfc/, thirdparty/, malformed/) with its parse trees: decoded subject,
// From, text body, attachment names and sizes.
func TestStalwartCorpus(t *testing.T) {
	root := corpusPath(t, "mime/stalwart-mail-parser")
	files, err := filepath.Glob(filepath.Join(root, "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 50 {
		t.Fatalf("got %d parse trees, want 53", len(files))
	}
	type tally struct{ ok, skipped, failed int }
	usedSkips := map[string]bool{}
	counts := map[string]*tally{"subject": {}, "from": {}, "text": {}, "attach": {}}
	result := func(key, kind string, ok bool, format string, args ...any) {
		c := counts[kind]
		switch {
		case ok:
			c.ok++
		case stalwartSkips[key+":"+kind] != "":
			c.skipped++
			usedSkips[key+":"+kind] = true
			t.Logf("skipped %s:%s (%s): %s", key, kind, stalwartSkips[key+":"+kind], fmt.Sprintf(format, args...))
		default:
			c.failed++
			t.Errorf("%s: "+format, append([]any{key}, args...)...)
		}
	}
	for _, jf := range files {
		key := filepath.ToSlash(strings.TrimPrefix(jf, root+string(filepath.Separator)))
		raw, err := os.ReadFile(jf)
		if err != nil {
			t.Fatal(err)
		}
		var want stalwartMessage
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		m, err := parseFile(t, strings.TrimSuffix(jf, ".json")+".eml")
		if err != nil {
			t.Errorf("%s: Parse: %v", key, err)
			continue
		}
		top := want.Parts[0]

		// Subject.
		var subj struct{ Text string }
		if raw := top.header("subject"); raw != nil {
			_ = json.Unmarshal(raw, &subj)
		}
		result(key, "subject", m.Subject == strings.TrimSpace(subj.Text), "subject: got %q, want %q", m.Subject, subj.Text)

		// From: the first mailbox.
		var from struct {
			Address struct {
				List []struct {
					Name    *string `json:"name"`
					Address *string `json:"address"`
				}
			}
		}
		if raw := top.header("from"); raw != nil {
			_ = json.Unmarshal(raw, &from)
		}
		var wantFrom Address
		if l := from.Address.List; len(l) > 0 {
			if l[0].Address != nil {
				wantFrom.Address = strings.ToLower(*l[0].Address)
			}
			if l[0].Name != nil {
				wantFrom.Name = *l[0].Name
			}
		}
		result(key, "from", m.From == wantFrom, "from: got %+v, want %+v", m.From, wantFrom)

		// Text: the text/plain parts of the JMAP text body, when the text
		// body holds nothing else (no HTML converted to text, no image).
		var texts []string
		plainOnly := true
		for _, i := range want.TextBody {
			if i >= len(want.Parts) {
				plainOnly = false
				break
			}
			b := want.Parts[i].Body
			var s string
			if r, ok := b["Text"]; ok && json.Unmarshal(r, &s) == nil {
				texts = append(texts, s)
				continue
			}
			plainOnly = false
		}
		if plainOnly {
			result(key, "text", normWS(m.Text) == normWS(strings.Join(texts, "\n")), "text: got %q, want %q", m.Text, strings.Join(texts, "\n"))
		}

		// Attachments: every named one, with its size for binary content.
		for _, i := range want.Attachments {
			if i >= len(want.Parts) {
				continue
			}
			p := want.Parts[i]
			name := p.param("content_disposition", "filename")
			if name == "" {
				name = p.param("content_type", "name")
			}
			if name == "" {
				continue
			}
			size := -1
			for _, k := range []string{"Binary", "InlineBinary"} {
				if r, ok := p.Body[k]; ok {
					var b []int
					if json.Unmarshal(r, &b) == nil {
						size = len(b)
					}
				}
			}
			found := false
			for _, a := range m.Attachments {
				if a.Filename == name && (size < 0 || len(a.Data) == size) {
					found = true
				}
			}
			result(key, "attach", found, "attachment %q (%d bytes) not found in %v", name, size, attachmentNames(m))
		}
	}
	for k := range stalwartSkips {
		if !usedSkips[k] {
			t.Errorf("stalwartSkips[%q] is not needed any more: remove it", k)
		}
	}
	var kinds []string
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		c := counts[k]
		t.Logf("stalwart %-7s: %d matched, %d skipped (documented), %d failed", k, c.ok, c.skipped, c.failed)
	}
}

// messageFile tells which corpus files are messages for TestWholeCorpus.
var (
	notMessage  = regexp.MustCompile(`(?i)(MANIFEST\.md|\.json|\.tsv|\.list|expected|COPYING|\.tnef|\.rtf|\.png|\.jpe?g|\.mp3|\.ini|\.cfg|\.sys|\.bat|\.htm)$|\.expected/|/expected/|/(trimmed|elided|embedded|before)/`)
	headerStart = regexp.MustCompile(`(?i)^(From |(From|To|Cc|Subject|Date|Received|Return-Path|Delivered-To|MIME-Version|Content-Type|Message-ID|X-[A-Za-z0-9-]+):)`)
)

// isMessageFile selects the corpus files that are messages: everything
// under mime/, bounces/, mailing-list/, charsets/ and tnef/*.eml except the
// expectation and data files; .eml, .msg and headed .txt files elsewhere.
func isMessageFile(rel string, data []byte) bool {
	rel = filepath.ToSlash(rel)
	if notMessage.MatchString(rel) {
		return false
	}
	for _, d := range []string{"mime/", "bounces/", "mailing-list/", "charsets/"} {
		if strings.HasPrefix(rel, d) {
			return true
		}
	}
	if strings.HasPrefix(rel, "tnef/") {
		return strings.HasSuffix(rel, ".eml") && !strings.Contains(rel, "winmail-dat/")
	}
	switch strings.ToLower(filepath.Ext(rel)) {
	case ".eml", ".msg":
		return true
	case ".txt", "":
		return headerStart.Match(data)
	}
	return false
}

// isReplyBody tells the reply-stripping plain and HTML bodies (the inputs of
// the upstream tests, not their expectations).
func isReplyBody(rel string) bool {
	rel = filepath.ToSlash(rel)
	if !strings.HasPrefix(rel, "reply-stripping/") || notMessage.MatchString(rel) {
		return false
	}
	switch filepath.Ext(rel) {
	case ".txt", ".html", "":
		return !strings.HasSuffix(rel, "_signature")
	}
	return false
}

// TestWholeCorpus parses every message of the corpus: no panic, no error
// (unless the file has no header at all), valid UTF-8 everywhere, Size
// right; it logs how many needed warnings, and of which kind. The
// reply-stripping bodies, which are no messages, are parsed too.
func TestWholeCorpus(t *testing.T) {
	root := corpusPath(t, "")
	var total, withWarnings, noHeader, nWarnings, attachments, embedded, bodies, bodiesAsText int
	perFolder := map[string]int{}
	kinds := map[string]int{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !isMessageFile(rel, data) {
			if isReplyBody(rel) {
				// Not messages, but what a gateway may be fed all the same:
				// taken as text, never an error unless blank.
				bodies++
				m, err := Parse(bytes.NewReader(data), nil)
				switch {
				case err != nil && len(bytes.TrimSpace(data)) > 0:
					t.Errorf("%s: Parse: %v", rel, err)
				case err == nil:
					checkUTF8(t, rel, m)
					if m.NoHeader {
						bodiesAsText++
					}
				}
			}
			return nil
		}
		total++
		perFolder[strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]]++
		var m *Message
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: panic: %v", rel, r)
				}
			}()
			m, err = Parse(bytes.NewReader(data), nil)
		}()
		if err != nil {
			if len(bytes.TrimSpace(data)) > 0 {
				t.Errorf("%s: Parse: %v", rel, err)
			}
			return nil
		}
		if m == nil {
			return nil
		}
		if m.Size != int64(len(data)) {
			t.Errorf("%s: Size: got %d, want %d", rel, m.Size, len(data))
		}
		checkUTF8(t, rel, m)
		if len(m.Warnings) > 0 {
			withWarnings++
			nWarnings += len(m.Warnings)
		}
		for _, w := range m.Warnings {
			kinds[warningKind(w)]++
		}
		if m.NoHeader {
			noHeader++
		}
		attachments += len(m.Attachments)
		embedded += len(m.Embedded)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total < 300 {
		t.Errorf("got %d message files, want more than 300", total)
	}
	t.Logf("whole corpus: %d messages parsed (%v); %d with warnings (%d warnings), %d without header block; %d attachments, %d attached messages",
		total, perFolder, withWarnings, nWarnings, noHeader, attachments, embedded)
	t.Logf("reply-stripping bodies (not messages): %d parsed, %d of them as header-less text", bodies, bodiesAsText)
	type kc struct {
		kind  string
		count int
	}
	var top []kc
	for k, c := range kinds {
		top = append(top, kc{k, c})
	}
	sort.Slice(top, func(i, j int) bool {
		return top[i].count > top[j].count || top[i].count == top[j].count && top[i].kind < top[j].kind
	})
	for _, k := range top {
		t.Logf("  %3d × %s", k.count, k.kind)
	}
}

var (
	warnWhere  = regexp.MustCompile(`^(part [0-9.]+|body|header): `)
	warnQuoted = regexp.MustCompile(`"[^"]*"|\b[0-9]+\b( |$)`)
)

// warningKind reduces a warning to its kind: no part number, no quoted
// value, no count.
func warningKind(w string) string {
	return warnQuoted.ReplaceAllString(warnWhere.ReplaceAllString(w, ""), "… ")
}

// checkUTF8 checks that every string of m (and of its attached messages)
// is valid UTF-8.
func checkUTF8(t testing.TB, name string, m *Message) {
	t.Helper()
	strs := map[string]string{"Text": m.Text, "HTML": m.HTML, "Subject": m.Subject, "From.Name": m.From.Name,
		"From.Address": m.From.Address, "MessageID": m.MessageID}
	for _, a := range append(append(append([]Address{}, m.To...), m.Cc...), m.ReplyTo...) {
		strs["address "+a.Address] = a.Name + a.Address
	}
	for _, a := range m.Attachments {
		strs["attachment "+a.Filename] = a.Filename + a.ContentType + a.ContentID
	}
	for _, w := range m.Warnings {
		strs["warning"] = w
	}
	for k, v := range strs {
		if !utf8.ValidString(v) {
			t.Errorf("%s: %s is not valid UTF-8: %q", name, k, v)
		}
	}
	if strings.ContainsRune(m.Text, 0) || strings.ContainsRune(m.HTML, 0) {
		t.Errorf("%s: NUL in body", name)
	}
	for _, e := range m.Embedded {
		checkUTF8(t, name+" (attached message)", e)
	}
}

// TestParseConcurrent parses the corpus from several goroutines at once,
// for the race detector (go test -race): Parse shares no state.
func TestParseConcurrent(t *testing.T) {
	msgs := loadCorpus(t)
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func(g int) {
			defer func() { done <- true }()
			for i := g; i < len(msgs); i += 4 {
				if m, err := Parse(bytes.NewReader(msgs[i]), nil); err == nil && m.HTML != "" {
					_ = Sanitize(m.HTML)
				}
			}
		}(g)
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}
