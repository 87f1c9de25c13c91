package tnef

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"
)

// The MimeKit TNEF corpus; see its MANIFEST.md.
const corpusDir = "../../../shared/corpus/tnef/mimekit"

// corpusBlobs returns the raw TNEF blobs of the corpus, failing the test if there are none.
func corpusBlobs(tb testing.TB) []string {
	tb.Helper()
	blobs, err := filepath.Glob(filepath.Join(corpusDir, "winmail-dat", "*.tnef"))
	if err != nil || len(blobs) == 0 {
		tb.Fatalf("no TNEF blobs in %s (err %v): the corpus is missing", corpusDir, err)
	}
	return blobs
}

// readList reads a .list: one name per line, the last line with or without its line
// break, an empty file for none. MimeKit's test harness names the bodies body.rtf,
// body.html and body.txt; those are returned apart.
func readList(tb testing.TB, path string) (names, bodies []string) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\r\n")
		switch line {
		case "":
		case "body.rtf", "body.html", "body.txt":
			bodies = append(bodies, line)
		default:
			names = append(names, line)
		}
	}
	return names, bodies
}

// withExpected returns the names of the .list followed by those of the attachments of the
// .expected folder the list lacks (long-filename.list names only body.rtf; upstream only
// checks that the listed names are found). "X.1", "X.2" stand for the listed "X".
func withExpected(tb testing.TB, listed []string, dir string) []string {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return listed
	} else if err != nil {
		tb.Fatal(err)
	}
	names := slices.Clone(listed)
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "message.") {
			continue
		}
		if i := strings.LastIndexByte(name, '.'); i > 0 && slices.Contains(listed, name[:i]) {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				continue
			}
		}
		if !slices.Contains(listed, name) {
			names = append(names, name)
		}
	}
	return names
}

// isText reports whether MimeKit compares the expected file as text, with line breaks
// normalised to LF (its TnefTests.cs): the upstream copies of these files have LF line
// breaks where the TNEF streams have CRLF.
func isText(name string) bool {
	switch filepath.Ext(name) {
	case ".cfg", ".dat", ".htm", ".ini", ".src":
		return true
	}
	return strings.HasPrefix(name, "message.") || name == "AUTHORS" || name == "README"
}

func lf(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")) }

var metaCharset = regexp.MustCompile(`(?i)charset=["']?([a-z0-9_-]+)`)

// htmlAsUTF8 converts an expected HTML body, stored in the charset it declares, to the
// UTF-8 Decode gives.
func htmlAsUTF8(tb testing.TB, b []byte) []byte {
	tb.Helper()
	m := metaCharset.FindSubmatch(b)
	if m == nil {
		return b
	}
	switch cs := strings.ToLower(string(m[1])); cs {
	case "utf-8", "us-ascii":
		return b
	case "iso-8859-1":
		u, err := charmap.ISO8859_1.NewDecoder().Bytes(b)
		if err != nil {
			tb.Fatal(err)
		}
		return u
	default:
		tb.Fatalf("expected HTML in charset %q: add it to htmlAsUTF8", cs)
		return nil
	}
}

// expectedContent returns what Decode gave for a file of a .expected folder: the bodies
// are message.rtf, message.html and message.txt; a name given to several files is
// suffixed .1, .2 in stream order.
func expectedContent(m *Message, name string) ([]byte, *File, bool) {
	switch name {
	case "message.rtf":
		return m.BodyRTF, nil, m.BodyRTF != nil
	case "message.html":
		return []byte(m.BodyHTML), nil, m.BodyHTML != ""
	case "message.txt":
		return []byte(m.Body), nil, m.Body != ""
	}
	var same []*File
	for i := range m.Files {
		if m.Files[i].Name == name {
			same = append(same, &m.Files[i])
		}
	}
	if len(same) == 1 {
		return same[0].Data, same[0], true
	}
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		base := name[:i]
		n, err := strconv.Atoi(name[i+1:])
		var k int
		for j := range m.Files {
			if m.Files[j].Name == base {
				if k++; err == nil && k == n {
					return m.Files[j].Data, &m.Files[j], true
				}
			}
		}
	}
	return nil, nil, false
}

