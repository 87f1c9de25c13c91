package parse

import (
	"net/mail"
	"strings"
	"time"
)

// Dates and Message-IDs.

// dateLayouts are tried, after net/mail.ParseDate, on a Date value whose
// comments, day name and odd punctuation were removed.
var dateLayouts = []string{
	"2 Jan 2006 15:04:05 -0700",
	"2 Jan 2006 15:04:05 MST",
	"2 Jan 2006 15:04:05 MST -0700",
	"2 Jan 2006 15:04:05 -0700 MST",
	"2 Jan 2006 15:04 -0700",
	"2 Jan 2006 15:04 MST",
	"2 Jan 2006 15:04:05",
	"2 Jan 2006 15:04",
	"2 Jan 06 15:04:05 -0700",
	"2 Jan 06 15:04:05 MST",
	"2 Jan 06 15:04:05",
	"2 Jan 06 15:04 -0700",
	"Jan 2 15:04:05 2006",
	"Jan 2 15:04:05 MST 2006",
	"Jan 2 15:04:05 -0700 2006",
	"Jan 2 2006 15:04:05 -0700",
	"Jan 2 2006 15:04:05",
	"Jan 2 2006 3:04:05 PM -0700",
	"Jan 2 2006 3:04:05 PM",
	"Jan 2 2006 3:04 PM",
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
	"2 Jan 2006",
	"02.01.2006 15:04:05",
	"02.01.2006 15:04",
	"01/02/2006 15:04:05",
	"01/02/2006 15:04",
}

var longMonths = map[string]string{
	"january": "Jan", "february": "Feb", "march": "Mar", "april": "Apr", "june": "Jun",
	"july": "Jul", "august": "Aug", "september": "Sep", "sept": "Sep", "october": "Oct",
	"november": "Nov", "december": "Dec",
}

// zoneOffsets maps time zone names that mailers write instead of numeric
// offsets; time.Parse would otherwise read them as UTC.
var zoneOffsets = map[string]string{
	"UT": "+0000", "UTC": "+0000", "GMT": "+0000", "Z": "+0000", "WET": "+0000", "BST": "+0100",
	"CET": "+0100", "MET": "+0100", "CEST": "+0200", "MEST": "+0200", "EET": "+0200", "EEST": "+0300",
	"MSK": "+0300", "IST": "+0530", "JST": "+0900", "KST": "+0900", "HKT": "+0800", "SGT": "+0800",
	"AEST": "+1000", "AEDT": "+1100", "NZST": "+1200", "NZDT": "+1300",
	"EST": "-0500", "EDT": "-0400", "CST": "-0600", "CDT": "-0500", "MST": "-0700", "MDT": "-0600",
	"PST": "-0800", "PDT": "-0700", "AST": "-0400", "ADT": "-0300", "AKST": "-0900", "AKDT": "-0800",
	"HST": "-1000",
}

// normalizeDate rewrites a Date value into something the layouts know: no
// comments, commas or day name; three-letter months; numeric zones.
func normalizeDate(v string) string {
	v = stripComments(v)
	v = strings.NewReplacer(",", " ", "\t", " ").Replace(v)
	f := strings.Fields(v)
	out := make([]string, 0, len(f))
	for i, w := range f {
		lw := strings.ToLower(strings.TrimRight(w, "."))
		if i == 0 && len(lw) >= 3 && strings.Contains(" mon tue wed thu fri sat sun ", " "+lw[:3]+" ") && !strings.ContainsAny(lw, "0123456789") {
			continue
		}
		if lw == "at" || lw == "um" || lw == "à" {
			continue // "5 April 2017 at 17:01"
		}
		if m, ok := longMonths[lw]; ok {
			w = m
		} else if len(lw) == 3 && strings.Contains(" jan feb mar apr may jun jul aug sep oct nov dec ", " "+lw+" ") {
			w = strings.ToUpper(lw[:1]) + lw[1:]
		}
		uw := strings.ToUpper(w)
		if off, ok := zoneOffsets[uw]; ok && len(out) > 0 {
			w = off
		}
		for _, p := range []string{"GMT", "UTC", "UT"} {
			if strings.HasPrefix(uw, p) && len(uw) > len(p) && (uw[len(p)] == '+' || uw[len(p)] == '-') {
				w = fixOffset(uw[len(p):])
				break
			}
		}
		if (w[0] == '+' || w[0] == '-') && len(w) != 5 {
			w = fixOffset(w)
		}
		out = append(out, w)
	}
	return strings.Join(out, " ")
}

// fixOffset turns "+2", "+02", "+2:00", "+0200" into "+0200".
func fixOffset(o string) string {
	sign := o[:1]
	d := strings.ReplaceAll(o[1:], ":", "")
	for _, c := range d {
		if c < '0' || c > '9' {
			return o
		}
	}
	switch len(d) {
	case 1:
		d = "0" + d + "00"
	case 2:
		d += "00"
	case 3:
		d = "0" + d
	case 4:
	default:
		return o
	}
	return sign + d
}

// parseDate parses a Date header value. ok is false when nothing matched.
func parseDate(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false
	}
	// Normalised first: net/mail reads zone names it does not know
	// ("CEST") as UTC.
	n := normalizeDate(v)
	if n == "" {
		return time.Time{}, false
	}
	if t, err := mail.ParseDate(n); err == nil {
		return sanityDate(t)
	}
	if t, err := mail.ParseDate(v); err == nil {
		return sanityDate(t)
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, n); err == nil {
			return sanityDate(t)
		}
	}
	// A trailing word the layouts do not know ("... +0200 CEST-ish").
	if i := strings.LastIndexByte(n, ' '); i > 0 {
		for _, l := range dateLayouts {
			if t, err := time.Parse(l, n[:i]); err == nil {
				return sanityDate(t)
			}
		}
	}
	return time.Time{}, false
}

// sanityDate converts to UTC and rejects years no mail was sent in.
func sanityDate(t time.Time) (time.Time, bool) {
	t = t.UTC()
	if t.Year() < 1970 || t.Year() > 2200 {
		return time.Time{}, false
	}
	return t, true
}

// parseMsgIDs extracts the Message-IDs of a Message-ID, In-Reply-To or
// References value, without angle brackets. Without any bracketed id, the
// words holding an '@' are taken (some mailers drop the brackets).
func parseMsgIDs(v string) []string {
	var ids []string
	seen := map[string]bool{}
	add := func(id string) {
		id = strings.Join(strings.Fields(id), "")
		id = strings.Trim(id, "<>\"'")
		id = strings.ToValidUTF8(id, "\uFFFD")
		if id == "" || seen[id] || len(ids) >= 500 {
			return
		}
		seen[id] = true
		ids = append(ids, id)
	}
	rest := v
	for {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '>')
		if j < 0 {
			add(rest[i+1:])
			rest = ""
			break
		}
		add(rest[i+1 : i+j])
		rest = rest[i+j+1:]
	}
	if len(ids) > 0 {
		return ids
	}
	for _, w := range strings.FieldsFunc(stripComments(v), func(r rune) bool {
		return r == ' ' || r == '\t' || r == ',' || r == ';' || r == '\r' || r == '\n'
	}) {
		if strings.Contains(w, "@") {
			add(w)
		}
	}
	return ids
}
