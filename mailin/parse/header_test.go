package parse

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDecodeHeaderText(t *testing.T) {
	tests := []struct {
		in, hint, want string
		warn           string // substring of a warning, "" for none
	}{
		{"plain subject", "", "plain subject", ""},
		{"=?UTF-8?B?8J+Tpw==?= Test =?iso-8859-1?Q?=CDslenskt_pangram?=", "", "📧 Test Íslenskt pangram", ""},
		{"=?utf-8?q?a?= =?utf-8?q?b?=", "", "ab", ""},                    // space between words dropped
		{"=?utf-8?q?a?=\t  =?utf-8?q?b?=", "", "ab", ""},                 // any folding white space
		{"=?utf-8?q?a?==?utf-8?q?b?=", "", "ab", ""},                     // words glued together
		{"=?iso-8859-1?q?a?= b =?iso-8859-1?q?c?=", "", "a b c", ""},     // text between words kept
		{"=?utf-8?Q?=E6=97?= =?utf-8?Q?=A5=E6=9C=AC?=", "", "日本", ""},    // character split across words
		{"=?utf-8?B?5pe=?= =?utf-8?B?pQ==?=", "", "日", ""},               // split in base64 words
		{"Re:=?utf-8?q?caf=C3=A9?=", "", "Re:café", ""},                  // glued to text
		{"=?utf-8?q?caf=C3=A9?=!", "", "café!", ""},                      // glued after
		{"=?UTF-8*en?Q?hello?=", "", "hello", ""},                        // RFC 2231 language
		{"=?utf-8?b?w6k?=", "", "é", ""},                                 // base64 without padding
		{"=?iso-8859-1?q?Hello World?=", "", "Hello World", ""},          // Q with a space
		{"=?ISO-2022-JP?B?GyRCJEskWyRzGyhC?=", "", "にほん", ""},            // stateful charset
		{"=?ks_c_5601-1987?B?x9G5rg==?=", "", "한문", ""},                  // alias
		{"=?x-foo?q?caf=C3=A9?=", "", "café", `unknown charset "x-foo"`}, // unknown label, UTF-8 bytes
		{"=?us-ascii?q?caf=E9?=", "", "café", `"us-ascii" declared`},     // lying label
		{"=?NONE?B?VEVTVA=?=", "", "TEST", `"none"`},                     // mikel-mail bad_encoded_subject
		{"=?utf-8?q?unterminated", "", "=?utf-8?q?unterminated", ""},     // not a word
		{"a =? b ?= c", "", "a =? b ?= c", ""},                           // not a word
		{"=?utf-8?x?abc?=", "", "=?utf-8?x?abc?=", ""},                   // unknown encoding
		{"Caf\xe9 cr\xe8me", "", "Café crème", "windows-1252"},           // raw 8-bit
		{"Za\xbf\xf3\xb3\xe6", "iso-8859-2", "Zażółć", "iso-8859-2"},     // raw 8-bit, message charset
		{"Déjà vu", "", "Déjà vu", ""},                                   // RFC 6532 UTF-8
		{"=?utf-8?q?=E2=82=AC?= 100 =?utf-8?q?=E2=82=AC?=", "", "€ 100 €", ""},
		{"=?UTF-7?Q?+ZeVnLIqe-?=", "", "日本語", ""},
		{"=??Q?abc?=", "", "abc", ""}, // empty charset, ASCII
	}
	for _, tt := range tests {
		got, warns := decodeHeaderText(tt.in, tt.hint)
		if got != tt.want {
			t.Errorf("decodeHeaderText(%q): got %q, want %q", tt.in, got, tt.want)
		}
		w := strings.Join(warns, "; ")
		switch {
		case tt.warn == "" && w != "":
			t.Errorf("decodeHeaderText(%q): unexpected warning %q", tt.in, w)
		case tt.warn != "" && !strings.Contains(w, tt.warn):
			t.Errorf("decodeHeaderText(%q): got warnings %q, want one with %q", tt.in, w, tt.warn)
		}
	}
}

