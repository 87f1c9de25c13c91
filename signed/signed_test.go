package signed

import (
	"strings"
	"testing"
)

func signer(t *testing.T, key string) *Signer {
	t.Helper()
	s, err := New([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestReplyAddress(t *testing.T) {
	s := signer(t, "0123456789abcdef0123")
	addr := s.ReplyAddress("Support@Example.com", 42)
	if !strings.HasPrefix(addr, "support+42-") || !strings.HasSuffix(addr, "@example.com") || len(addr) > 64+12 {
		t.Fatalf("ReplyAddress = %q", addr)
	}
	for _, in := range []string{addr, strings.ToUpper(addr), "<" + addr + ">", " " + addr} {
		n, base, ok := s.ParseReplyAddress(in)
		if !ok || n != 42 || base != "support@example.com" {
			t.Errorf("ParseReplyAddress(%q) = %d %q %v, want 42 support@example.com", in, n, base, ok)
		}
	}
	other := signer(t, "another secret of 16+")
	bad := []string{
		strings.Replace(addr, "+42-", "+43-", 1), // another number, same signature
		other.ReplyAddress("support@example.com", 42),
		"support+42@example.com", "support@example.com", "support+-@example.com", "+42-abc@x", "support+0-aaaaaaaaaa@x",
	}
	for _, in := range bad {
		if n, _, ok := s.ParseReplyAddress(in); ok {
			t.Errorf("ParseReplyAddress(%q) = %d, want refused", in, n)
		}
	}
	if got := s.ReplyAddress("support+old@example.com", 7); !strings.HasPrefix(got, "support+7-") {
		t.Errorf("ReplyAddress of a plus-form = %q, want the base plus the tag", got)
	}
}

func TestReturnAddressAndMessageID(t *testing.T) {
	s := signer(t, "0123456789abcdef0123")
	ret := s.ReturnAddress("noreply@example.com", 1234)
	if id, ok := s.ParseReturnAddress(ret); !ok || id != 1234 {
		t.Errorf("ParseReturnAddress(%q) = %d %v", ret, id, ok)
	}
	if _, ok := s.ParseReturnAddress(s.ReplyAddress("noreply@example.com", 1234)); ok {
		t.Errorf("a reply address taken for a return address")
	}
	if _, _, ok := s.ParseReplyAddress(ret); ok {
		t.Errorf("a return address taken for a reply address")
	}
	mid := s.MessageID(42, "17", "example.com")
	if n, ok := s.ParseMessageID("<" + mid + ">"); !ok || n != 42 {
		t.Errorf("ParseMessageID(%q) = %d %v", mid, n, ok)
	}
	if _, ok := s.ParseMessageID(strings.Replace(mid, "g42.", "g41.", 1)); ok {
		t.Errorf("forged Message-ID accepted")
	}
}

func TestLoop(t *testing.T) {
	s := signer(t, "0123456789abcdef0123")
	if !s.IsLoop(s.LoopValue()) || s.IsLoop("x") || signer(t, "another secret of 16+").IsLoop(s.LoopValue()) {
		t.Errorf("loop value not recognised as ours only")
	}
	if _, err := New([]byte("short")); err != ErrShortKey {
		t.Errorf("short key: %v, want ErrShortKey", err)
	}
}

func FuzzParse(f *testing.F) {
	s, _ := New([]byte("0123456789abcdef0123"))
	f.Add(s.ReplyAddress("support@example.com", 9))
	f.Add("a+b-c@d")
	f.Fuzz(func(t *testing.T, addr string) {
		if n, base, ok := s.ParseReplyAddress(addr); ok && s.ReplyAddress(base, n) != strings.ToLower(strings.Trim(strings.TrimSpace(addr), "<>")) {
			t.Errorf("ParseReplyAddress(%q) accepted a non-canonical form", addr)
		}
		s.ParseReturnAddress(addr)
		s.ParseMessageID(addr)
	})
}
