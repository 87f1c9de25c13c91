// Package bounce recognises delivery failure reports ("bounces") among incoming mail and reads
// them: which recipients failed, whether permanently, with which status code, and which of our
// messages bounced.
//
// Standard reports are RFC 3464 delivery status notifications (DSN): a multipart/report with
// report-type=delivery-status whose message/delivery-status part holds one block of fields per
// recipient (Final-Recipient, Action, Status, Diagnostic-Code), followed by the returned message
// or its header (text/rfc822-headers). Status codes are RFC 3463 enhanced status codes
// (class.subject.detail: 5.x.x permanent, 4.x.x persistent transient), next to the RFC 5321
// reply codes (550, 452 …) that diagnostics quote.
//
// Many MTAs still send non-standard bounces (qmail, Exim, Postfix without DSN, Exchange,
// Domino, Yahoo, Gmail, Japanese carriers …): those are recognised by their headers and read by
// heuristics from the human-readable text.
//
// Auto-replies (RFC 3834 Auto-Submitted: auto-replied, out-of-office), DSNs that only report
// success (Action: delivered, relayed, expanded), read receipts and ARF abuse reports (RFC 5965,
// see IsFeedbackReport) are not bounces.
//
// The functions never panic and never fail: a message they cannot make sense of is not a bounce.
package bounce

import (
	"strings"
	"unicode/utf8"
)

// Recipient is one failed (or delayed) recipient of a bounced message.
type Recipient struct {
	Address    string // lower-cased original recipient (RFC 3461 ORCPT) when reported, else the final one
	Status     string // enhanced status code "5.1.1" (RFC 3463); "" if unknown
	ReplyCode  string // SMTP reply code "550" if found; ""
	Permanent  bool   // 5.x.x / 5xx = permanent (hard): do not send to this address again as is
	Diagnostic string // the diagnostic text, trimmed, white space collapsed, at most 500 bytes
	// Derived is true when the report gave no enhanced status code and Status was inferred:
	// "5.0.0" or "4.0.0" from the class of the reply code, or from the wording when there is no
	// code at all ("will keep trying", "delayed" give 4.0.0, anything else 5.0.0).
	Derived bool
}

// Report is what a bounce says.
type Report struct {
	Recipients []Recipient // one per failed recipient; may be empty when a bounce names none
	// OriginalMessageID is the Message-ID (without <>) of the message that bounced, from the
	// returned headers (text/rfc822-headers or message/rfc822 part, or a headers block quoted in
	// the body of non-standard bounces), else from the bounce's In-Reply-To; "" if not found.
	OriginalMessageID string
	// OriginalHeaders gives access to the returned headers when found (e.g. a loop header
	// "X-Guichet-Loop", References, the Return-Path of the original); keys are canonical
	// (textproto.CanonicalMIMEHeaderKey: "Message-Id", "X-Guichet-Loop"), values unfolded and
	// decoded; nil if none. OriginalHeader looks a field up by any spelling.
	OriginalHeaders map[string][]string
	// Standard is true when it was an RFC 3464 multipart/report delivery-status and the recipients
	// were read from its message/delivery-status part.
	Standard bool
}

// OriginalHeader returns the first value of a returned header field, whatever the case of name.
func (r Report) OriginalHeader(name string) string {
	for k, vs := range r.OriginalHeaders {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

// maxDiagnostic bounds Recipient.Diagnostic.
const maxDiagnostic = 500

// IsBounce reports whether a message is a delivery failure report, from its headers and
// structure (the text is read only to confirm weak header evidence): multipart/report;
// report-type=delivery-status with a failed or delayed recipient; X-Failed-Recipients; a sender
// that is the mailer daemon or a mail delivery system; or two weaker signs together — a bounce
// subject ("Undelivered Mail Returned to Sender", "Delivery Status Notification (Failure)",
// "Mail delivery failed", "Undeliverable:", "Non remis :", "Returned mail", "failure notice" …),
// postmaster as sender, the null reverse-path "<>", failure wording in the text.
// It is false for auto-replies (RFC 3834), for DSNs that only report delivery, relay or
// expansion, for read receipts and for feedback reports (see IsFeedbackReport).
func IsBounce(raw []byte) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return readMessage(raw, 0).classify() == kindBounce
}

// Parse extracts the report; ok is false when the message is not a bounce (as IsBounce).
func Parse(raw []byte) (r Report, ok bool) {
	defer func() {
		if recover() != nil {
			r, ok = Report{}, false
		}
	}()
	return parse(raw)
}

// IsFeedbackReport reports an ARF (RFC 5965) abuse report: multipart/report;
// report-type=feedback-report, or a message/feedback-report part.
func IsFeedbackReport(raw []byte) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return readMessage(raw, 0).isFeedback()
}

