package reply

import (
	"sort"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// StripHTML does the same as Strip for an HTML body (HTML-only mail): it removes quoted blocks in
// the DOM (blockquote type=cite, gmail_quote, Outlook's divRplyFwdMsg / "border-top" separator +
// header block, moz-cite-prefix, Yahoo/AOL/Apple quote containers, OLK_SRC_BODY_SECTION,
// hr-separated reply …), converts what remains to readable text (paragraphs, <br>, lists, links
// as text) and then applies Strip's text rules.
//
// A quote container is only cut when the author wrote something before it; one followed by more
// text of the author (inline answers) is left to the text rules, which see it as "> " lines.
func StripHTML(s string, o *Options) (visible string, removed bool) {
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		// Too deep for the parser: no DOM to cut, the text rules do it all.
		return Strip(renderTokens(s), o)
	}
	full := render(doc)
	if cutHistory(doc) {
		if rest := render(doc); !isBlank(rest) {
			v, _ := Strip(rest, o)
			return v, true
		}
	}
	return Strip(full, o)
}

// historyIDs are the ids (lower-cased, without OWA's "x_" prefix) of the elements that start
// the quoted history.
var historyIDs = map[string]bool{
	"divrplyfwdmsg": true, "olk_src_body_section": true, "appendonsend": true,
	"mail-editor-reference-message-container": true, "zwchr": true, "stopspelling": true,
}

// historyClasses are the classes of the elements that start the quoted history.
var historyClasses = map[string]bool{"outlookmessageheader": true}

// quoteClasses are the classes of quote containers, cut only when no answer of the author
// follows them.
var quoteClasses = map[string]bool{
	"gmail_quote": true, "gmail_quote_container": true, "yahoo_quoted": true, "moz-cite-prefix": true,
	"protonmail_quote": true, "zmail_extra": true,
}

// signatureClasses are the classes of signature containers.
var signatureClasses = map[string]bool{"gmail_signature": true, "gmail_signature_prefix": true}

// cutHistory removes signature containers and, from the first element that starts the quoted
// history, everything to the end of the document. It reports whether it removed anything.
func cutHistory(doc *html.Node) bool {
	d := indexDocument(doc)
	for _, n := range d.signatures {
		if n.Parent != nil {
			n.Parent.RemoveChild(n)
		}
	}
	for _, n := range d.elements {
		strong, soft := historyStart(n)
		if !strong && !soft || !d.before[n] {
			continue
		}
		if soft && d.answeredBelow(n) {
			continue // the author answered below: the text rules will see the quote
		}
		cutFrom(d.signedBlock(n))
		return true
	}
	return len(d.signatures) > 0
}

// docIndex is what cutHistory needs to know of a document, gathered in one walk. Positions
// count the nodes in document order.
type docIndex struct {
	elements   []*html.Node        // the visible elements, in document order
	signatures []*html.Node        // the signature containers with text before them
	before     map[*html.Node]bool // visible text comes before the element
	start, end map[*html.Node]int  // the positions of an element and of the last node of its subtree
	quotes     []int               // the positions of the <blockquote> elements
	lastAnswer int                 // the position of the last visible text outside quotes and signatures
}

// answeredBelow reports whether the author wrote something after the quote a container holds
// (inline answers): visible text after its first <blockquote>, or after the container when it
// holds none.
func (d *docIndex) answeredBelow(n *html.Node) bool {
	i := sort.SearchInts(d.quotes, d.start[n])
	if i < len(d.quotes) && d.quotes[i] <= d.end[n] {
		return d.lastAnswer > d.quotes[i]
	}
	return d.lastAnswer > d.end[n]
}

func indexDocument(doc *html.Node) *docIndex {
	d := &docIndex{before: map[*html.Node]bool{}, start: map[*html.Node]int{}, end: map[*html.Node]int{}, lastAnswer: -1}
	pos, quoted, seen := 0, 0, false
	walk(doc, func(n *html.Node) bool {
		pos++
		switch n.Type {
		case html.DocumentNode:
			return true
		case html.TextNode:
			if !isBlank(n.Data) {
				seen = true
				if quoted == 0 {
					d.lastAnswer = pos
				}
			}
			return false
		case html.ElementNode:
		default:
			return false
		}
		if skipped[n.DataAtom] || isHidden(n) {
			return false
		}
		if isSignature(n) && seen {
			d.signatures = append(d.signatures, n)
			return false
		}
		d.elements = append(d.elements, n)
		d.before[n] = seen
		d.start[n] = pos
		if n.DataAtom == atom.Blockquote {
			d.quotes = append(d.quotes, pos)
		}
		if n.DataAtom == atom.Blockquote || isSignature(n) {
			quoted++
		}
		return true
	}, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		d.end[n] = pos
		if n.DataAtom == atom.Blockquote || isSignature(n) {
			quoted--
		}
	})
	return d
}

// isSignature reports a signature container: Gmail's, Outlook's.
func isSignature(n *html.Node) bool {
	if hasClass(n, signatureClasses) {
		return true
	}
	switch strings.TrimPrefix(strings.ToLower(attr(n, "id")), "x_") {
	case "signature", "ms-outlook-mobile-signature":
		return true
	}
	return false
}

// historyStart tells whether an element starts the quoted history for sure (strong), or is a
// quote container (soft).
func historyStart(n *html.Node) (strong, soft bool) {
	if isQuoteContainer(n) {
		return false, true
	}
	return isHistoryMarker(n), false
}

