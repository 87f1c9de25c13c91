package bounce

import (
	"net/mail"
	"regexp"
	"strings"
)

// What a message is, as far as this package cares.
type kind int

const (
	kindOther     kind = iota
	kindBounce         // a delivery failure (or delay) report
	kindFeedback       // an RFC 5965 abuse report
	kindSuccess        // a DSN that only reports delivery, relay or expansion, or a read receipt
	kindAutoReply      // an RFC 3834 auto-reply (vacation, out-of-office)
)

// classify decides from the structure and the headers, reading the text only to confirm weak
// header evidence. A ticket gateway must not lose a customer's mail about a parcel that was
// "undeliverable": a bounce-like subject alone is never enough.
func (m *message) classify() kind {
	if m.isFeedback() {
		return kindFeedback
	}
	rt := m.reportType()
	if rt == "disposition-notification" || m.hasPart("message/disposition-notification") {
		return kindSuccess
	}
	if m.hasStatusPart() {
		dsn := m.dsn()
		failing := false
		for _, d := range dsn {
			if d.failing() {
				failing = true
				break
			}
		}
		switch {
		case failing:
			return kindBounce
		case len(dsn) > 0:
			return kindSuccess
		case rt == "delivery-status":
			return kindBounce // an empty report: the structure still says so
		}
	}

	from := parseMailbox(m.hdr.get("From"))
	subject := decodeWords(m.hdr.get("Subject"))
	xfailed := len(m.failedRecipients()) > 0
	daemon := from.isDaemon() || m.hdr.has("X-MS-Exchange-Message-Is-Ndr")
	autoGen := autoGenFailureRe.MatchString(m.hdr.get("Auto-Submitted"))
	strong := xfailed || daemon || autoGen

	if isSuccessSubject(subject) && !xfailed {
		return kindSuccess
	}
	if m.isAutoReply(subject) && !strong && !isBounceSubject(subject) {
		return kindAutoReply
	}
	if strong {
		return kindBounce
	}
	// Weaker signs must come together: a bounce subject and a null sender, or any of them
	// confirmed by failure wording in technical terms (a customer may well write "Delivery
	// failure" about a parcel, and a postmaster may write as a person).
	null := m.nullSender()
	medium := 0
	for _, ok := range []bool{isBounceSubject(subject), from.isPostmaster(), from.isListAdmin(), null} {
		if ok {
			medium++
		}
	}
	if medium >= 3 || medium == 2 && null {
		return kindBounce
	}
	if medium >= 1 {
		head := m.notificationHead(16 << 10)
		if techFailureRe.MatchString(head) || genericFailureRe.MatchString(head) && mailTechRe.MatchString(head) ||
			from.isListAdmin() && listRejectRe.MatchString(subject+"\n"+head) && !listHeldRe.MatchString(subject+"\n"+head) {
			return kindBounce
		}
	}
	if m.isAutoReply(subject) {
		return kindAutoReply
	}
	return kindOther
}

// isFeedback reports an ARF report: multipart/report; report-type=feedback-report, or a
// message/feedback-report part (RFC 5965).
func (m *message) isFeedback() bool {
	return m.reportType() == "feedback-report" || m.hasPart("message/feedback-report")
}

// reportType is the report-type of the first multipart/report in the structure, lower case.
func (m *message) reportType() string {
	for _, p := range m.parts {
		if p.mediaType == "multipart/report" {
			return strings.ToLower(strings.TrimSpace(p.params["report-type"]))
		}
	}
	return ""
}

func (m *message) hasPart(mediaType string) bool {
	for _, p := range m.parts {
		if p.mediaType == mediaType {
			return true
		}
	}
	return false
}

func (m *message) hasStatusPart() bool {
	for _, p := range m.parts {
		if isStatusType(p.mediaType) {
			return true
		}
	}
	return false
}

// dsn returns the recipient blocks of every delivery-status part.
func (m *message) dsn() []dsnRecipient {
	var out []dsnRecipient
	for _, p := range m.parts {
		if isStatusType(p.mediaType) {
			out = append(out, parseDSN(p.text)...)
		}
	}
	return out
}

