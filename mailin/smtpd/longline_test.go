package smtpd

import (
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

// Lines longer than RFC 5321's 1,000 octets are common in real mail (HTML from web forms and
// mailers that never fold, base64 without line breaks): the message is stored as sent, not
// refused — a refusal would bounce the customer's mail.
func TestLongLines(t *testing.T) {
	d := &fakeDeliverer{}
	_, addr := startServer(t, d, testOptions(t), nil)
	for _, n := range []int{999, 5000, 200000} {
		c := dial(t, addr)
		line := strings.Repeat("x", n)
		msg := strings.Replace(testMessage("long@x"), "Hello.", line, 1)
		if err := send(c, "jean@client.example", []string{"support@support.example"}, msg); err != nil {
			t.Errorf("a line of %d octets: %v", n, err)
			continue
		}
		got := d.deliveries()
		if last := got[len(got)-1]; !strings.Contains(string(last.raw), line+"\r\n") {
			t.Errorf("a line of %d octets: not stored whole", n)
		}
	}
}

// A message over the size limit made of long lines is refused for its size (552, permanent),
// not with 451, and the session goes on.
func TestLongLinesOverSize(t *testing.T) {
	d := &fakeDeliverer{}
	o := testOptions(t)
	o.MaxMessageSize = 100000
	_, addr := startServer(t, d, o, nil)
	c := dial(t, addr)
	line := strings.Repeat("x", 60000)
	msg := strings.Replace(testMessage("huge@x"), "Hello.", line+"\r\n"+line+"\r\n"+line, 1)
	wantSMTPError(t, send(c, "jean@client.example", []string{"support@support.example"}, msg), 552, smtp.EnhancedCode{5, 3, 4})
	if len(d.deliveries()) != 0 {
		t.Error("stored")
	}
	if err := send(c, "jean@client.example", []string{"support@support.example"}, testMessage("next@x")); err != nil {
		t.Errorf("the next message: %v", err)
	}
}
