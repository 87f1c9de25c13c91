package templates

import (
	"bytes"
	"embed"
	"fmt"
	htemplate "html/template"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	ttemplate "text/template"
)

// embedded holds the default templates and the static files; see doc.go for the layout.
//
//go:embed mail web static
var embedded embed.FS

// Langs lists the languages the templates are written in, English (the fallback) first.
var Langs = []string{"en", "fr"}

// PageKinds lists every page kind.
var PageKinds = []string{PageTicket, PageAction, PageResult, PageError}

// Page actions, for PageAction and PageResult.
const (
	ActionApprove = "approve"
	ActionRefuse  = "refuse"
)

// Set is a loaded set of templates: for each language, one parsed template set per mail kind and
// per page kind. A Set is read-only once loaded and safe for concurrent use.
type Set struct {
	mails map[string]map[string]*mailTemplates // lang → kind
	pages map[string]map[string]*pageTemplate  // lang → page kind
}

// mailTemplates is one mail kind in one language.
type mailTemplates struct {
	text      *ttemplate.Template // defines "subject" and "text"
	html      *htemplate.Template // defines "html" (the layout) and "body"
	textFiles []string            // the files parsed, as errors name them: the kind's file first
	htmlFiles []string
}

// pageTemplate is one page kind in one language.
type pageTemplate struct {
	t     *htemplate.Template // defines "page" (the layout), "title" and "main"
	files []string            // the files parsed, as errors name them: the page's file first
}

// source is the content of the template files, after overrides, and the names errors give them.
type source struct {
	content map[string]string // relative path ("mail/en/created.txt") → content
	name    map[string]string // relative path → name in errors: the path, or the override file's path
}

// Load parses the embedded templates, then the files of dir (when dir != ""), which override
// embedded files with the same relative path (so a team can change one file). Load renders every
// mail kind and every page kind in both languages with sample data, so a broken override fails at
// startup with an error naming the file and the problem.
//
// A file in dir that does not override an embedded template (a misspelt name, a file under static/)
// is an error too, so that a typo does not go unnoticed; names starting with "." are skipped.
func Load(dir string) (*Set, error) {
	src, err := readSources(dir)
	if err != nil {
		return nil, err
	}
	s := &Set{mails: map[string]map[string]*mailTemplates{}, pages: map[string]map[string]*pageTemplate{}}
	for _, lang := range Langs {
		s.mails[lang] = map[string]*mailTemplates{}
		for _, kind := range Kinds {
			mt, err := src.parseMail(lang, kind)
			if err != nil {
				return nil, err
			}
			s.mails[lang][kind] = mt
		}
		s.pages[lang] = map[string]*pageTemplate{}
		for _, kind := range PageKinds {
			pt, err := src.parsePage(lang, kind)
			if err != nil {
				return nil, err
			}
			s.pages[lang][kind] = pt
		}
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return s, nil
}

// readSources reads the embedded template files, then the override files of dir.
func readSources(dir string) (*source, error) {
	src := &source{content: map[string]string{}, name: map[string]string{}}
	for _, root := range []string{"mail", "web"} {
		err := fs.WalkDir(embedded, root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := embedded.ReadFile(p)
			if err != nil {
				return err
			}
			src.content[p] = string(b)
			src.name[p] = p
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("templates: reading the embedded templates: %w", err)
		}
	}
	if dir == "" {
		return src, nil
	}
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("templates: override directory: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("templates: override directory %s is not a directory", dir)
	}
	err = fs.WalkDir(os.DirFS(dir), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("templates: override directory %s: %w", dir, err)
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		file := filepath.Join(dir, filepath.FromSlash(p))
		if _, ok := src.content[p]; !ok {
			return fmt.Errorf("templates: override %s: no embedded template has the path %s (an override replaces mail/<lang>/<kind>.txt or .html, mail/<lang>/common.txt or .html, mail/layout.html, web/layout.html or web/<lang>/<page>.html; static files cannot be overridden)", file, p)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("templates: override %s: %w", file, err)
		}
		src.content[p] = string(b)
		src.name[p] = file
		return nil
	})
	if err != nil {
		return nil, err
	}
	return src, nil
}