// isQuoteContainer reports the elements that hold a quote: Gmail's, Yahoo's, AOL's,
// Thunderbird's, ProtonMail's, Zoho's containers and <blockquote type="cite"> (Apple Mail,
// Thunderbird).
func isQuoteContainer(n *html.Node) bool {
	id := strings.TrimPrefix(strings.ToLower(attr(n, "id")), "x_")
	return strings.HasPrefix(id, "yahoo_quoted") || strings.HasPrefix(id, "aolmsgpart") || hasClass(n, quoteClasses) ||
		n.DataAtom == atom.Blockquote && strings.EqualFold(attr(n, "type"), "cite")
}

// isHistoryMarker reports the elements from which everything is history: Outlook's reply
// header containers, its "border-top" separator when a header block follows, an <hr> followed
// by headers or an attribution, Zimbra's divider.
func isHistoryMarker(n *html.Node) bool {
	id := strings.TrimPrefix(strings.ToLower(attr(n, "id")), "x_")
	if historyIDs[id] || hasClass(n, historyClasses) {
		return true
	}
	switch n.DataAtom {
	case atom.Hr:
		return attr(n, "data-marker") == "__DIVIDER__" || startsHistory(textFollowing(n))
	case atom.Div, atom.P, atom.Td, atom.Span:
		style := strings.ReplaceAll(strings.ToLower(attr(n, "style")), " ", "")
		if strings.Contains(style, "border-top:") && !strings.Contains(style, "border-top:none") &&
			!strings.Contains(style, "border-top:0") || strings.Contains(style, "border-top-style:solid") {
			return startsHistory(quickText(n))
		}
	}
	return false
}

// signedBlock returns the element enclosing a separator <hr> when, in that element, only the
// author's name stands before the separator ("Bob<hr><b>From:</b> …"): the name is the
// signature that goes with the history. Otherwise it returns n.
func (d *docIndex) signedBlock(n *html.Node) *html.Node {
	p := n.Parent
	if n.DataAtom != atom.Hr || p == nil || p.Type != html.ElementNode || p.DataAtom == atom.Body {
		return n
	}
	var b strings.Builder
	for c := p.FirstChild; c != nil && c != n; c = c.NextSibling {
		b.WriteString(quickTextOf(c))
		b.WriteByte(' ')
	}
	if !isNameLine(b.String()) || !d.before[p] {
		return n
	}
	return p
}

// quickTextOf is quickText for a node that may itself be a text node.
func quickTextOf(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	return quickText(n)
}

// startsHistory reports whether a text opens with the header block or the attribution of a
// quoted message.
func startsHistory(s string) bool {
	lines := strings.Split(s, "\n")
	seen := 0
	for _, l := range lines {
		if isBlank(l) {
			continue
		}
		if isAttribution(l) {
			return seen == 0
		}
		if _, ok := headerLine(l); !ok {
			return false
		}
		seen++
		if seen == 2 {
			return true
		}
	}
	return false
}

// textFollowing returns the beginning of the text after n in document order.
func textFollowing(n *html.Node) string {
	var b strings.Builder
	c := next(n, true)
	for nodes := 0; c != nil && b.Len() < 600 && nodes < 200; nodes++ {
		appendQuick(&b, c)
		c = next(c, c.Type == html.ElementNode && (skipped[c.DataAtom] || isHidden(c)))
	}
	return b.String()
}

// quickText returns the beginning of the text of a subtree, with line breaks at <br> and at block
// elements; it is enough to recognise headers.
func quickText(n *html.Node) string {
	var b strings.Builder
	c := n.FirstChild
	for nodes := 0; c != nil && b.Len() < 600 && nodes < 200; nodes++ {
		appendQuick(&b, c)
		c = nextWithin(c, n, c.Type == html.ElementNode && (skipped[c.DataAtom] || isHidden(c)))
	}
	return b.String()
}

func appendQuick(b *strings.Builder, c *html.Node) {
	switch {
	case c.Type == html.TextNode:
		b.WriteString(strings.Join(strings.Fields(c.Data), " "))
	case c.Type == html.ElementNode && (c.DataAtom == atom.Br || blocks[c.DataAtom] > 0):
		b.WriteByte('\n')
	case c.Type == html.ElementNode && (c.DataAtom == atom.B || c.DataAtom == atom.Strong || c.DataAtom == atom.Span):
		b.WriteByte(' ')
	}
}

// next returns the node after n in document order; with skip, n's children are skipped.
func next(n *html.Node, skip bool) *html.Node {
	if !skip && n.FirstChild != nil {
		return n.FirstChild
	}
	for ; n != nil; n = n.Parent {
		if n.NextSibling != nil {
			return n.NextSibling
		}
	}
	return nil
}

// nextWithin is next limited to the subtree of root.
func nextWithin(n, root *html.Node, skip bool) *html.Node {
	if !skip && n.FirstChild != nil {
		return n.FirstChild
	}
	for ; n != nil && n != root; n = n.Parent {
		if n.NextSibling != nil {
			return n.NextSibling
		}
	}
	return nil
}

// cutFrom removes n and everything after it in document order.
func cutFrom(n *html.Node) {
	for cur := n; cur.Parent != nil; cur = cur.Parent {
		for s := cur.NextSibling; s != nil; {
			following := s.NextSibling
			cur.Parent.RemoveChild(s)
			s = following
		}
	}
	if n.Parent != nil {
		n.Parent.RemoveChild(n)
	}
}

// hasClass reports whether one of the element's classes (lower-cased, without OWA's "x_"
// prefix) is in the set.
func hasClass(n *html.Node, set map[string]bool) bool {
	for _, c := range strings.Fields(strings.ToLower(attr(n, "class"))) {
		if set[strings.TrimPrefix(c, "x_")] {
			return true
		}
	}
	return false
}
