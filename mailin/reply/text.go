package reply

import (
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// HTMLToText converts HTML to readable plain text without removing anything (scripts/styles
// dropped, block elements as line breaks, entities decoded).
//
// Paragraphs are separated by a blank line, <br> breaks a line, list items start with "- " or
// their number, table cells are separated by spaces, links keep their text followed by the
// address in angle brackets when it differs, quoted blocks (<blockquote>) get "> " prefixes and
// content hidden with CSS is skipped.
func HTMLToText(s string) string {
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		return renderTokens(s)
	}
	return render(doc)
}

// renderTokens converts HTML the parser refuses (elements nested too deep) to text from its
// tokens, with the same rules as render.
func renderTokens(s string) string {
	r := &renderer{}
	z := html.NewTokenizer(strings.NewReader(s))
	var open []*html.Node // the open elements the renderer entered
	var skip atom.Atom    // the element whose content is skipped
	skipDepth := 0
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		tok := z.Token()
		n := &html.Node{Type: html.ElementNode, DataAtom: tok.DataAtom, Data: tok.Data, Attr: tok.Attr}
		switch tt {
		case html.TextToken:
			if skipDepth == 0 {
				r.text(tok.Data)
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			if skipDepth > 0 {
				if tok.DataAtom == skip && tt == html.StartTagToken {
					skipDepth++
				}
				continue
			}
			if (skipped[tok.DataAtom] || isHidden(n)) && tt == html.StartTagToken && !voids[tok.DataAtom] {
				skip, skipDepth = tok.DataAtom, 1
				continue
			}
			if r.enter(n) {
				if tt == html.SelfClosingTagToken || voids[tok.DataAtom] {
					r.leave(n)
				} else {
					open = append(open, n)
				}
			}
		case html.EndTagToken:
			if skipDepth > 0 {
				if tok.DataAtom == skip {
					skipDepth--
				}
				continue
			}
			for i := len(open) - 1; i >= 0; i-- {
				if open[i].Data == tok.Data {
					for j := len(open) - 1; j >= i; j-- {
						r.leave(open[j])
					}
					open = open[:i]
					break
				}
			}
		}
	}
	for i := len(open) - 1; i >= 0; i-- {
		r.leave(open[i])
	}
	r.endLine()
	return r.result()
}

// voids are the elements without content or end tag.
var voids = map[atom.Atom]bool{
	atom.Area: true, atom.Base: true, atom.Br: true, atom.Col: true, atom.Embed: true, atom.Hr: true,
	atom.Img: true, atom.Input: true, atom.Link: true, atom.Meta: true, atom.Source: true, atom.Track: true,
	atom.Wbr: true,
}

// render converts a parsed document or any subtree to text.
func render(n *html.Node) string {
	r := &renderer{}
	walk(n, r.enter, r.leave)
	r.endLine()
	return r.result()
}

// walk visits the subtree of root in document order without recursion, so that no nesting
// depth can exhaust the stack. enter returns whether to visit the children of an element.
func walk(root *html.Node, enter func(*html.Node) bool, leave func(*html.Node)) {
	type frame struct {
		n    *html.Node
		exit bool
	}
	stack := []frame{{n: root}}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if f.exit {
			leave(f.n)
			continue
		}
		if !enter(f.n) {
			continue
		}
		stack = append(stack, frame{n: f.n, exit: true})
		for c := f.n.LastChild; c != nil; c = c.PrevSibling {
			stack = append(stack, frame{n: c})
		}
	}
}

// renderer accumulates the text of a document.
type renderer struct {
	lines []string
	cur   strings.Builder
	space bool  // white space is pending
	brk   int   // pending break: 1 for a new line, 2 for a blank line
	quote int   // blockquote depth
	depth int   // blockquote depth of the last line written
	pre   int   // <pre> depth
	lists []int // for each open list: -1 for <ul>, the last number for <ol>
}

func (r *renderer) result() string {
	out := make([]string, 0, len(r.lines))
	blank := true
	prev := ""
	for _, l := range r.lines {
		l = strings.TrimRightFunc(l, unicode.IsSpace)
		if strings.Trim(l, ">") == "" {
			// An empty line, or an empty line of a quote: never two in a row.
			if blank && (l == "" || l == prev) {
				continue
			}
			blank = true
		} else {
			blank = false
		}
		out = append(out, l)
		prev = l
	}
	return strings.Trim(strings.Join(out, "\n"), "\n")
}

// endLine closes the current line, if it has content.
func (r *renderer) endLine() {
	if r.cur.Len() > 0 {
		r.lines = append(r.lines, r.cur.String())
		r.cur.Reset()
	}
	r.space = false
}

