package ticket

import "testing"

func TestIsThanksOnly(t *testing.T) {
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"Merci !", true},
		{"Thanks, that fixed it.", true},
		{"Thank you very much", true},
		{"Parfait, merci beaucoup. Bonne journée", true},
		{"Merci, ça marche !", true},
		{"Super, merci", true},
		{"ok thx", true},
		{"Merci mais ça ne marche pas", false},
		{"Thanks, but it is still broken", false},
		{"Thanks. Can you also reset my password?", false},
		{"It doesn't work, thanks", false},
		{"Merci, j'ai toujours le problème", false},
		{"Le problème n'est pas résolu", false},
		{"Please call me back", false},
		{"", false},
		{"thanks thanks thanks thanks thanks thanks thanks thanks thanks thanks thanks thanks thanks thanks thanks thanks", false},
	} {
		if got := IsThanksOnly(tc.text); got != tc.want {
			t.Errorf("IsThanksOnly(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

func TestSanitizeFilename(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\me\photo.jpg`, "photo.jpg"},
		{".htaccess", "htaccess"},
		{"invoice\u202egpj.exe", "invoice_gpj.exe"},
		{"a\x00b\nc.txt", "a_b_c.txt"},
		{"", "attachment"},
		{"..", "attachment"},
		{"/", "attachment"},
		{"résumé été.docx", "résumé été.docx"},
	} {
		if got := SanitizeFilename(tc.in); got != tc.want {
			t.Errorf("SanitizeFilename(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	long := SanitizeFilename(string(make([]byte, 0)) + "é" + string(repeat('x', 300)) + ".pdf")
	if len(long) > 200 || long[len(long)-4:] != ".pdf" {
		t.Errorf("long name = %q (%d bytes), want ≤ 200 bytes ending .pdf", long, len(long))
	}
}

func repeat(b byte, n int) []byte {
	s := make([]byte, n)
	for i := range s {
		s[i] = b
	}
	return s
}

func TestTag(t *testing.T) {
	if got := Tag("#", 42); got != "[#42]" {
		t.Errorf("Tag = %q, want [#42]", got)
	}
	for _, tc := range []struct {
		prefix, subject string
		want            int64
		ok              bool
	}{
		{"#", "Re: [#42] Printer", 42, true},
		{"#", "RE: TR: [#7]", 7, true},
		{"#", "[#] nothing [#x1] then [#12]", 12, true},
		{"#", "no tag [42]", 0, false},
		{"ACME-", "[ACME-9] x [#3]", 9, true},
		{"#", "[#0]", 0, false},
		{"#", "[#042] x", 0, false},
		{"#", "[#99999999999999999999]", 0, false},
	} {
		n, ok := ParseTag(tc.prefix, tc.subject)
		if n != tc.want || ok != tc.ok {
			t.Errorf("ParseTag(%q, %q) = %d %v, want %d %v", tc.prefix, tc.subject, n, ok, tc.want, tc.ok)
		}
	}
}

func TestOpen(t *testing.T) {
	in := NewTicket{Subject: "  Help ", Requester: Person{Address: " Req@Example.COM "},
		Participants: []Person{{Address: "CC@example.com"}, {Address: "cc@example.com"}, {Address: "req@example.com"}}}
	tk, ev, err := Open(in, DefaultPolicy(), CLI, now)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Subject != "Help" || tk.Requester.Address != "req@example.com" || tk.Status != StatusNew ||
		tk.Priority != PriorityNormal || tk.Type != "question" || len(tk.Participants) != 1 || tk.Channel != ChannelEmail {
		t.Errorf("got %+v", tk)
	}
	if ev.Kind != EventCreated || ev.Actor != "cli" || ev.To != "new" {
		t.Errorf("event = %+v, want created by cli", ev)
	}
	for _, bad := range []NewTicket{
		{Subject: "", Requester: Person{Address: "a@b"}},
		{Subject: "x", Requester: Person{Address: "not an address"}},
		{Subject: "x", Requester: Person{Address: "a@b"}, Type: "rant"},
		{Subject: "x", Requester: Person{Address: "a@b"}, Priority: "asap"},
	} {
		if _, _, err := Open(bad, DefaultPolicy(), CLI, now); err == nil {
			t.Errorf("Open(%+v) succeeded, want an error", bad)
		}
	}
}