func TestParseMediaHeader(t *testing.T) {
	tests := []struct {
		in     string
		value  string
		params map[string]string
	}{
		{`text/plain`, "text/plain", map[string]string{}},
		{`TEXT/Plain; CharSet="ISO-8859-1"`, "text/plain", map[string]string{"charset": "ISO-8859-1"}},
		{`attachment; filename="a b.pdf"`, "attachment", map[string]string{"filename": "a b.pdf"}},
		{`attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf`, "attachment", map[string]string{"filename": "€ rates.pdf"}},
		{`attachment; filename*0*=UTF-8''%E6%97%A5; filename*1*=%E6%9C%AC.txt`, "attachment", map[string]string{"filename": "日本.txt"}},
		{`attachment; filename*1*=%E6%9C%AC.txt; filename*0*=UTF-8''%E6%97%A5`, "attachment", map[string]string{"filename": "日本.txt"}},
		{`attachment; filename*0*=iso-8859-1'fr'caf%E9; filename*1=" menu.txt"`, "attachment", map[string]string{"filename": "café menu.txt"}},
		{`attachment; filename*0="long "; filename*1="name.txt"`, "attachment", map[string]string{"filename": "long name.txt"}},
		{`application/octet-stream; name*=iso-2022-jp'ja'%1B%24B%24F%249%24H%1B%28B.txt`, "application/octet-stream", map[string]string{"name": "てすと.txt"}},
		{`attachment; filename="fallback.txt"; filename*=utf-8''real.txt`, "attachment", map[string]string{"filename": "real.txt"}},
		{`attachment; filename=This is a test.txt`, "attachment", map[string]string{"filename": "This is a test.txt"}},
		{`attachment; filename="=?UTF-8?B?w6kudHh0?="`, "attachment", map[string]string{"filename": "é.txt"}},
		{`attachment; filename==?UTF-8?B?w6kudHh0?=`, "attachment", map[string]string{"filename": "é.txt"}},
		{"attachment; filename=\"caf\xc3\xa9.txt\"", "attachment", map[string]string{"filename": "café.txt"}},
		{`text/plain charset=utf-8`, "text/plain", map[string]string{"charset": "utf-8"}},
		{`text/plain; charset=utf-8 format=flowed`, "text/plain", map[string]string{"charset": "utf-8", "format": "flowed"}},
		{`text/plain; charset=us-ascii (Plain text)`, "text/plain", map[string]string{"charset": "us-ascii"}},
		{`text/plain; charset="a"; charset="b"`, "text/plain", map[string]string{"charset": "a"}},
		{`attachment; filename="abc.pdf`, "attachment", map[string]string{"filename": "abc.pdf"}},
		{`attachment; filename="abc.pdf; size=12`, "attachment", map[string]string{"filename": "abc.pdf", "size": "12"}},
		{`attachment; filename="a \"quoted\" name"`, "attachment", map[string]string{"filename": `a "quoted" name`}},
		{`attachment; filename="C:\dir\file.txt"`, "attachment", map[string]string{"filename": `C:\dir\file.txt`}},
		{`multipart/mixed;boundary="----=_Part_1"`, "multipart/mixed", map[string]string{"boundary": "----=_Part_1"}},
		{`multipart/mixed; boundary=simple;`, "multipart/mixed", map[string]string{"boundary": "simple"}},
		{`; charset=utf-8`, "", map[string]string{"charset": "utf-8"}},
		{`text/html;; ;charset=utf-8;`, "text/html", map[string]string{"charset": "utf-8"}},
		{`image/png; name`, "image/png", map[string]string{}},
	}
	for _, tt := range tests {
		h, _ := parseMediaHeader(tt.in, "")
		if h.value != tt.value || !reflect.DeepEqual(h.params, tt.params) {
			t.Errorf("parseMediaHeader(%q): got %q %v, want %q %v", tt.in, h.value, h.params, tt.value, tt.params)
		}
	}
}