// flushBreak applies the pending break before new content.
func (r *renderer) flushBreak() {
	if r.brk == 0 {
		return
	}
	r.endLine()
	if r.brk == 2 && len(r.lines) > 0 && r.lines[len(r.lines)-1] != "" {
		r.lines = append(r.lines, strings.Repeat(">", min(r.quote, r.depth)))
	}
	r.brk = 0
}

// block asks for a line break before the next content.
func (r *renderer) block(n int) {
	if r.cur.Len() == 0 && len(r.lines) == 0 {
		return
	}
	if n > r.brk {
		r.brk = n
	}
}

// hardBreak is a <br>: it ends the line, even an empty one.
func (r *renderer) hardBreak() {
	r.flushBreak()
	if r.cur.Len() == 0 {
		r.cur.WriteString(strings.Repeat(">", r.quote))
		r.depth = r.quote
	}
	r.lines = append(r.lines, r.cur.String())
	r.cur.Reset()
	r.space = false
}

// writeRune adds one visible character.
func (r *renderer) writeRune(c rune) {
	r.flushBreak()
	if r.cur.Len() == 0 {
		if r.quote > 0 {
			r.cur.WriteString(strings.Repeat(">", r.quote))
			r.cur.WriteByte(' ')
		}
		r.depth = r.quote
	} else if r.space {
		r.cur.WriteByte(' ')
	}
	r.space = false
	r.cur.WriteRune(c)
}

// text adds a text node, collapsing white space outside <pre>.
func (r *renderer) text(s string) {
	for _, c := range s {
		switch c {
		case '\u200b', '\u200c', '\u200d', '\u200e', '\u200f', '\u2060', '\ufeff', '\u00ad', '\u034f':
			continue
		}
		if r.pre > 0 {
			if c == '\n' {
				r.hardBreak()
				continue
			}
			if c == '\r' {
				continue
			}
			r.writeRune(c)
			continue
		}
		if c == '\u00a0' {
			// A non-breaking space is visible: it keeps an Outlook empty paragraph ("<p>&nbsp;</p>").
			r.writeRune(' ')
			continue
		}
		if unicode.IsSpace(c) {
			if r.cur.Len() > 0 {
				r.space = true
			}
			continue
		}
		r.writeRune(c)
	}
}

// skipped are the elements whose content is never shown.
var skipped = map[atom.Atom]bool{
	atom.Head: true, atom.Script: true, atom.Style: true, atom.Title: true, atom.Meta: true, atom.Link: true,
	atom.Noscript: true, atom.Template: true, atom.Iframe: true, atom.Object: true, atom.Embed: true,
	atom.Svg: true, atom.Math: true, atom.Canvas: true, atom.Audio: true, atom.Video: true, atom.Select: true,
	atom.Datalist: true, atom.Base: true, atom.Img: true, atom.Input: true, atom.Area: true, atom.Map: true,
}

// blocks are the elements that start and end on a line of their own; paragraphs get a blank
// line around them.
var blocks = map[atom.Atom]int{
	atom.Address: 1, atom.Article: 1, atom.Aside: 1, atom.Center: 1, atom.Dd: 1, atom.Details: 1,
	atom.Dialog: 1, atom.Dir: 1, atom.Div: 1, atom.Dl: 1, atom.Dt: 1, atom.Fieldset: 1, atom.Figcaption: 1,
	atom.Figure: 1, atom.Footer: 1, atom.Form: 1, atom.Header: 1, atom.Hgroup: 1, atom.Li: 1, atom.Main: 1,
	atom.Menu: 1, atom.Nav: 1, atom.Ol: 1, atom.Section: 1, atom.Summary: 1, atom.Ul: 1, atom.Tr: 1,
	atom.Caption: 1, atom.Table: 1, atom.Tbody: 1, atom.Thead: 1, atom.Tfoot: 1, atom.Body: 1, atom.Html: 1,
	atom.Textarea: 1, atom.Legend: 1,
	atom.P: 2, atom.H1: 2, atom.H2: 2, atom.H3: 2, atom.H4: 2, atom.H5: 2, atom.H6: 2, atom.Pre: 2,
	atom.Blockquote: 2,
}

