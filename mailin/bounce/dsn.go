package bounce

import (
	"regexp"
	"strings"
)

// RFC 3464 message/delivery-status: per-message fields, then one block of per-recipient fields
// for each recipient, blocks separated by blank lines.

// dsnRecipient is one per-recipient block.
type dsnRecipient struct {
	final, original string // addresses, lower case
	action          string // failed, delayed, delivered, relayed, expanded (lower case)
	status          string // normalised enhanced code
	diag            string // Diagnostic-Code without its type
}

// failing reports whether the block describes a failure: Action failed or delayed, or no
// Action but a 4 or 5 status (some MTAs leave Action out).
func (d dsnRecipient) failing() bool {
	switch d.action {
	case "failed", "delayed", "failure", "failed-permanently", "undeliverable":
		return true
	case "delivered", "relayed", "expanded", "deliverable":
		return false
	}
	return d.status == "" || d.status[0] != '2'
}

// address is the recipient as the sender addressed it: the original recipient when the
// reporting MTA kept it (RFC 3461 ORCPT), the final one otherwise.
func (d dsnRecipient) address() string {
	if d.original != "" {
		return d.original
	}
	return d.final
}

// dsnFieldRe spots per-recipient DSN fields in text that is not a message/delivery-status part.
var dsnFieldRe = regexp.MustCompile(`(?im)^[ \t]*(?:final|original)-recipient[ \t]*:`)

// parseDSN reads the per-recipient blocks of a delivery-status body. It is forgiving: lines that
// are not fields are skipped, blocks without a blank line between them are told apart by a
// repeated recipient field, and recipient fields may come after Action.
func parseDSN(text string) []dsnRecipient {
	var (
		out  []dsnRecipient
		cur  dsnRecipient
		have bool    // cur has a recipient field
		last *string // the field a continuation line extends
		seen = map[string]bool{}
	)
	flush := func() {
		if have {
			out = append(out, cur)
		}
		cur, have, last, seen = dsnRecipient{}, false, nil, map[string]bool{}
	}
	for n, line := range strings.Split(text, "\n") {
		if n > 20000 || len(out) > 1000 {
			break
		}
		if strings.TrimSpace(line) == "" {
			if have {
				flush()
			} else {
				cur, last, seen = dsnRecipient{}, nil, map[string]bool{}
			}
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last != nil && len(*last) < 4096 {
				*last += " " + strings.TrimSpace(line)
			}
			continue
		}
		name, value, ok := headerLine([]byte(line))
		if !ok {
			last = nil
			continue
		}
		key := strings.ToLower(name)
		if (key == "final-recipient" || key == "original-recipient") && seen[key] {
			flush()
		}
		seen[key] = true
		last = nil
		switch key {
		case "final-recipient":
			cur.final, have = value, true
			last = &cur.final
		case "original-recipient":
			cur.original, have = value, true
			last = &cur.original
		case "x-actual-recipient":
			if cur.final == "" {
				cur.final, have = value, true
				last = &cur.final
			}
		case "action":
			cur.action = value
			last = &cur.action
		case "status":
			cur.status = value
			last = &cur.status
		case "diagnostic-code":
			cur.diag = value
			last = &cur.diag
		}
	}
	flush()
	for i := range out {
		d := &out[i]
		d.final = dsnAddress(d.final)
		d.original = dsnAddress(d.original)
		if f := strings.Fields(d.action); len(f) > 0 {
			d.action = strings.ToLower(strings.TrimRight(f[0], ";,."))
		}
		d.status = statusField(d.status)
		d.diag = dsnDiagnostic(d.diag)
	}
	// a block whose recipient field held no address is no recipient
	kept := out[:0]
	for _, d := range out {
		if d.address() != "" {
			kept = append(kept, d)
		}
	}
	return kept
}

// dsnAddress reads "rfc822; user@example.org", "RFC822; <user@example.org>" or a bare address.
func dsnAddress(v string) string {
	v = strings.TrimSpace(v)
	if t, rest, ok := strings.Cut(v, ";"); ok && !strings.Contains(t, "@") {
		v = strings.TrimSpace(rest)
	}
	if a := addrRe.FindString(v); a != "" {
		return strings.ToLower(a)
	}
	v = strings.Trim(v, "<> \t")
	if v == "" || strings.ContainsAny(v, " \t<>()\"") || len(v) > 254 {
		return ""
	}
	return strings.ToLower(v)
}

// dsnDiagnostic drops the diagnostic type ("smtp;", "X-Postfix;") from a Diagnostic-Code.
func dsnDiagnostic(v string) string {
	v = strings.TrimSpace(v)
	if t, rest, ok := strings.Cut(v, ";"); ok && len(t) <= 16 && !strings.ContainsAny(t, " \t") {
		v = strings.TrimSpace(rest)
	}
	return v
}