// failedRecipients reads X-Failed-Recipients (Exim, Gmail, mail.ru …).
func (m *message) failedRecipients() []string {
	var out []string
	for _, v := range m.hdr.values("X-Failed-Recipients") {
		for _, a := range addrRe.FindAllString(v, 100) {
			out = appendUnique(out, strings.ToLower(a))
		}
	}
	return out
}

// nullSender reports the null reverse-path of a bounce (RFC 5321 section 4.5.5), or a
// Return-Path naming the mailer daemon or postmaster.
func (m *message) nullSender() bool {
	for _, v := range m.hdr.values("Return-Path") {
		v = strings.TrimSpace(v)
		if v == "" || v == "<>" {
			return true
		}
		mb := parseMailbox(v)
		if mb.isDaemon() || mb.isPostmaster() {
			return true
		}
	}
	return false
}

// isAutoReply recognises RFC 3834 auto-replies and the vendors' own markers.
func (m *message) isAutoReply(subject string) bool {
	as := strings.ToLower(strings.TrimSpace(m.hdr.get("Auto-Submitted")))
	if strings.HasPrefix(as, "auto-replied") {
		return true
	}
	for _, name := range []string{"X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply", "X-Vacation", "X-Mail-Autoreply"} {
		if m.hdr.has(name) {
			return true
		}
	}
	if strings.Contains(strings.ToLower(m.hdr.get("X-Apple-Action")), "vacation") {
		return true
	}
	if p := strings.ToLower(strings.TrimSpace(m.hdr.get("Precedence"))); p == "auto_reply" || p == "auto-reply" {
		return true
	}
	return autoReplySubjectRe.MatchString(subject)
}

// notificationTexts returns the human-readable texts of the report: the text parts that are
// not attachments, the plain ones when there are plain ones.
func (m *message) notificationTexts() []string {
	var plain, other []string
	for _, p := range m.parts {
		if p.container || p.attached || !isTextual(p.mediaType) || strings.TrimSpace(p.text) == "" {
			continue
		}
		if p.mediaType == "text/plain" {
			plain = append(plain, p.text)
		} else {
			other = append(other, p.text)
		}
	}
	if len(plain) > 0 {
		return plain
	}
	return other
}

// notificationHead is the start of the notification text, to look for failure wording in.
func (m *message) notificationHead(n int) string {
	var b strings.Builder
	for _, t := range m.notificationTexts() {
		if b.Len() >= n {
			break
		}
		if len(t) > n-b.Len() {
			t = t[:n-b.Len()]
		}
		b.WriteString(t)
		b.WriteByte('\n')
	}
	return b.String()
}

// mailbox is a From or Return-Path value, read leniently ("MAILER-DAEMON <>", "mailer-daemon").
type mailbox struct {
	name string // display name or comment
	addr string // lower case; may lack a domain
}

func parseMailbox(v string) mailbox {
	v = strings.TrimSpace(decodeWords(v))
	if a, err := mail.ParseAddress(v); err == nil {
		return mailbox{name: a.Name, addr: strings.ToLower(a.Address)}
	}
	if a := addrRe.FindString(v); a != "" {
		name := strings.Replace(v, a, "", 1)
		return mailbox{name: strings.Trim(name, ` "'<>()`), addr: strings.ToLower(a)}
	}
	if i := strings.IndexByte(v, '<'); i >= 0 {
		inner := v[i+1:]
		if j := strings.IndexByte(inner, '>'); j >= 0 {
			inner = inner[:j]
		}
		return mailbox{name: strings.Trim(v[:i], ` "'`), addr: strings.ToLower(strings.TrimSpace(inner))}
	}
	if f := strings.Fields(v); len(f) > 0 {
		return mailbox{addr: strings.ToLower(f[0]), name: strings.Trim(strings.Join(f[1:], " "), "()\"")}
	}
	return mailbox{}
}

