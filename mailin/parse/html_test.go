package parse

import (
	"reflect"
	"strings"
	"testing"
)

func TestSanitize(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // substrings that must remain
		gone     []string // substrings that must go
	}{
		{"script", `<p>hi</p><script>alert(1)</script>`, []string{"<p>hi</p>"}, []string{"script", "alert"}},
		{"event handler", `<p onclick="evil()">x</p><body onload="x()">`, []string{"<p>x</p>"}, []string{"onclick", "onload", "evil"}},
		{"style", `<style>p{background:url(http://t/x)}</style><p style="color:red">x</p>`, []string{"<p>x</p>"}, []string{"style", "url("}},
		{"head", `<html><head><title>T</title><meta http-equiv="refresh" content="0;url=http://x"></head><body>b</body></html>`, []string{"b"}, []string{"<title", "refresh", "<body"}},
		{"frames and objects", `<iframe src="http://x"></iframe><object data="x"></object><embed src="x"><applet>`, nil, []string{"iframe", "object", "embed", "applet"}},
		{"form", `<form action="http://x"><input name="a"><button>b</button></form>`, nil, []string{"form", "input", "button"}},
		{"remote image", `<img src="http://tracker.example/p.gif"><img src="https://t/x.png">`, nil, []string{"tracker", "https://t"}},
		{"cid image", `<img src="cid:logo@x" alt="logo">`, []string{`src="cid:logo@x"`, `alt="logo"`}, nil},
		{"data image", `<img src="data:image/png;base64,iVBORw0KGgo=">`, []string{`src="data:image/png;base64,iVBORw0KGgo="`}, nil},
		{"data html", `<img src="data:text/html;base64,PHNjcmlwdD4=">`, nil, []string{"data:"}},
		{"link", `<a href="https://example.com/x">l</a>`, []string{`href="https://example.com/x"`, `rel="nofollow noopener"`, `target="_blank"`}, nil},
		{"javascript link", `<a href="javascript:alert(1)">l</a>`, []string{"l"}, []string{"javascript", "href"}},
		{"relative link", `<a href="/admin/delete">l</a>`, []string{"l"}, []string{"/admin", "href"}},
		{"mailto", `<a href="mailto:a@b.c">m</a>`, []string{`href="mailto:a@b.c"`, `rel="nofollow"`}, nil},
		{"background", `<div background="http://x/bg.png">d</div><table background="http://x"><tr><td>c</td></tr></table>`, []string{"<div>d</div>", "<td>c</td>"}, []string{"background"}},
		{"svg", `<svg onload="x()"><script>1</script></svg>`, nil, []string{"svg", "onload"}},
		{"formatting", `<p><b>b</b> <i>i</i> <u>u</u></p><ul><li>x</li></ul><blockquote>q</blockquote><pre>p</pre>`,
			[]string{"<b>b</b>", "<i>i</i>", "<ul><li>x</li></ul>", "<blockquote>q</blockquote>", "<pre>p</pre>"}, nil},
	}
	for _, tt := range tests {
		got := Sanitize(tt.in)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: got %q, want it to contain %q", tt.name, got, w)
			}
		}
		for _, g := range tt.gone {
			if strings.Contains(strings.ToLower(got), strings.ToLower(g)) {
				t.Errorf("%s: got %q, want no %q", tt.name, got, g)
			}
		}
	}
}

func TestCIDRefs(t *testing.T) {
	got := cidRefs(`<img src="cid:Logo@X"><img src='cid:a%40b'> <td style="background:url(cid:bg)">`)
	want := map[string]bool{"logo@x": true, "a%40b": true, "a@b": true, "bg": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestMetaCharset(t *testing.T) {
	tests := []struct{ in, want string }{
		{`<html><head><meta charset="iso-8859-2"></head>`, "iso-8859-2"},
		{`<META http-equiv="Content-Type" content="text/html; charset=windows-1251">`, "windows-1251"},
		{`<meta content='text/html;charset=koi8-r' http-equiv='content-type'/>`, "koi8-r"},
		{`<p>no meta</p>`, ""},
		{`<meta name="x">`, ""},
	}
	for _, tt := range tests {
		if got := metaCharset([]byte(tt.in)); got != tt.want {
			t.Errorf("metaCharset(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEnrichedToText(t *testing.T) {
	in := "<bold>Bold</bold> and <italic>italic</italic>\nsame line\n\nnew paragraph <<not a tag>\n<param>hidden</param>x"
	want := "Bold and italic same line\nnew paragraph <not a tag> x"
	if got := enrichedToText(in); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