func TestParseAddressList(t *testing.T) {
	tests := []struct {
		in   string
		want []Address
	}{
		{"John Doe <John@Example.COM>", []Address{{"john@example.com", "John Doe"}}},
		{`"Doe, John" <j@x.com>, other@y.com`, []Address{{"j@x.com", "Doe, John"}, {"other@y.com", ""}}},
		{"Doe, John <j@x.com>", []Address{{"j@x.com", "Doe, John"}}},
		{"=?utf-8?q?J=C3=B6rg?= <j@x.de>", []Address{{"j@x.de", "Jörg"}}},
		{`"=?utf-8?q?J=C3=B6rg_M=C3=BCller?=" <j@x.de>`, []Address{{"j@x.de", "Jörg Müller"}}},
		{"=?utf-8?q?M=C3=BCller=2C_J=C3=B6rg?= <j@x.de>", []Address{{"j@x.de", "Müller, Jörg"}}},
		{"j@x.com (John Doe)", []Address{{"j@x.com", "John Doe"}}},
		{"undisclosed-recipients:;", nil},
		{"Group: a@x.com, b@y.com;", []Address{{"a@x.com", ""}, {"b@y.com", ""}}},
		{"a@x.com; b@y.com", []Address{{"a@x.com", ""}, {"b@y.com", ""}}},
		{"<a@x.com>", []Address{{"a@x.com", ""}}},
		{"John <mailto:John@X.com>", []Address{{"john@x.com", "John"}}},
		{"Some One <one@foo.bar<mailto:one@foo.bar>>", []Address{{"one@foo.bar", "Some One"}}},
		{"tim@x.com concierge@x.com", []Address{{"tim@x.com", ""}, {"concierge@x.com", ""}}},
		{"Whomever", []Address{{"", "Whomever"}}},
		{"'John Doe' <j@x.com>", []Address{{"j@x.com", "John Doe"}}},
		{"John Doe j@x.com", []Address{{"j@x.com", "John Doe"}}},
		{"<@route.example:j@x.com>", []Address{{"j@x.com", ""}}},
		{"J\xf6rg <j@x.de>", []Address{{"j@x.de", "Jörg"}}},
		{`"J. \"Bob\" Doe" <bob@x.com>`, []Address{{"bob@x.com", `J. "Bob" Doe`}}},
		{"John   Doe <j@x.com", []Address{{"j@x.com", "John Doe"}}},
		{"jdöe@mächine.example", []Address{{"jdöe@mächine.example", ""}}},
		{"", nil},
		{",,", nil},
	}
	for _, tt := range tests {
		got, _ := parseAddressList(tt.in, "")
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseAddressList(%q): got %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in   string
		want string // RFC 3339 in UTC, "" when unparseable
	}{
		{"Mon, 01 Apr 2019 07:55:00 +0000 (GMT)", "2019-04-01T07:55:00Z"},
		{"Fri, 07 Oct 1994 16:15:05 -0700 (PDT)", "1994-10-07T23:15:05Z"},
		{"1 Apr 2019 07:55:00 +0200", "2019-04-01T05:55:00Z"},
		{"Mon, 1 Apr 2019 07:55 +0200", "2019-04-01T05:55:00Z"},
		{"Mon, 01 Apr 2019 07:55:00 CEST", "2019-04-01T05:55:00Z"},
		{"Mon, 01 Apr 2019 07:55:00 EST", "2019-04-01T12:55:00Z"},
		{"Mon, 01 Apr 2019 07:55:00 GMT+0200", "2019-04-01T05:55:00Z"},
		{"Mon, 01 Apr 2019 07:55:00 UTC+2", "2019-04-01T05:55:00Z"},
		{"Monday, 1 April 2019 07:55:00 +0200", "2019-04-01T05:55:00Z"},
		{"Wednesday, 5 April 2017 at 17:01", "2017-04-05T17:01:00Z"},
		{"Monday, February 8, 2016 11:44 AM", "2016-02-08T11:44:00Z"},
		{"Mon Apr  1 07:55:00 2019", "2019-04-01T07:55:00Z"},
		{"2019-04-01T07:55:00+02:00", "2019-04-01T05:55:00Z"},
		{"2019-04-01 07:55:00", "2019-04-01T07:55:00Z"},
		{"Mon, 01 Apr 19 07:55:00 +0000", "2019-04-01T07:55:00Z"},
		{"mon, 01 apr 2019 07:55:00 +0000", "2019-04-01T07:55:00Z"},
		{"  Mon,  01   Apr 2019\t07:55:00 +0000 ", "2019-04-01T07:55:00Z"},
		{"garbage", ""},
		{"", ""},
		{"Wed, 15 Dec 2010    59:10 -0500", ""},
		{"Mon, 30 Jun 3609 15:33:50 +0600", ""},
		{"<HR>", ""},
	}
	for _, tt := range tests {
		got, ok := parseDate(tt.in)
		s := ""
		if ok {
			s = got.Format(time.RFC3339)
			if got.Location() != time.UTC {
				t.Errorf("parseDate(%q): not UTC", tt.in)
			}
		}
		if s != tt.want {
			t.Errorf("parseDate(%q): got %q, want %q", tt.in, s, tt.want)
		}
	}
}