func (r *renderer) enter(n *html.Node) bool {
	switch n.Type {
	case html.DocumentNode:
		return true
	case html.TextNode:
		r.text(n.Data)
		return false
	case html.ElementNode:
	default:
		return false
	}
	if skipped[n.DataAtom] || isHidden(n) {
		return false
	}
	switch n.DataAtom {
	case atom.Br:
		r.hardBreak()
		return false
	case atom.Hr:
		r.block(1)
		for range 20 {
			r.writeRune('-')
		}
		r.block(1)
		return false
	case atom.P:
		r.block(paragraphBreak(n))
		return true
	case atom.Blockquote:
		r.block(2)
		if isQuoteBlock(n) {
			r.quote++
		}
		return true
	case atom.Pre:
		r.block(2)
		r.pre++
		return true
	case atom.Ul:
		r.block(1)
		r.lists = append(r.lists, -1)
		return true
	case atom.Ol:
		r.block(1)
		start := 0
		if v, err := strconv.Atoi(attr(n, "start")); err == nil && v > 0 && v < 1e6 {
			start = v - 1
		}
		r.lists = append(r.lists, start)
		return true
	case atom.Li:
		r.block(1)
		bullet := "-"
		if len(r.lists) > 0 && r.lists[len(r.lists)-1] >= 0 {
			r.lists[len(r.lists)-1]++
			bullet = strconv.Itoa(r.lists[len(r.lists)-1]) + "."
		}
		r.text(bullet + " ")
		return true
	}
	if b := blocks[n.DataAtom]; b > 0 {
		r.block(b)
	}
	return true
}

func (r *renderer) leave(n *html.Node) {
	if n.Type != html.ElementNode {
		return
	}
	switch n.DataAtom {
	case atom.P:
		r.block(paragraphBreak(n))
	case atom.Blockquote:
		if isQuoteBlock(n) && r.quote > 0 {
			r.quote--
		}
		r.block(2)
	case atom.Pre:
		if r.pre > 0 {
			r.pre--
		}
		r.block(2)
	case atom.Ul, atom.Ol:
		if len(r.lists) > 0 {
			r.lists = r.lists[:len(r.lists)-1]
		}
		r.block(1)
	case atom.Td, atom.Th:
		if r.cur.Len() > 0 {
			r.space = true
		}
	case atom.A:
		r.link(n)
	default:
		if b := blocks[n.DataAtom]; b > 0 {
			r.block(b)
		}
	}
}

// link writes the address of a link after its text when the text does not already show it.
func (r *renderer) link(n *html.Node) {
	href := strings.TrimSpace(attr(n, "href"))
	lower := strings.ToLower(href)
	if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
		return
	}
	label := plainText(n)
	if label == "" {
		return
	}
	bare := func(s string) string {
		s = strings.ToLower(s)
		s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
		s = strings.TrimPrefix(s, "www.")
		return strings.TrimSuffix(s, "/")
	}
	if bare(label) == bare(href) || strings.Contains(label, href) {
		return
	}
	r.space = true
	r.text("<" + href + ">")
}

// plainText returns the text nodes of a subtree, white space collapsed.
func plainText(n *html.Node) string {
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = nextWithin(c, n, c.Type == html.ElementNode && (skipped[c.DataAtom] || isHidden(c))) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
			b.WriteByte(' ')
		}
	}
	return clean(b.String())
}

// paragraphBreak is 1 for Outlook's margin-less paragraphs, 2 for the others.
func paragraphBreak(n *html.Node) int {
	class := strings.ToLower(attr(n, "class"))
	style := strings.ReplaceAll(strings.ToLower(attr(n, "style")), " ", "")
	if strings.Contains(class, "msonormal") || strings.Contains(style, "margin:0") {
		return 1
	}
	return 2
}

// isQuoteBlock tells a quoted blockquote from one used for indenting (Gmail's indent button makes
// <blockquote style="margin:0 0 0 40px;border:none;padding:0px">).
func isQuoteBlock(n *html.Node) bool {
	if strings.EqualFold(attr(n, "type"), "cite") || strings.Contains(strings.ToLower(attr(n, "class")), "quote") {
		return true
	}
	style := strings.ReplaceAll(strings.ToLower(attr(n, "style")), " ", "")
	return !strings.Contains(style, "border:none") && !strings.Contains(style, "border:0")
}

// isHidden reports an element hidden with CSS or the hidden attribute.
func isHidden(n *html.Node) bool {
	for _, a := range n.Attr {
		switch a.Key {
		case "hidden":
			return true
		case "style":
			style := strings.ReplaceAll(strings.ToLower(a.Val), " ", "")
			if strings.Contains(style, "display:none") || strings.Contains(style, "visibility:hidden") ||
				strings.Contains(style, "mso-hide:all") {
				return true
			}
		}
	}
	return false
}

// attr returns the value of an attribute, or "".
func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