// Classify reads the message once and says whether it is a bounce, with its report, or a
// feedback report: what IsBounce, Parse and IsFeedbackReport say, for a third of the work.
func Classify(raw []byte) (r Report, isBounce, isFeedback bool) {
	defer func() {
		if recover() != nil {
			r, isBounce, isFeedback = Report{}, false, false
		}
	}()
	m := readMessage(raw, 0)
	if m.classify() == kindBounce {
		return m.report(), true, false
	}
	return Report{}, false, m.isFeedback()
}

// parse is Parse without the safety net, for the fuzzer to see panics.
func parse(raw []byte) (Report, bool) {
	m := readMessage(raw, 0)
	if m.classify() != kindBounce {
		return Report{}, false
	}
	return m.report(), true
}

// report reads a message already classified as a bounce.
func (m *message) report() Report {
	var r Report
	returned := m.returnedHeaders()
	exclude := m.exclusions(returned)

	// 1. RFC 3464: the delivery-status parts.
	for _, d := range m.dsn() {
		if d.failing() {
			r.Recipients = addRecipient(r.Recipients, fromDSN(d))
		}
	}
	if len(r.Recipients) > 0 {
		r.Standard = m.reportType() == "delivery-status"
	}

	// 2. DSN fields written into the text (Amazon WorkMail and others).
	if len(r.Recipients) == 0 {
		for _, t := range m.notificationTexts() {
			if !dsnFieldRe.MatchString(t) {
				continue
			}
			for _, d := range parseDSN(t) {
				if d.failing() {
					r.Recipients = addRecipient(r.Recipients, fromDSN(d))
				}
			}
		}
	}

	// 3. The human-readable text, and X-Failed-Recipients.
	var weak []Recipient
	if len(r.Recipients) == 0 {
		r.Recipients, weak = m.textRecipients(exclude)
	}

	// 4. A bounce wrapped in another one (a filter that returns the DSN it received).
	if len(r.Recipients) == 0 && m.nested < maxNested {
		tried := 0
		for _, p := range m.parts {
			if !isMessageType(p.mediaType) || p.depth > 2 || tried >= 2 {
				continue
			}
			tried++
			inner := readMessage(p.body, m.nested+1)
			if inner.classify() != kindBounce {
				continue
			}
			if ir := inner.report(); len(ir.Recipients) > 0 {
				return ir
			}
		}
	}

	// 5. Nothing names the recipient: the returned message's only recipient.
	if len(r.Recipients) == 0 && returned != nil {
		var to []string
		for _, name := range []string{"To", "Cc"} {
			for _, v := range returned.values(name) {
				for _, a := range addrRe.FindAllString(v, 20) {
					if a = strings.ToLower(a); !exclude[a] {
						to = appendUnique(to, a)
					}
				}
			}
		}
		if len(to) == 1 {
			rc := Recipient{Address: to[0]}
			diag, c := m.noticeDiagnostic()
			finish(&rc, c, diag, m.noticeText())
			r.Recipients = append(r.Recipients, rc)
		}
	}

	// 6. Last, the only address the notice mentions, if it mentions only one.
	if len(r.Recipients) == 0 && len(weak) == 1 {
		r.Recipients = weak
	}

	if returned != nil {
		r.OriginalHeaders = returned.toMap()
		r.OriginalMessageID = messageID(returned.get("Message-ID"))
	}
	if r.OriginalMessageID == "" {
		r.OriginalMessageID = messageID(m.hdr.get("In-Reply-To"))
	}
	return r
}

