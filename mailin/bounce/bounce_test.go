package bounce

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// msg joins lines with CRLF, as mail travels.
func msg(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

// A minimal RFC 3464 report returning the header of one of our notifications.
var dsnMinimal = msg(
	"Return-Path: <>",
	"From: Mail Delivery System <MAILER-DAEMON@mx.client.example>",
	"To: noreply+b42-abcdefghij@guichet.example",
	"Subject: Undelivered Mail Returned to Sender",
	"Auto-Submitted: auto-replied",
	"MIME-Version: 1.0",
	`Content-Type: multipart/report; report-type=delivery-status; boundary="B1"`,
	"",
	"--B1",
	"Content-Type: text/plain",
	"",
	"Your message could not be delivered.",
	"--B1",
	"Content-Type: message/delivery-status",
	"",
	"Reporting-MTA: dns; mx.client.example",
	"",
	"Final-Recipient: rfc822; Jean.Dupont@Client.Example",
	"Action: failed",
	"Status: 5.1.1",
	"Diagnostic-Code: smtp; 550 5.1.1 <jean.dupont@client.example>: Recipient address",
	"    rejected: User unknown in virtual mailbox table",
	"",
	"--B1",
	"Content-Type: text/rfc822-headers",
	"",
	"Return-Path: <noreply+b42-abcdefghij@guichet.example>",
	"From: Support <support@guichet.example>",
	"To: Jean.Dupont@Client.Example",
	"Subject: [#42] Votre demande",
	"Message-ID: <n42.abc@guichet.example>",
	"X-Guichet-Loop: sig",
	"",
	"--B1--",
)

// A temporary failure: the mailbox is full, the MTA keeps trying (RFC 3464 Action: delayed).
var dsnDelayed = msg(
	"From: postmaster@mx.client.example",
	"To: noreply@guichet.example",
	"Subject: Delivery Status Notification (Delay)",
	`Content-Type: multipart/report; report-type="delivery-status"; boundary=outer`,
	"",
	"--outer",
	"Content-Type: text/plain; charset=utf-8",
	"",
	"This is a warning only: your message has not yet been delivered.",
	"The mail system will keep trying for 4 more days.",
	"--outer",
	"Content-Type: message/delivery-status",
	"",
	"Reporting-MTA: dns; mx.client.example",
	"",
	"Original-Recipient: rfc822;marie@client.example",
	"Final-Recipient: rfc822;marie.curie@mailstore.client.example",
	"Action: delayed",
	"Status: 4.2.2",
	"Diagnostic-Code: smtp; 452 4.2.2 Mailbox full",
	"Will-Retry-Until: Fri, 5 Jun 2026 10:00:00 +0200",
	"--outer--",
)

// Postfix without DSN: a single text part naming the recipient, then the returned message.
var postfixText = []byte(`Return-Path: <>
Date: Tue,  2 Jun 2026 10:00:00 +0200 (CEST)
From: MAILER-DAEMON@smtp.client.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: noreply+b7-zyxwvutsrq@guichet.example
Content-Type: text/plain; charset=us-ascii

This is the mail system at host smtp.client.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster@client.example

                   The mail system

<paul@client.example>: host mx.client.example[192.0.2.10] said: 550 5.1.1
    <paul@client.example>: Recipient address rejected: User unknown in local
    recipient table (in reply to RCPT TO command)

--- Below this line is a copy of the message.

Return-Path: <noreply+b7-zyxwvutsrq@guichet.example>
From: Support <support@guichet.example>
To: paul@client.example
Subject: [#7] Ticket resolved
Message-ID: <g7.nonce.sig@guichet.example>
X-Guichet-Loop: abcdef

Your ticket was resolved.
`)

// Exchange "Undeliverable:" with its report.
var exchangeNDR = msg(
	"From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@client.example>",
	"To: <noreply+b9-aaaaaaaaaa@guichet.example>",
	"Subject: Undeliverable: [#9] Your request",
	"X-MS-Exchange-Message-Is-Ndr:",
	`Content-Type: multipart/report; report-type=delivery-status; boundary="_000_"`,
	"",
	"--_000_",
	`Content-Type: multipart/alternative; differences=Content-Type; boundary="_001_"`,
	"",
	"--_001_",
	"Content-Type: text/plain; charset=us-ascii",
	"",
	"Your message to anne@client.example couldn't be delivered.",
	"anne wasn't found at client.example.",
	"--_001_",
	"Content-Type: text/html; charset=us-ascii",
	"",
	"<p>Your message to anne@client.example couldn't be delivered.</p>",
	"--_001_--",
	"--_000_",
	"Content-Type: message/delivery-status",
	"",
	"Reporting-MTA: dns;EX1.client.example",
	"",
	"Final-recipient: RFC822; anne@client.example",
	"Action: failed",
	"Status: 5.1.10",
	"Diagnostic-code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
	"",
	"--_000_",
	"Content-Type: message/rfc822",
	"",
	"From: Support <support@guichet.example>",
	"To: anne@client.example",
	"Subject: [#9] Your request",
	"Message-ID: <g9.x.y@guichet.example>",
	"",
	"Hello",
	"--_000_--",
)

// The French variant as older Exchange servers send it: no report part, the text only, in
// quoted-printable ISO-8859-1, the original header quoted at the end.
var exchangeFrench = msg(
	"From: Administrateur du système <postmaster@client.example>",
	"To: noreply@guichet.example",
	"Subject: =?iso-8859-1?Q?Non_remis=A0:_[#12]_Votre_demande?=",
	"MIME-Version: 1.0",
	`Content-Type: multipart/alternative; boundary="alt"`,
	"",
	"--alt",
	"Content-Type: text/plain; charset=iso-8859-1",
	"Content-Transfer-Encoding: quoted-printable",
	"",
	"Votre message n'a pas pu =EAtre remis aux destinataires suivants :",
	"",
	"luc@client.example",
	"Le serveur de messagerie du destinataire a rejet=E9 votre message.",
	"",
	"Informations de diagnostic pour les administrateurs :",
	"",
	"Serveur de g=E9n=E9ration : EX2.client.example",
	"",
	"luc@client.example",
	"Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient n=",
	"ot found by SMTP address lookup'",
	"",
	"En-t=EAtes de message d'origine :",
	"",
	"Received: from mail.guichet.example (192.0.2.7) by EX2.client.example",
	"From: Support <support@guichet.example>",
	"To: luc@client.example",
	"Subject: [#12] Votre demande",
	"Message-ID: <g12.n.s@guichet.example>",
	"X-Guichet-Loop: sig12",
	"--alt",
	"Content-Type: text/html; charset=iso-8859-1",
	"",
	"<p>Votre message n'a pas pu &ecirc;tre remis.</p>",
	"--alt--",
)

// Exim, several recipients without blank lines between them, one permanent, one temporary.
var eximMulti = []byte(`From: Mail Delivery System <Mailer-Daemon@relay.client.example>
To: noreply@guichet.example
Subject: Mail delivery failed: returning message to sender
X-Failed-Recipients: alice@client.example, bob@client.example
Auto-Submitted: auto-replied

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. The following address(es) failed:

  alice@client.example
    host mx.client.example [192.0.2.25]
    SMTP error from remote mail server after RCPT TO:<alice@client.example>:
    550 5.1.1 <alice@client.example>: Recipient address rejected: User unknown
  bob@client.example
    host mx.client.example [192.0.2.25]
    SMTP error from remote mail server after end of data:
    452 4.2.2 Mailbox full, try again later

------ This is a copy of the message, including all the headers. ------

Return-path: <noreply@guichet.example>
Message-ID: <g5.a.b@guichet.example>
From: support@guichet.example
To: alice@client.example, bob@client.example
Subject: [#5] Hello

Hello
`)

// A multi-recipient RFC 3464 report with one recipient delivered.
var dsnMulti = msg(
	"From: MAILER-DAEMON@mx.example.net",
	"To: noreply@guichet.example",
	"Subject: Returned mail: see transcript for details",
	`Content-Type: multipart/report; report-type=delivery-status; boundary="r"`,
	"",
	"--r",
	"Content-Type: message/delivery-status",
	"",
	"Reporting-MTA: dns; mx.example.net",
	"",
	"Final-Recipient: rfc822; one@example.net",
	"Action: failed",
	"Status: 5.0.0 (permanent failure)",
	"Diagnostic-Code: smtp; 550 5.2.1 mailbox disabled",
	"",
	"Final-Recipient: rfc822; two@example.net",
	"Action: delivered",
	"Status: 2.0.0",
	"",
	"Final-Recipient: rfc822; three@example.net",
	"Action: failed",
	"Status: 5.4.4",
	"Diagnostic-Code: X-Postfix; Host or domain name not found",
	"--r--",
)

// Exim's delay warning: no report part, no code class in the subject, the MTA keeps trying.
var eximDelay = []byte(`From: Mail Delivery System <Mailer-Daemon@relay.client.example>
To: noreply@guichet.example
Subject: Warning: message 1qAbCd-0001xy-9Z delayed 24 hours
Auto-Submitted: auto-replied

This message was created automatically by mail delivery software.
A message that you sent has not yet been delivered to one or more of its
recipients after more than 24 hours on the queue on relay.client.example.

The message identifier is:     1qAbCd-0001xy-9Z
The subject of the message is: [#21] Rappel

The address to which the message has not yet been delivered is:

  claire@client.example
    host mx.client.example [192.0.2.30]
    Delay reason: SMTP error from remote mail server after RCPT TO:<claire@client.example>:
    451 4.3.0 Temporary local problem - please try later

No action is required on your part. Delivery attempts will continue for
some time, and this warning may be repeated at intervals if the message
remains undelivered.
`)

// An Exchange 2003 style NDR: the recipient line carries the date, the code is in brackets.
var exchangeOld = msg(
	"From: System Administrator <postmaster@client.example>",
	"To: noreply@guichet.example",
	"Subject: Undeliverable: [#30] Devis",
	"Content-Type: text/plain; charset=us-ascii",
	"",
	"Your message did not reach some or all of the intended recipients.",
	"",
	"      Subject:\t[#30] Devis",
	"      Sent:\t02/06/2026 10:00",
	"",
	"The following recipient(s) cannot be reached:",
	"",
	"      hugo@client.example on 02/06/2026 10:01",
	"            The e-mail account does not exist at the organization this message was sent to.",
	"            <mx.client.example #5.1.1 smtp;550 5.1.1 User unknown>",
)

// qmail, temporary, the status in "(#4.4.1)".
var qmailTemp = []byte(`From: MAILER-DAEMON@mx.client.example
To: noreply@guichet.example
Subject: failure notice

Hi. This is the qmail-send program at mx.client.example.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<ines@client.example>:
Connected to 192.0.2.40 but connection died. (#4.4.2)
I'm not going to try again; this message has been in the queue too long.

--- Below this line is a copy of the message.

Message-ID: <g33.q.r@guichet.example>
From: support@guichet.example
To: ines@client.example
`)

// HTML only, a Japanese carrier style subject, no code: permanent by default, derived.
var htmlOnly = msg(
	"From: no-reply@mail.carrier.example",
	"To: noreply@guichet.example",
	"Subject: =?UTF-8?B?44Oh44O844Or44Ko44Op44O86YCa55+l?=",
	"Content-Type: text/html; charset=utf-8",
	"",
	"<html><body><p>Your mail sent on: 2026-06-02</p>",
	"<p>Could not be delivered to: &lt;kenji@carrier.example&gt;<br>As their mailbox is full.</p>",
	"</body></html>",
)

func TestParse(t *testing.T) {
	tests := []struct {
		name       string
		raw        []byte
		want       []Recipient
		standard   bool
		originalID string
		headers    map[string]string // returned header fields that must be found
	}{
		{
			name: "RFC 3464 with text/rfc822-headers",
			raw:  dsnMinimal,
			want: []Recipient{{Address: "jean.dupont@client.example", Status: "5.1.1", ReplyCode: "550", Permanent: true,
				Diagnostic: "550 5.1.1 <jean.dupont@client.example>: Recipient address rejected: User unknown in virtual mailbox table"}},
			standard:   true,
			originalID: "n42.abc@guichet.example",
			headers:    map[string]string{"X-Guichet-Loop": "sig", "x-guichet-loop": "sig", "Return-Path": "<noreply+b42-abcdefghij@guichet.example>"},
		},
		{
			name: "temporary 4.2.2 mailbox full",
			raw:  dsnDelayed,
			want: []Recipient{{Address: "marie@client.example", Status: "4.2.2", ReplyCode: "452", Permanent: false,
				Diagnostic: "452 4.2.2 Mailbox full"}},
			standard: true,
		},
		{
			name: "Postfix text bounce without DSN",
			raw:  postfixText,
			want: []Recipient{{Address: "paul@client.example", Status: "5.1.1", ReplyCode: "550", Permanent: true,
				Diagnostic: "<paul@client.example>: host mx.client.example[192.0.2.10] said: 550 5.1.1 <paul@client.example>: Recipient address rejected: User unknown in local recipient table (in reply to RCPT TO command)"}},
			originalID: "g7.nonce.sig@guichet.example",
			headers:    map[string]string{"X-Guichet-Loop": "abcdef"},
		},
		{
			name: "Exchange Undeliverable:",
			raw:  exchangeNDR,
			want: []Recipient{{Address: "anne@client.example", Status: "5.1.10", ReplyCode: "550", Permanent: true,
				Diagnostic: "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"}},
			standard:   true,
			originalID: "g9.x.y@guichet.example",
		},
		{
			name: "Exchange Non remis : without report part",
			raw:  exchangeFrench,
			want: []Recipient{{Address: "luc@client.example", Status: "5.1.10", ReplyCode: "550", Permanent: true,
				Diagnostic: "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'"}},
			originalID: "g12.n.s@guichet.example",
			headers:    map[string]string{"X-Guichet-Loop": "sig12", "Subject": "[#12] Votre demande"},
		},
		{
			name: "Exim, two recipients, one temporary",
			raw:  eximMulti,
			want: []Recipient{
				{Address: "alice@client.example", Status: "5.1.1", ReplyCode: "550", Permanent: true,
					Diagnostic: "host mx.client.example [192.0.2.25] SMTP error from remote mail server after RCPT TO:<alice@client.example>: 550 5.1.1 <alice@client.example>: Recipient address rejected: User unknown"},
				{Address: "bob@client.example", Status: "4.2.2", ReplyCode: "452", Permanent: false,
					Diagnostic: "host mx.client.example [192.0.2.25] SMTP error from remote mail server after end of data: 452 4.2.2 Mailbox full, try again later"},
			},
			originalID: "g5.a.b@guichet.example",
		},
		{
			name: "Exim delay warning",
			raw:  eximDelay,
			want: []Recipient{{Address: "claire@client.example", Status: "4.3.0", ReplyCode: "451", Permanent: false,
				Diagnostic: "host mx.client.example [192.0.2.30] Delay reason: SMTP error from remote mail server after RCPT TO:<claire@client.example>: 451 4.3.0 Temporary local problem - please try later"}},
		},
		{
			name: "Exchange 2003 NDR",
			raw:  exchangeOld,
			want: []Recipient{{Address: "hugo@client.example", Status: "5.1.1", ReplyCode: "550", Permanent: true,
				Diagnostic: "hugo@client.example on 02/06/2026 10:01 The e-mail account does not exist at the organization this message was sent to. <mx.client.example #5.1.1 smtp;550 5.1.1 User unknown>"}},
		},
		{
			name: "qmail, temporary code, given up",
			raw:  qmailTemp,
			want: []Recipient{{Address: "ines@client.example", Status: "4.4.2", Permanent: false,
				Diagnostic: "Connected to 192.0.2.40 but connection died. (#4.4.2) I'm not going to try again; this message has been in the queue too long."}},
			originalID: "g33.q.r@guichet.example",
		},
		{
			name: "HTML only, no code",
			raw:  htmlOnly,
			want: []Recipient{{Address: "kenji@carrier.example", Status: "5.0.0", Permanent: true, Derived: true,
				Diagnostic: "Could not be delivered to: <kenji@carrier.example> As their mailbox is full."}},
		},
		{
			name: "several recipients, one delivered",
			raw:  dsnMulti,
			want: []Recipient{
				{Address: "one@example.net", Status: "5.2.1", ReplyCode: "550", Permanent: true, Diagnostic: "550 5.2.1 mailbox disabled"},
				{Address: "three@example.net", Status: "5.4.4", Permanent: true, Diagnostic: "Host or domain name not found"},
			},
			standard: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !IsBounce(tt.raw) {
				t.Errorf("IsBounce = false, want true")
			}
			r, ok := Parse(tt.raw)
			if !ok {
				t.Fatalf("Parse ok = false, want true")
			}
			if !reflect.DeepEqual(r.Recipients, tt.want) {
				t.Errorf("got recipients\n%+v\nwant\n%+v", r.Recipients, tt.want)
			}
			if r.Standard != tt.standard {
				t.Errorf("got Standard %v, want %v", r.Standard, tt.standard)
			}
			if r.OriginalMessageID != tt.originalID {
				t.Errorf("got OriginalMessageID %q, want %q", r.OriginalMessageID, tt.originalID)
			}
			for k, v := range tt.headers {
				if got := r.OriginalHeader(k); got != v {
					t.Errorf("got OriginalHeader(%q) %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestNotBounce(t *testing.T) {
	tests := []struct {
		name     string
		raw      []byte
		feedback bool
	}{
		{"out of office, RFC 3834", msg(
			"From: Jean Dupont <jean@client.example>",
			"To: support@guichet.example",
			"Subject: Absent du bureau",
			"Auto-Submitted: auto-replied",
			"",
			"Je suis absent jusqu'au 5 juin.",
		), false},
		{"Outlook automatic reply with null sender", msg(
			"Return-Path: <>",
			"From: Anne <anne@client.example>",
			"To: support@guichet.example",
			"Subject: Automatic reply: [#9] Your request",
			"X-Auto-Response-Suppress: All",
			"",
			"I'm out of the office, your message could not be read before Monday.",
		), false},
		{"auto-reply quoting a bounce-like subject", msg(
			"Return-Path: <>",
			"From: Anne <anne@client.example>",
			"To: support@guichet.example",
			"Subject: Automatic reply: Undeliverable parcel",
			"",
			"I am away; your message about the undeliverable parcel will be read on Monday.",
		), false},
		{"mailing list moderation notice", msg(
			"From: clients-owner@lists.client.example",
			"To: support@guichet.example",
			"Subject: Your message to Clients awaits moderator approval",
			"",
			"Your mail to 'Clients' with the subject [#4] Maintenance is being held until the list",
			"moderator can review it for approval. Reason: post by non-member to a members-only list.",
		), false},
		{"successful delivery DSN", msg(
			"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>",
			"To: noreply@guichet.example",
			"Subject: Successful Mail Delivery Report",
			`Content-Type: multipart/report; report-type=delivery-status; boundary="s"`,
			"",
			"--s",
			"Content-Type: message/delivery-status",
			"",
			"Reporting-MTA: dns; mx.example.net",
			"",
			"Final-Recipient: rfc822; one@example.net",
			"Action: delivered",
			"Status: 2.0.0",
			"",
			"Final-Recipient: rfc822; two@example.net",
			"Action: relayed",
			"Status: 2.0.0",
			"--s--",
		), false},
		{"feedback report", msg(
			"From: feedback@arf.example.com",
			"To: abuse@guichet.example",
			"Subject: FW: [#3] Hello",
			`Content-Type: multipart/report; report-type=feedback-report; boundary="f"`,
			"",
			"--f",
			"Content-Type: text/plain",
			"",
			"This is an email abuse report.",
			"--f",
			"Content-Type: message/feedback-report",
			"",
			"Feedback-Type: abuse",
			"User-Agent: Example-FBL/1.0",
			"Version: 1",
			"--f--",
		), true},
		{"read receipt", msg(
			"From: anne@client.example",
			"To: support@guichet.example",
			"Subject: Read: [#9] Your request",
			`Content-Type: multipart/report; report-type=disposition-notification; boundary="d"`,
			"",
			"--d",
			"Content-Type: message/disposition-notification",
			"",
			"Final-Recipient: rfc822;anne@client.example",
			"Disposition: manual-action/MDN-sent-manually; displayed",
			"--d--",
		), false},
		{"a customer about an undeliverable parcel", msg(
			"From: Paul Martin <paul@client.example>",
			"To: support@guichet.example",
			"Subject: Undeliverable parcel",
			"",
			"Hello, my parcel could not be delivered and was returned to sender.",
			"Can you send it again? Paul, paul@client.example",
		), false},
		{"a customer forwarding a bounce", msg(
			"From: Paul Martin <paul@client.example>",
			"To: support@guichet.example",
			"Subject: Fwd: Undelivered Mail Returned to Sender",
			"",
			"Your mails to my colleague bounce, see below.",
			"",
			"---------- Forwarded message ---------",
			"From: Mail Delivery System <MAILER-DAEMON@mx.client.example>",
			"<marc@client.example>: host mx.client.example said: 550 5.1.1 User unknown",
		), false},
		{"empty", nil, false},
		{"not mail", []byte("\x00\x01garbage\r\r\n--\n"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsBounce(tt.raw); got {
				t.Errorf("IsBounce = true, want false")
			}
			if r, ok := Parse(tt.raw); ok {
				t.Errorf("Parse ok = true (%+v), want false", r)
			}
			if got := IsFeedbackReport(tt.raw); got != tt.feedback {
				t.Errorf("IsFeedbackReport = %v, want %v", got, tt.feedback)
			}
		})
	}
}

func TestScanCodes(t *testing.T) {
	tests := []struct {
		in   string
		want codes
	}{
		{"550 5.1.1 <a@b.example>... User Unknown", codes{"550", "5.1.1"}},
		{"5.1.0 - Unknown address error 550-'5.7.1 <x@y.example>... Access denied'", codes{"550", "5.7.1"}},
		{"remote host 192.0.2.32 said: 550 Unknown user\n. (#5.5.0)", codes{"550", "5.5.0"}},
		{"ERROR_CODE :550, ERROR_CODE :5.1.1 <a@b.example>", codes{"550", "5.1.1"}},
		{"[554 5.4.6 Hop count exceeded - possible mail loop]", codes{"554", "5.4.6"}},
		{"host 192.0.2.250 (Exim 4.72) version 8.13.1 id 000-000-4401", codes{}},
		{"#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##", codes{"550", "5.1.1"}},
		{"421 example.com (smtp)... Deferred", codes{"421", ""}},
		{"call 555-1234 or MOS 4.4.4b-GA", codes{}},
		{"Status: 4.2.2", codes{"", "4.2.2"}},
		{"550 and then 4.4.1", codes{"", "4.4.1"}},
	}
	for _, tt := range tests {
		if got := scanCodes(tt.in); got != tt.want {
			t.Errorf("scanCodes(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseDSN(t *testing.T) {
	got := parseDSN("Reporting-MTA: dns; mx\n\nAction: failed\nFinal-Recipient: RFC822; <A@B.example>\nStatus: 5.0.0 (permanent failure)\nDiagnostic-Code: smtp; 550\n  user unknown\nFinal-Recipient: rfc822;c@d.example\nAction: delayed\n")
	want := []dsnRecipient{
		{final: "a@b.example", action: "failed", status: "5.0.0", diag: "550 user unknown"},
		{final: "c@d.example", action: "delayed"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestDerivedStatus(t *testing.T) {
	tests := []struct {
		name      string
		codes     codes
		diag      string
		status    string
		permanent bool
	}{
		{"reply code only", codes{reply: "550"}, "", "5.0.0", true},
		{"temporary reply code", codes{reply: "421"}, "", "4.0.0", false},
		{"no code, will keep trying", codes{}, "Will keep trying until message is 5 days old", "4.0.0", false},
		{"no code, delayed", codes{}, "message delayed", "4.0.0", false},
		{"no code at all", codes{}, "User unknown", "5.0.0", true},
	}
	for _, tt := range tests {
		var rc Recipient
		finish(&rc, tt.codes, tt.diag, "")
		if rc.Status != tt.status || rc.Permanent != tt.permanent || !rc.Derived {
			t.Errorf("%s: got %q permanent %v derived %v, want %q permanent %v derived true",
				tt.name, rc.Status, rc.Permanent, rc.Derived, tt.status, tt.permanent)
		}
	}
}

func TestLineEndings(t *testing.T) {
	lf := strings.ReplaceAll(string(dsnMinimal), "\r\n", "\n")
	cr := strings.ReplaceAll(lf, "\n", "\r")
	want, _ := Parse(dsnMinimal)
	for name, raw := range map[string]string{"LF": lf, "CR": cr} {
		got, ok := Parse([]byte(raw))
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, %v, want %+v", name, got, ok, want)
		}
	}
}

func TestClip(t *testing.T) {
	s := strings.Repeat("é", 300) // 600 bytes
	got := clip(s, maxDiagnostic)
	if len(got) > maxDiagnostic || !strings.HasPrefix(s, got) || len(got) < maxDiagnostic-1 {
		t.Errorf("got %d bytes, want at most %d on a rune boundary", len(got), maxDiagnostic)
	}
}

// TestHostileInput: large and degenerate input is read within the limits, without panicking.
func TestHostileInput(t *testing.T) {
	hdr := "From: MAILER-DAEMON@x.example\nSubject: Undelivered Mail Returned to Sender\n"
	var nested string
	for i := range 30 {
		b := "b" + strconv.Itoa(i)
		nested = hdr + "Content-Type: multipart/report; report-type=delivery-status; boundary=" + b + "\n\n--" + b +
			"\nContent-Type: message/rfc822\n\n" + nested + "\n--" + b + "\nContent-Type: message/rfc822\n\n" + nested + "\n--" + b + "--\n"
		if len(nested) > 1<<20 {
			break
		}
	}
	tests := map[string]string{
		"one long line":         hdr + "\n" + strings.Repeat("550 5.1.1 a@b.example ", 50000),
		"many recipients":       hdr + "\n" + strings.Repeat("<a@b.example>: 550 5.1.1 user unknown\n", 50000),
		"long folded header":    hdr + "X-Long: a\n" + strings.Repeat(" b\n", 200000) + "\nbody",
		"many parts":            hdr + "Content-Type: multipart/mixed; boundary=b\n\n" + strings.Repeat("--b\nContent-Type: message/rfc822\n\n"+hdr+"\n", 20000),
		"nested reports":        nested,
		"huge delivery-status":  hdr + "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\n" + strings.Repeat("Final-Recipient: rfc822; a@b.example\nAction: failed\n\n", 50000),
		"quoted-printable junk": hdr + "Content-Transfer-Encoding: quoted-printable\n\n" + strings.Repeat("=\n=4=", 200000),
		"base64 junk":           hdr + "Content-Transfer-Encoding: base64\n\n" + strings.Repeat("A=B\n-_", 200000),
		"unclosed multipart":    hdr + "Content-Type: multipart/mixed; boundary=\"\"\n\n--\n--\n",
	}
	for name, raw := range tests {
		start := time.Now()
		r, ok := Parse([]byte(raw))
		IsBounce([]byte(raw))
		t.Logf("%s: %d bytes in %v, ok %v, %d recipients", name, len(raw), time.Since(start), ok, len(r.Recipients))
	}
}

// TestClassifyAgrees checks that Classify says what IsBounce, Parse and IsFeedbackReport say.
func TestClassifyAgrees(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/corpus/bounces/sisimai/*/*.eml")
	if len(files) < 60 {
		t.Fatalf("found %d corpus files", len(files))
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, isBounce, isFeedback := Classify(raw)
		pr, ok := Parse(raw)
		if isBounce != IsBounce(raw) || isBounce != ok || isFeedback != IsFeedbackReport(raw) || len(r.Recipients) != len(pr.Recipients) || r.OriginalMessageID != pr.OriginalMessageID {
			t.Errorf("%s: Classify = %v %v %d recipients, the others %v %v %d", f, isBounce, isFeedback, len(r.Recipients), ok, IsFeedbackReport(raw), len(pr.Recipients))
		}
	}
}