func TestParseMsgIDs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"<a@b>", []string{"a@b"}},
		{"<a@b> <c@d>", []string{"a@b", "c@d"}},
		{"<a@b>,<c@d>\r\n <a@b>", []string{"a@b", "c@d"}},
		{"a@b", []string{"a@b"}},
		{"a@b c@d", []string{"a@b", "c@d"}},
		{"<a@b", []string{"a@b"}},
		{"< a@b >", []string{"a@b"}},
		{"Your message of <a@b> (comment)", []string{"a@b"}},
		{"", nil},
		{"no id here", nil},
	}
	for _, tt := range tests {
		if got := parseMsgIDs(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseMsgIDs(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseCTE(t *testing.T) {
	tests := []struct {
		in   string
		want transferEncoding
	}{
		{"", cteIdentity}, {"7bit", cteIdentity}, {"8-bit", cteIdentity}, {"7bits", cteIdentity},
		{" 8 bit\t", cteIdentity}, {"binary", cteIdentity}, {"Base64", cteBase64}, {"base64;", cteBase64},
		{"quoted-printable", cteQP}, {"Quoted Printable", cteQP}, {"quoted-printable;", cteQP},
		{"x-uuencode", cteUU}, {"base9000", cteUnknown}, {"7vladi.Pimenovit", cteUnknown},
	}
	for _, tt := range tests {
		if got := parseCTE(tt.in); got != tt.want {
			t.Errorf("parseCTE(%q): got %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestTransferDecoders(t *testing.T) {
	b64 := []struct{ in, want string }{
		{"aGVsbG8=", "hello"},
		{"aGVs\r\nbG8=\r\n", "hello"},
		{"aGVsbG8", "hello"},                        // no padding
		{"aGVs bG8=", "hello"},                      // space inside
		{"PGh0*bWw+Cg==", "<html>\n"},               // junk character
		{"aGVsbG8= trailing junk\naGk=", "hellohi"}, // junk after padding, then a new encoding
		{"", ""},
		{"====", ""},
		{"a", ""},
	}
	for _, tt := range b64 {
		if got := string(decodeBase64String(tt.in)); got != tt.want {
			t.Errorf("base64 %q: got %q, want %q", tt.in, got, tt.want)
		}
	}
	qp := []struct{ in, want string }{
		{"caf=C3=A9", "café"},
		{"caf=c3=a9", "café"},
		{"soft=\r\nbreak\r\n", "softbreak\r\n"},
		{"soft=  \nbreak", "softbreak"},
		{"trailing   \nspace", "trailing\nspace"},
		{"a=b?c=1", "a=b?c=1"}, // stray '=' kept
		{"end=", "end"},
		{"=4", "=4"},
		{"=\n", ""},
	}
	for _, tt := range qp {
		if got := string(decodeQPString([]byte(tt.in))); got != tt.want {
			t.Errorf("qp %q: got %q, want %q", tt.in, got, tt.want)
		}
	}
	data, name := decodeUU([]byte("begin 644 hi.txt\n%:&5L;&\\*\n`\nend\n"))
	if string(data) != "hello" || name != "hi.txt" {
		t.Errorf("uudecode: got %q %q, want %q %q", data, name, "hello", "hi.txt")
	}
}

func TestHeaderAccess(t *testing.T) {
	h := Header{fields: []Field{
		{Name: "Subject", Value: "=?utf-8?q?caf=C3=A9?="},
		{Name: "X-Tag", Value: "one"},
		{Name: "x-tag", Value: "t\two"},
		{Name: "X-Raw", Value: "caf\xe9"},
	}}
	if got := h.Get("subject"); got != "café" {
		t.Errorf("Get: got %q, want %q", got, "café")
	}
	if got := h.Values("X-TAG"); !reflect.DeepEqual(got, []string{"one", "t wo"}) {
		t.Errorf("Values: got %q", got)
	}
	if got := h.Get("X-Raw"); got != "café" {
		t.Errorf("Get raw 8-bit: got %q, want %q", got, "café")
	}
	if got := h.Raw("subject"); got != "=?utf-8?q?caf=C3=A9?=" {
		t.Errorf("Raw: got %q", got)
	}
	if h.Get("missing") != "" || h.Has("missing") || !h.Has("x-raw") || h.Len() != 4 || len(h.Fields()) != 4 {
		t.Error("Has/Len/Fields/Get of a missing field wrong")
	}
}