// local returns the local part with separators removed: "Mailer_Daemon" and "MAILER-DAEMON"
// are both "mailerdaemon".
func (mb mailbox) local() string {
	l, _, _ := strings.Cut(mb.addr, "@")
	return squeeze(l)
}

func (mb mailbox) rawLocal() string {
	l, _, _ := strings.Cut(mb.addr, "@")
	return l
}

// squeeze lower-cases s and keeps only its letters and digits.
func squeeze(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 0x7f {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isDaemon: the mailer daemon or a "Mail Delivery System" sends bounces and nothing else.
func (mb mailbox) isDaemon() bool {
	switch mb.local() {
	case "mailerdaemon", "maildaemon", "mailerdeamon", "maildeliverysystem", "maildeliverysubsystem", "maildeliversystem":
		return true
	}
	n := squeeze(mb.name)
	for _, s := range []string{"mailerdaemon", "maildeliverysystem", "maildeliverysubsystem", "maildeliversystem", "maildeliveryservice"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// isPostmaster: postmaster sends bounces, but a person may write as postmaster too.
func (mb mailbox) isPostmaster() bool {
	if mb.local() == "postmaster" {
		return true
	}
	n := strings.ToLower(mb.name)
	return strings.Contains(squeeze(n), "postmaster") || ndrNameRe.MatchString(n)
}

// isListAdmin: the administrative address of a mailing list, which rejects posts.
func (mb mailbox) isListAdmin() bool {
	l := mb.rawLocal()
	for _, s := range []string{"-admin", "-owner", "-request", "-bounces"} {
		if strings.HasSuffix(l, s) {
			return true
		}
	}
	switch l {
	case "majordomo", "listserv", "listproc", "mailman", "sympa", "ezmlm", "fml":
		return true
	}
	return strings.HasPrefix(l, "owner-")
}

var (
	ndrNameRe        = regexp.MustCompile(`\bndr\b|mail administrator|mail system`)
	autoGenFailureRe = regexp.MustCompile(`(?i)auto-generated\s*\(\s*(?:failure|warning|delay|delayed|bounce)`)
	listHeldRe       = regexp.MustCompile(`(?i)\bheld (?:for|until)|being held|moderator|awaiting (?:moderator )?approval`)
	listRejectRe     = regexp.MustCompile(`(?i)\bnot (?:a )?member|non-?member|members[- ]only|only members|not allowed to post|posting (?:is )?(?:restricted|not allowed)|no permission to post|post(?:ing)? rejected`)

	// Wording of delivery failures, in the text, to confirm weak header evidence: technical
	// wording on its own, generic wording ("could not be delivered") with mail terms around it.
	techFailureRe = regexp.MustCompile(`(?i)` + strings.Join([]string{
		`user unknown`, `unknown user`, `no such user`, `unknown recipient`, `invalid recipient`,
		`recipient address rejected`, `mailbox (?:is )?(?:full|unavailable|not found|disabled)`, `over quota`,
		`quota exceeded`, `qmail-send program`, `mail delivery (?:software|system|subsystem)`,
		`delivery status notification`, `rcpt to`, `smtp error`, `remote host said`, `requested action not taken`,
		`you are not a member`, `delivery to the following`, `following (?:recipients?|address(?:es)?)\b.{0,40}(?:failed|errors?|problems?|rejected|could not|not be delivered)`,
		`配信でき`, `送信に失敗`, `宛先不明`, `配送でき`,
	}, "|"))
	genericFailureRe = regexp.MustCompile(`(?i)` + strings.Join([]string{
		`(?:could|can|can't|couldn't|cannot)(?: not)? be delivered`,
		`(?:was|were|wasn't|has|have) not (?:been )?delivered`, `not delivered to`,
		`undeliverable`, `undelivered`, `delivery (?:has )?failed`, `delivery failure`,
		`failed permanently`, `permanent (?:fatal )?(?:error|failure)`, `unable to (?:be )?deliver`, `could not deliver`,
		`not able to deliver`, `did not reach`, `returned to sender`, `message could not be sent`,
		`届きません`, `не доставлено`, `nicht zugestellt`, `unzustellbar`,
		`non remis`, `n'a pas pu être (?:remis|distribué)`, `no se (?:pudo|ha podido) entregar`, `non è stato recapitato`,
		`não (?:foi|pôde ser) entregue`, `kon niet worden afgeleverd`,
	}, "|"))

	// mailTechRe: the text speaks of mail delivery, not of a parcel.
	mailTechRe = regexp.MustCompile(`(?i)smtp|\bmx\b|mail ?server|mailer|mail system|mail delivery|\brecipients?\b|e-?mail address|mailbox|message (?:you sent|that you sent)|your (?:e-?mail )?message|\bhost\b|postmaster|mailing list|\b[245]\.\d{1,3}\.\d{1,3}\b|メール|сообщение|nachricht|destinataire|destinatario`)

	autoReplySubjectRe = regexp.MustCompile(`(?i)^\s*(?:auto(?:matic)?[ _-]?(?:reply|response|answer)|autoreply|auto:|out of (?:the )?office|ooo\b|away\b|on vacation|vacation|abwesen|automatische antwort|r[ée]ponse automatique|absence|respuesta autom[áa]tica|risposta automatica|fuera de la oficina|automatisch antwoord|afwezig|自動応答|自動返信|不在)`)
)

// replyPrefixRe: a bounce subject under Re:/Fwd: is someone writing about a bounce.
var replyPrefixRe = regexp.MustCompile(`(?i)^\s*(?:re|fw|fwd|aw|wg|tr|rv|sv|vs|antw|enc|res)\s*(?:\[\d+\])?\s*:`)

// Subjects of delivery failure reports, lower case: those they start with, and those they contain.
var (
	bounceSubjectPrefixes = []string{
		"undeliverable", "undelivered", "undeliverable mail", "non remis", "non distribuable", "non délivrable",
		"delivery status notification", "delivery notification", "delivery failure", "delivery failed",
		"delivery report", "delivery status", "delivery problem", "delivery error", "delivery warning", "delivery has failed",
		"mail delivery failed", "mail delivery failure", "mail delivery problem", "message delivery has failed",
		"message delivery failed", "failure notice", "failure delivery", "returned mail", "return mail", "mail returned",
		"mail system error", "unzustellbar", "nicht zustellbar", "warning: could not send", "warning: message",
		"message not delivered", "mail could not be delivered", "there was an error sending your mail",
		"mail failure", "nondeliverable", "non-deliverable", "delayed mail", "message delayed", "could not send message",
		"notice: mail delivery status", "delivery status notification", "no entregado", "não entregue", "onbestelbaar",
		"mensaje no entregado", "impossible de remettre", "rejected:", "message rejected",
	}
	bounceSubjectContains = []string{
		"returned to sender", "delivery status notification", "mail delivery failed", "could not be delivered",
		"undeliverable", "undelivered mail", "delivery failure", "message delayed",
		"配信できません", "配信エラー", "配送エラー", "エラー通知", "送信できません", "未達", "不達",
		"не доставлено", "недоставленное",
	}
	successSubjectPrefixes = []string{
		"delivery status notification (success)", "successful mail delivery", "delivered:", "relayed:",
		"delivery notification: delivered", "zugestellt:", "remis :", "remis:", "read:", "lu :", "lu:", "gelesen:",
		"return receipt", "read receipt", "delivery receipt", "message delivered", "relayed mail",
	}
)

// isBounceSubject matches the subjects MTAs give bounces.
func isBounceSubject(s string) bool {
	if replyPrefixRe.MatchString(s) || autoReplySubjectRe.MatchString(s) {
		return false
	}
	l := strings.ToLower(strings.TrimSpace(s))
	l = strings.TrimLeft(l, "*[]! ")
	for _, p := range bounceSubjectPrefixes {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	for _, c := range bounceSubjectContains {
		if strings.Contains(l, c) {
			return true
		}
	}
	return false
}

func isSuccessSubject(s string) bool {
	l := strings.ToLower(strings.TrimSpace(s))
	for _, p := range successSubjectPrefixes {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
