package parse

import (
	"bytes"
	"net/url"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
)

// Sanitize makes the HTML body of a mail safe to show in a browser. The
// policy is bluemonday's UGC policy without its unrestricted images: no
// scripts, event handlers, styles, frames, objects or forms; no remote
// resources (img src may only be a cid: reference to an inline part or a
// data:image URI, so that opening a ticket does not tell the sender it was
// read); relative URLs dropped; links kept with rel="nofollow noopener" and
// target="_blank" (mailto: links get rel="nofollow").
//
// The policy is built for each call, which keeps the package free of
// global state; Sanitize is called once per message.
func Sanitize(html string) string {
	return newPolicy().Sanitize(html)
}

// imgSrc is what an img src may be once URL validation has passed.
var imgSrc = regexp.MustCompile(`(?i)^(cid:|data:image/(png|gif|jpe?g|webp|bmp);base64,)`)

// newPolicy builds the Sanitize policy: UGCPolicy's elements and attributes
// minus AllowImages, plus images restricted to cid: and data: sources.
func newPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowStandardAttributes()
	p.RequireParseableURLs(true)
	p.AllowRelativeURLs(false)
	p.AllowURLSchemes("mailto", "http", "https", "cid")
	p.AllowDataURIImages()
	p.RequireNoFollowOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)

	p.AllowElements("article", "aside", "figure", "section", "summary", "hgroup",
		"h1", "h2", "h3", "h4", "h5", "h6", "br", "div", "hr", "p", "span", "wbr",
		"abbr", "acronym", "cite", "code", "dfn", "em", "figcaption", "mark", "s",
		"samp", "strong", "sub", "sup", "var", "b", "i", "pre", "small", "strike",
		"tt", "u", "rp", "rt", "ruby", "center", "font", "big")
	p.AllowAttrs("open").Matching(regexp.MustCompile(`(?i)^(|open)$`)).OnElements("details")
	p.AllowAttrs("cite").OnElements("blockquote", "q")
	p.AllowElements("blockquote")
	p.AllowAttrs("href").OnElements("a")
	p.AllowAttrs("datetime").Matching(bluemonday.ISO8601).OnElements("time")
	p.AllowAttrs("dir").Matching(bluemonday.Direction).OnElements("bdi", "bdo")
	p.AllowAttrs("cite").Matching(bluemonday.Paragraph).OnElements("del", "ins")
	p.AllowAttrs("datetime").Matching(bluemonday.ISO8601).OnElements("del", "ins")
	p.AllowAttrs("color").Matching(regexp.MustCompile(`(?i)^(#[0-9a-f]{3,8}|[a-z]{3,20})$`)).OnElements("font")
	p.AllowAttrs("align").Matching(regexp.MustCompile(`(?i)^(left|right|center|justify)$`)).OnElements("p", "div", "td", "th", "tr", "table")
	p.AllowLists()
	p.AllowTables()

	p.AllowAttrs("align").Matching(bluemonday.ImageAlign).OnElements("img")
	p.AllowAttrs("alt").Matching(bluemonday.Paragraph).OnElements("img")
	p.AllowAttrs("height", "width").Matching(bluemonday.NumberOrPercent).OnElements("img")
	p.AllowAttrs("src").Matching(imgSrc).OnElements("img")
	return p
}

// cidRefs returns the Content-IDs referenced as "cid:…" in an HTML body,
// lower-cased.
func cidRefs(html string) map[string]bool {
	refs := map[string]bool{}
	low := strings.ToLower(html)
	for i := 0; ; {
		j := strings.Index(low[i:], "cid:")
		if j < 0 {
			break
		}
		start := i + j + 4
		end := start
		for end < len(low) && !strings.ContainsRune("\"' <>)\t\r\n", rune(low[end])) {
			end++
		}
		if id := low[start:end]; id != "" {
			refs[id] = true
			if u, err := url.PathUnescape(id); err == nil {
				refs[u] = true
			}
		}
		i = end
		if len(refs) > 10000 {
			break
		}
	}
	return refs
}

// metaCharset finds the charset an HTML document declares in a <meta> tag
// among its first bytes, "" if none.
func metaCharset(b []byte) string {
	if len(b) > 8192 {
		b = b[:8192]
	}
	low := bytes.ToLower(b)
	for i := 0; ; {
		j := bytes.Index(low[i:], []byte("<meta"))
		if j < 0 {
			return ""
		}
		tag := low[i+j:]
		if k := bytes.IndexByte(tag, '>'); k >= 0 {
			tag = tag[:k]
		}
		if k := bytes.Index(tag, []byte("charset")); k >= 0 {
			v := bytes.TrimLeft(tag[k+7:], " \t\r\n")
			if len(v) > 0 && v[0] == '=' {
				v = bytes.TrimLeft(v[1:], " \t\r\n\"'")
				end := 0
				for end < len(v) && !bytes.ContainsAny(v[end:end+1], "\"'; \t\r\n/>") {
					end++
				}
				if end > 0 {
					return string(v[:end])
				}
			}
		}
		i += j + 5
	}
}

// enrichedToText turns text/enriched (RFC 1896) into plain text: commands
// dropped, "<<" is "<", a lone line break is a space and n breaks are n-1.
func enrichedToText(s string) string {
	var b strings.Builder
	nl := 0
	param := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' {
			continue
		}
		if c == '\n' {
			nl++
			continue
		}
		if nl > 0 {
			if param == 0 {
				if nl == 1 {
					b.WriteByte(' ')
				} else {
					b.WriteString(strings.Repeat("\n", nl-1))
				}
			}
			nl = 0
		}
		if c == '<' {
			if i+1 < len(s) && s[i+1] == '<' {
				if param == 0 {
					b.WriteByte('<')
				}
				i++
				continue
			}
			end := strings.IndexByte(s[i:], '>')
			if end < 0 {
				break
			}
			cmd := strings.ToLower(s[i+1 : i+end])
			switch cmd {
			case "param":
				param++
			case "/param":
				if param > 0 {
					param--
				}
			}
			i += end
			continue
		}
		if param == 0 {
			b.WriteByte(c)
		}
	}
	if nl > 1 {
		b.WriteString(strings.Repeat("\n", nl-1))
	}
	return b.String()
}