// fromDSN turns a DSN recipient block into a Recipient.
func fromDSN(d dsnRecipient) Recipient {
	rc := Recipient{Address: d.address(), Diagnostic: d.diag}
	dc := scanCodes(d.diag)
	rc.ReplyCode = dc.reply
	rc.Status = refine(d.status, dc)
	if rc.Status == "" && rc.ReplyCode == "" && d.action == "delayed" {
		rc.Status, rc.Derived = "4.0.0", true
	}
	finish(&rc, codes{reply: rc.ReplyCode, status: rc.Status}, d.diag, "")
	return rc
}

// textRecipients reads the failed recipients of a non-standard bounce from its text, with
// X-Failed-Recipients as the authoritative list when present. When the text only mentions
// addresses without saying they failed, they come back as weak instead.
func (m *message) textRecipients(exclude map[string]bool) (recipients, weak []Recipient) {
	var (
		cands []candidate
		lines []string
	)
	for _, t := range m.notificationTexts() {
		n := splitNotice(t)
		lines = append(lines, n.lines...)
		cands = append(cands, findCandidates(n.lines, exclude)...)
	}
	noticeText := strings.Join(lines, "\n")
	gdiag, gcodes := globalDiagnostic(lines)

	picked := pickCandidates(cands)
	weakOnly := len(picked) > 0 && picked[0].strength < 2
	if failed := m.failedRecipients(); len(failed) > 0 {
		weakOnly = false
		var list []candidate
		for _, a := range failed {
			c := candidate{addr: a}
			for _, x := range cands {
				if x.addr == a {
					merge(&c, x)
				}
			}
			list = append(list, c)
		}
		picked = list
	}
	var out []Recipient
	for _, c := range picked {
		rc := Recipient{Address: c.addr}
		diag, cd := c.diag, c.codes
		if cd.empty() {
			if !gcodes.empty() || diag == "" {
				diag, cd = gdiag, gcodes
			}
		}
		finish(&rc, cd, diag, noticeText)
		out = addRecipient(out, rc)
	}
	if weakOnly {
		return nil, out
	}
	return out, nil
}

// noticeDiagnostic is the reason the notification gives, for a recipient found elsewhere.
func (m *message) noticeDiagnostic() (string, codes) {
	var lines []string
	for _, t := range m.notificationTexts() {
		lines = append(lines, splitNotice(t).lines...)
	}
	return globalDiagnostic(lines)
}

func (m *message) noticeText() string {
	var lines []string
	for _, t := range m.notificationTexts() {
		lines = append(lines, splitNotice(t).lines...)
	}
	return strings.Join(lines, "\n")
}

// finish fills the codes, the derived status when there is none, Permanent and the diagnostic.
func finish(rc *Recipient, c codes, diag, context string) {
	if rc.ReplyCode == "" {
		rc.ReplyCode = c.reply
	}
	if rc.Status == "" {
		rc.Status = c.status
	}
	if rc.Status == "" {
		class := "5"
		switch {
		case rc.ReplyCode != "":
			class = rc.ReplyCode[:1]
		case permanentTextRe.MatchString(diag):
		case temporaryTextRe.MatchString(diag):
			class = "4"
		case permanentTextRe.MatchString(context):
		case temporaryTextRe.MatchString(context):
			class = "4"
		}
		rc.Status, rc.Derived = class+".0.0", true
	}
	rc.Permanent = rc.Status[0] == '5'
	rc.Diagnostic = clip(diag, maxDiagnostic)
}

// addRecipient appends rc unless its address is already listed.
func addRecipient(list []Recipient, rc Recipient) []Recipient {
	if rc.Address == "" {
		return list
	}
	for _, x := range list {
		if x.Address == rc.Address {
			return list
		}
	}
	return append(list, rc)
}

// exclusions are the addresses that cannot be the failed recipient: the bounce's own sender and
// receiver (the original sender) and the returned message's senders. Delivered-To and
// X-Original-To are left out: some MTAs put the failed recipient there.
func (m *message) exclusions(returned header) map[string]bool {
	ex := map[string]bool{}
	add := func(h header, names ...string) {
		for _, n := range names {
			for _, v := range h.values(n) {
				for _, a := range addrRe.FindAllString(v, 20) {
					ex[strings.ToLower(a)] = true
				}
			}
		}
	}
	add(m.hdr, "From", "To", "Cc", "Reply-To", "Sender", "Return-Path")
	add(returned, "From", "Sender", "Reply-To", "Return-Path")
	return ex
}

// clip collapses white space and cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