// funcs are the functions every template may call; the html ones are the same.
var funcs = map[string]any{
	"lines":    lines,
	"breaks":   breaks,
	"trim":     strings.TrimSpace,
	"summary":  Summary,
	"langName": langName,
	"plural":   plural,
}

// lines splits text into its lines, without line ends or the blank lines at its start and end:
// {{range lines .Text}} lets html/template escape each line and put <br> between them.
func lines(s string) []string {
	if s = textBlock(s); s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// textBlock is text with LF line ends and without the blank lines at its start and end, or ""
// when it holds nothing but white space: what lines splits and breaks escapes.
func textBlock(s string) string {
	s = strings.Trim(lf(s), "\n")
	if strings.TrimSpace(s) == "" {
		return ""
	}
	return s
}

// lf turns CRLF and lone CR line ends into LF.
func lf(s string) string {
	if strings.IndexByte(s, '\r') < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// htmlEscapes are the bytes html/template escapes in HTML text, and what it writes for them.
var htmlEscapes = map[byte]string{0: "\uFFFD", '"': "&#34;", '&': "&amp;", '\'': "&#39;", '+': "&#43;", '<': "&lt;", '>': "&gt;"}

// breaks is text as HTML with its line breaks kept: the lines of lines, escaped, with <br>
// between them. It renders what {{range $i, $l := lines .}}{{if $i}}<br>{{end}}{{$l}}{{end}}
// renders, in one pass instead of a reflective call and an escaping per line: a quoted message
// is most of what an acknowledgement's HTML holds.
func breaks(s string) htemplate.HTML {
	if s = textBlock(s); s == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/16)
	start := 0
	for i := 0; i < len(s); i++ {
		if !htmlSpecial[s[i]] {
			continue
		}
		b.WriteString(s[start:i])
		if s[i] == '\n' {
			b.WriteString("<br>")
		} else {
			b.WriteString(htmlEscapes[s[i]])
		}
		start = i + 1
	}
	b.WriteString(s[start:])
	return htemplate.HTML(b.String())
}

// htmlSpecial holds the bytes breaks does not copy as they are: the line break and those of
// htmlEscapes.
var htmlSpecial = func() (t [256]bool) {
	for c := range htmlEscapes {
		t[c] = true
	}
	t['\n'] = true
	return t
}()

// plural returns one when n is 1 and many otherwise: {{.Days}} {{plural .Days "day" "days"}}.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// names returns the names errors give the files at paths, in the order "kind's file, then the
// shared files it uses": the last path first.
func (src *source) names(paths []string) []string {
	out := make([]string, 0, len(paths))
	for i := len(paths) - 1; i >= 0; i-- {
		out = append(out, src.name[paths[i]])
	}
	return out
}

// fileList names the files a rendering used: "mail/en/created.html (with mail/en/common.html, mail/layout.html)".
func fileList(files []string) string {
	return files[0] + " (with " + strings.Join(files[1:], ", ") + ")"
}

// parseText adds the file at p to t, named so that errors give the file's name.
func (src *source) parseText(t *ttemplate.Template, p string) error {
	content, ok := src.content[p]
	if !ok {
		return fmt.Errorf("templates: %s is missing", p)
	}
	if _, err := t.New(src.name[p]).Parse(content); err != nil {
		return fmt.Errorf("templates: %w", err)
	}
	return nil
}

// parseHTML adds the file at p to t, named so that errors give the file's name.
func (src *source) parseHTML(t *htemplate.Template, p string) error {
	content, ok := src.content[p]
	if !ok {
		return fmt.Errorf("templates: %s is missing", p)
	}
	if _, err := t.New(src.name[p]).Parse(content); err != nil {
		return fmt.Errorf("templates: %w", err)
	}
	return nil
}

// parseMail parses one mail kind: mail/<lang>/common.txt then mail/<lang>/<kind>.txt as text,
// mail/layout.html, mail/<lang>/common.html then mail/<lang>/<kind>.html as HTML. The kind's file
// comes last, so it may redefine a shared block for itself.
func (src *source) parseMail(lang, kind string) (*mailTemplates, error) {
	textPaths := []string{path.Join("mail", lang, "common.txt"), path.Join("mail", lang, kind+".txt")}
	htmlPaths := []string{"mail/layout.html", path.Join("mail", lang, "common.html"), path.Join("mail", lang, kind+".html")}
	mt := &mailTemplates{
		text:      ttemplate.New(kind).Funcs(funcs),
		html:      htemplate.New(kind).Funcs(funcs),
		textFiles: src.names(textPaths),
		htmlFiles: src.names(htmlPaths),
	}
	for _, p := range textPaths {
		if err := src.parseText(mt.text, p); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{"subject", "text"} {
		if mt.text.Lookup(name) == nil {
			return nil, fmt.Errorf("templates: %s does not define %q (it needs {{define \"subject\"}} and {{define \"text\"}})", mt.textFiles[0], name)
		}
	}
	for _, p := range htmlPaths {
		if err := src.parseHTML(mt.html, p); err != nil {
			return nil, err
		}
	}
	if mt.html.Lookup("html") == nil {
		return nil, fmt.Errorf("templates: %s does not define %q, the HTML document around the mails", src.name["mail/layout.html"], "html")
	}
	if mt.html.Lookup("body") == nil {
		return nil, fmt.Errorf("templates: %s does not define %q", mt.htmlFiles[0], "body")
	}
	return mt, nil
}

// parsePage parses one page kind: web/layout.html, web/<lang>/common.html, web/<lang>/<kind>.html.
func (src *source) parsePage(lang, kind string) (*pageTemplate, error) {
	paths := []string{"web/layout.html", path.Join("web", lang, "common.html"), path.Join("web", lang, kind+".html")}
	pt := &pageTemplate{t: htemplate.New(kind).Funcs(funcs), files: src.names(paths)}
	for _, p := range paths {
		if err := src.parseHTML(pt.t, p); err != nil {
			return nil, err
		}
	}
	if pt.t.Lookup("page") == nil {
		return nil, fmt.Errorf("templates: %s does not define %q, the HTML document around the pages", src.name["web/layout.html"], "page")
	}
	for _, name := range []string{"title", "main"} {
		if pt.t.Lookup(name) == nil {
			return nil, fmt.Errorf("templates: %s does not define %q", pt.files[0], name)
		}
	}
	return pt, nil
}

// normLang maps a language tag to one the templates are written in: "fr", "fr-CA" → "fr";
// anything else → "en".
func normLang(lang string) string {
	if len(lang) >= 2 && strings.EqualFold(lang[:2], "fr") && (len(lang) == 2 || lang[2] == '-' || lang[2] == '_') {
		return "fr"
	}
	return "en"
}

// Mail renders one notification. Subject is one line (no CR/LF, trimmed), Text is plain text
// (CRLF not required), HTML is a complete small HTML document. Text starts with m.Marker and a
// blank line when m.Marker is set. An unknown Lang falls back to English; an unknown Kind is an error.
func (s *Set) Mail(m Mail) (Rendered, error) {
	r, _, err := s.mail(m)
	return r, err
}

// renderBuffers are the buffers mails are rendered into, kept from one mail to the next: a
// mail that quotes a message is some 16 KB, which each render allocated anew.
var renderBuffers = sync.Pool{New: func() any {
	b := new(bytes.Buffer)
	b.Grow(16 << 10)
	return b
}}

// mail renders m; on failure it also says which files failed: the text ones or the HTML ones.
func (s *Set) mail(m Mail) (Rendered, []string, error) {
	m.Lang = normLang(m.Lang)
	mt, ok := s.mails[m.Lang][m.Kind]
	if !ok {
		return Rendered{}, nil, fmt.Errorf("templates: unknown mail kind %q (want one of %s)", m.Kind, strings.Join(Kinds, ", "))
	}
	b := renderBuffers.Get().(*bytes.Buffer)
	defer func() {
		if b.Cap() <= 1<<20 { // a digest of many long messages is not kept
			b.Reset()
			renderBuffers.Put(b)
		}
	}()
	if err := mt.text.ExecuteTemplate(b, "subject", m); err != nil {
		return Rendered{}, mt.textFiles, fmt.Errorf("templates: %s mail subject: %w", m.Kind, err)
	}
	r := Rendered{Subject: oneLine(b.String())}
	b.Reset()
	if err := mt.text.ExecuteTemplate(b, "text", m); err != nil {
		return Rendered{}, mt.textFiles, fmt.Errorf("templates: %s mail text: %w", m.Kind, err)
	}
	r.Text = cleanText(b.String())
	if marker := oneLine(m.Marker); marker != "" {
		r.Text = marker + "\n\n" + r.Text
	}
	b.Reset()
	if err := mt.html.ExecuteTemplate(b, "html", m); err != nil {
		return Rendered{}, mt.htmlFiles, fmt.Errorf("templates: %s mail HTML: %w", m.Kind, err)
	}
	r.HTML = b.String()
	return r, nil, nil
}

// Page renders one web page to w. An unknown Lang falls back to English; an unknown Kind, or an
// Action other than approve and refuse on an action or result page, is an error. Nothing is
// written to w when rendering fails.
func (s *Set) Page(w io.Writer, p Page) error {
	p.Lang = normLang(p.Lang)
	pt, ok := s.pages[p.Lang][p.Kind]
	if !ok {
		return fmt.Errorf("templates: unknown page kind %q (want one of %s)", p.Kind, strings.Join(PageKinds, ", "))
	}
	if (p.Kind == PageAction || p.Kind == PageResult) && p.Action != ActionApprove && p.Action != ActionRefuse {
		return fmt.Errorf("templates: %s page: unknown action %q (want approve or refuse)", p.Kind, p.Action)
	}
	var b bytes.Buffer
	if err := pt.t.ExecuteTemplate(&b, "page", p); err != nil {
		return fmt.Errorf("templates: %s page: %w", p.Kind, err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Static is the stylesheet and anything else the pages load, served by the web package under /static/.
func Static() fs.FS {
	sub, err := fs.Sub(embedded, "static")
	if err != nil {
		panic(err) // "static" is a valid path, and it is embedded
	}
	return sub
}

// oneLine turns s into one trimmed line: line breaks, tabs and runs of spaces become one space.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// cleanText tidies a rendered text body: LF line ends, no trailing spaces, no more than one blank
// line in a row (templates' conditionals leave some), no blank lines at the start and one line end
// at the end.
func cleanText(s string) string {
	s = lf(s)
	var b strings.Builder
	b.Grow(len(s) + 1)
	text, blank := false, false // a line with text was written; blank lines came after it
	for l := range strings.SplitSeq(s, "\n") {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			blank = text // the blank lines at the start go
			continue
		}
		if text {
			b.WriteByte('\n')
			if blank {
				b.WriteByte('\n')
			}
		}
		b.WriteString(l)
		text, blank = true, false
	}
	b.WriteByte('\n')
	return b.String()
}

// isRequesterKind reports whether a mail kind goes to the requester and the participants.
func isRequesterKind(kind string) bool {
	return !strings.HasPrefix(kind, "agent_")
}

// check renders every mail and page kind in every language with the sample data, and checks what
// the rest of guichet relies on, so that a broken override fails at Load rather than when the mail
// is due.
func (s *Set) check() error {
	for _, lang := range Langs {
		for _, m := range sampleMails(lang) {
			mt := s.mails[lang][m.Kind]
			r, files, err := s.mail(m)
			if err != nil {
				return fmt.Errorf("%w (while rendering %s with sample data)", err, fileList(files))
			}
			textProblems, htmlProblems := checkMail(m, r)
			if len(textProblems) > 0 {
				return fmt.Errorf("templates: %s, sample %s: %s", fileList(mt.textFiles), sampleName(m), strings.Join(textProblems, "; "))
			}
			if len(htmlProblems) > 0 {
				return fmt.Errorf("templates: %s, sample %s: %s", fileList(mt.htmlFiles), sampleName(m), strings.Join(htmlProblems, "; "))
			}
		}
		for _, p := range samplePages(lang) {
			pt := s.pages[lang][p.Kind]
			var b bytes.Buffer
			if err := s.Page(&b, p); err != nil {
				return fmt.Errorf("%w (while rendering %s with sample data)", err, fileList(pt.files))
			}
			if problems := checkPage(b.String()); len(problems) > 0 {
				return fmt.Errorf("templates: %s: %s", fileList(pt.files), strings.Join(problems, "; "))
			}
		}
	}
	return nil
}

// sampleName says which sample a check failed on.
func sampleName(m Mail) string {
	var parts []string
	for _, kv := range [][2]string{{"role", m.Role}, {"to", m.ToCode}, {"closing", m.Closing}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+kv[1])
		}
	}
	if m.Marker == "" {
		parts = append(parts, "minimal sample")
	}
	return strings.Join(parts, ", ")
}

// checkMail checks a rendered sample mail: the problems of its subject and text, then of its HTML.
func checkMail(m Mail, r Rendered) (text, html []string) {
	if want := oneLine(m.Ticket.Tag + " " + m.Ticket.Subject); !strings.HasPrefix(r.Subject, want) {
		text = append(text, fmt.Sprintf("the subject %q does not start with the ticket's tag and subject %q", r.Subject, want))
	}
	if strings.TrimSpace(strings.TrimPrefix(r.Text, m.Marker)) == "" {
		text = append(text, "the text body is empty")
	}
	if !strings.Contains(r.HTML, "<html") || !strings.Contains(r.HTML, "</html>") {
		html = append(html, "the HTML is not a complete document (no <html> … </html>)")
	}
	if m.Marker != "" && !strings.Contains(r.HTML, htemplate.HTMLEscapeString(m.Marker)) {
		html = append(html, "the HTML does not show the reply marker")
	}
	if isRequesterKind(m.Kind) && m.Links.Ticket != "" {
		body := strings.TrimRight(r.Text, "\n")
		if last := body[strings.LastIndex(body, "\n")+1:]; !strings.Contains(last, m.Links.Ticket) {
			text = append(text, "the text does not end with the link to the ticket")
		}
		if !strings.Contains(r.HTML, m.Links.Ticket) {
			html = append(html, "the HTML does not link to the ticket")
		}
	}
	if m.Kind == Solved && m.Links.Approve != "" {
		links := []string{m.Links.Approve, m.Links.Refuse}
		if !strings.Contains(r.Text, links[0]) || !strings.Contains(r.Text, links[1]) {
			text = append(text, "the approve or refuse link is missing")
		}
		if !strings.Contains(r.HTML, links[0]) || !strings.Contains(r.HTML, links[1]) {
			html = append(html, "the approve or refuse link is missing")
		}
	}
	return text, html
}

// checkPage checks a rendered sample page against what the Content-Security-Policy allows.
func checkPage(html string) []string {
	var problems []string
	if !strings.Contains(html, "<html") || !strings.Contains(html, "</html>") {
		problems = append(problems, "the page is not a complete document (no <html> … </html>)")
	}
	lower := strings.ToLower(html)
	for _, bad := range []string{"style=", "<style", "<script", " onclick=", " onload=", " onsubmit=", " onerror="} {
		if strings.Contains(lower, bad) {
			problems = append(problems, fmt.Sprintf("the page contains %q, which the Content-Security-Policy blocks (styles go in static/guichet.css; no scripts)", strings.TrimSpace(bad)))
		}
	}
	return problems
}