// TestCorpus decodes every blob of the corpus: no error, the attachment names of its
// .list, and the content of every file of its .expected folder. Binary files must be equal
// byte for byte; text files (isText) byte for byte once CRLF is turned into LF, as MimeKit
// compares them. garbage-at-end (one stray byte after the last attribute) and panic (17 KB
// of base64 after the last attachment) are damaged at their end only: they decode without
// error, the garbage ignored.
func TestCorpus(t *testing.T) {
	var blobs, names int
	var exact, textOnly [2]int // attachments, bodies
	for _, blob := range corpusBlobs(t) {
		base := strings.TrimSuffix(blob, ".tnef")
		t.Run(filepath.Base(base), func(t *testing.T) {
			data, err := os.ReadFile(blob)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Decode(data)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			blobs++

			listed, wantBodies := readList(t, base+".list")
			wantNames := withExpected(t, listed, base+".expected")
			if len(wantNames) > len(listed) {
				t.Logf("the .list lacks %q, which the .expected folder holds", wantNames[len(listed):])
			}
			var gotNames []string
			for _, f := range m.Files {
				gotNames = append(gotNames, f.Name)
			}
			// The .list does not follow the stream's order (attachments.list).
			slices.Sort(wantNames)
			slices.Sort(gotNames)
			if !slices.Equal(gotNames, wantNames) {
				t.Errorf("names: got %q, want %q", gotNames, wantNames)
			} else {
				names += len(gotNames)
			}
			for _, b := range wantBodies {
				if _, _, ok := expectedContent(m, "message"+filepath.Ext(b)); !ok {
					t.Errorf("%s listed, got no such body", b)
				}
			}

			entries, err := os.ReadDir(base + ".expected")
			if os.IsNotExist(err) {
				return
			} else if err != nil {
				t.Fatal(err)
			}
			matched := map[*File]bool{}
			for _, e := range entries {
				want, err := os.ReadFile(filepath.Join(base+".expected", e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				got, f, ok := expectedContent(m, e.Name())
				if !ok {
					t.Errorf("%s: Decode gave nothing for it", e.Name())
					continue
				}
				matched[f] = true
				if e.Name() == "message.html" {
					want = htmlAsUTF8(t, want)
				}
				kind := 0
				if f == nil {
					kind = 1
				}
				switch {
				case bytes.Equal(got, want):
					exact[kind]++
				case isText(e.Name()) && bytes.Equal(lf(got), lf(want)):
					textOnly[kind]++
				default:
					t.Errorf("%s: got %d bytes, want %d (text: %v)", e.Name(), len(got), len(want), isText(e.Name()))
				}
			}
			for i := range m.Files {
				if !matched[&m.Files[i]] {
					t.Errorf("file %q: not in the .expected folder", m.Files[i].Name)
				}
			}
		})
	}
	t.Logf("%d blobs decoded, %d names matched; expected attachments: %d equal byte for byte, %d once CRLF is LF; expected bodies: %d equal byte for byte, %d once CRLF is LF",
		blobs, names, exact[0], textOnly[0], exact[1], textOnly[1])
}

// tnefPart returns the decoded application/ms-tnef part of a MIME message.
func tnefPart(t testing.TB, name string) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join(corpusDir, name))
	if err != nil {
		t.Fatalf("%v: the corpus is missing", err)
	}
	defer f.Close()
	msg, err := mail.ReadMessage(f)
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextPart()
		if err != nil {
			t.Fatalf("%s: no application/ms-tnef part: %v", name, err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if ct != "application/ms-tnef" && ct != "application/vnd.ms-tnef" {
			continue
		}
		var body io.Reader = p
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
			body = base64.NewDecoder(base64.StdEncoding, p)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// TestCorpusRichText: Outlook 16 rich text. The RTF body and the kitten picture are in
// winmail.dat, with two Outlook items (a task, an appointment) attached as embedded
// messages; the appointment carries the kitten picture too. Flattened, the items give that
// second picture and nothing else: not their bodies, not the placeholder text Outlook puts
// in their attAttachData.
func TestCorpusRichText(t *testing.T) {
	m, err := Decode(tnefPart(t, "rich-text.eml"))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	const kitten = "kitten-playing-with-a-christmas-tree.jpg"
	want := []struct {
		name    string
		modTime time.Time
	}{
		{kitten, time.Date(2018, 12, 15, 10, 3, 32, 0, time.UTC)},            // attAttachModifyDate
		{kitten, time.Date(2018, 12, 15, 14, 49, 23, 412_000_000, time.UTC)}, // PR_LAST_MODIFICATION_TIME
	}
	if len(m.Files) != len(want) {
		t.Fatalf("got %d files, want %d: %+v", len(m.Files), len(want), m.Files)
	}
	for i, w := range want {
		f := m.Files[i]
		if f.Name != w.name || !f.ModTime.Equal(w.modTime) {
			t.Errorf("file %d: got %q %v, want %q %v", i, f.Name, f.ModTime, w.name, w.modTime)
		}
		if len(f.Data) != 375081 || !bytes.HasPrefix(f.Data, []byte{0xFF, 0xD8, 0xFF}) {
			t.Errorf("file %d: got %d bytes starting %x, want a JPEG of 375081 bytes", i, len(f.Data), f.Data[:min(4, len(f.Data))])
		}
	}
	if !bytes.Equal(m.Files[0].Data, m.Files[1].Data) {
		t.Errorf("the two kitten pictures differ")
	}
	if !bytes.HasPrefix(m.BodyRTF, []byte(`{\rtf1`)) || !bytes.Contains(m.BodyRTF, []byte("What a Christmas to remember")) {
		t.Errorf("RTF body: got %d bytes starting %q, want the song", len(m.BodyRTF), m.BodyRTF[:min(20, len(m.BodyRTF))])
	}
	if m.Body != "" || m.BodyHTML != "" {
		t.Errorf("got a text body of %d bytes and an HTML body of %d, want none", len(m.Body), len(m.BodyHTML))
	}
}

// TestCorpusUkr: the HTML body is KOI8-R (PR_INTERNET_CPID 20866) and comes out in UTF-8,
// with its charset declaration untouched; the expected text is MimeKit's
// TestExtractedCharset.
func TestCorpusUkr(t *testing.T) {
	m, err := Decode(tnefPart(t, "ukr.eml"))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	const want = "<html>\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=koi8-r\">\r\n<style type=\"text/css\" style=\"display:none;\"><!-- P {margin-top:0;margin-bottom:0;} --></style>\r\n</head>\r\n<body dir=\"ltr\">\r\n<div id=\"divtagdefaultwrapper\" style=\"font-size:12pt;color:#000000;font-family:Calibri,Helvetica,sans-serif;\" dir=\"ltr\">\r\n<p>шостий</p>\r\n<p><br>\r\n</p>\r\n<p>{EMAILSIGNATURE}</p>\r\n<p><br>\r\n</p>\r\n<div id=\"Signature\"><br>\r\n<font color=\"#888888\" face=\"Arial, Helvetica, Helvetica, Geneva, Sans-Serif\" style=\"font-size: 10pt;\"><br>\r\n<font color=\"#888888\" face=\"Arial, Helvetica, Helvetica, Geneva, Sans-Serif\" style=\"font-size: 12pt;\"><b>RR Test 1</b></font>\r\n</font>\r\n<p><font color=\"#888888\" face=\"Arial, Helvetica, Helvetica, Geneva, Sans-Serif\" style=\"font-size: 10pt;\">&nbsp;</font></p>\r\n</div>\r\n</div>\r\n</body>\r\n</html>\r\n"
	if m.BodyHTML != want {
		t.Errorf("HTML body:\n got %q\nwant %q", m.BodyHTML, want)
	}
	if len(m.Files) != 0 || m.Body != "" || m.BodyRTF != nil {
		t.Errorf("got %d files, a text body of %d bytes, an RTF body of %d, want none", len(m.Files), len(m.Body), len(m.BodyRTF))
	}
}
