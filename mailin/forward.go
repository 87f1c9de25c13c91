package mailin

import (
	"net/mail"
	"regexp"
	"strings"

	"guichet/mailin/parse"
)

// forwardSeparator matches the line that opens a forwarded message in the body, as mail clients
// write it: Gmail, Thunderbird, Apple Mail, Outlook, Yahoo, in English, French and German.
var forwardSeparator = regexp.MustCompile(`(?im)^[ \t>]*(` +
	`-{2,}\s*(forwarded message|original message|message transféré|message d'origine|mail original|message original|weitergeleitete nachricht|ursprüngliche nachricht|mensaje reenviado|messaggio inoltrato)\s*-{2,}|` +
	`-{3,}\s*(forwarded|original) (message|e-?mail)\s*-{3,}|` +
	`begin forwarded message\s*:|début du message réexpédié\s*:|début du message transféré\s*:|anfang der weitergeleiteten nachricht\s*:|` +
	`_{20,}` +
	`)[ \t]*$`)

// headerLine matches one line of a quoted header block: "From: …", "De : …", "*From:* …".
var headerLine = regexp.MustCompile(`(?i)^[ \t>*]*(from|de|von|van|da|från|fra|od|от|subject|objet|sujet|betreff|asunto|oggetto|onderwerp|ämne|emne|temat|тема|date|envoyé|sent|gesendet|enviado|inviato|verzonden|skickat|sendt|wysłano|to|à|a|an|para|aan|till|til|do|кому|cc)[ \t]*\*?[ \t]*:[ \t]*\*?[ \t]*(.*)$`)

var fromKeys = map[string]bool{"from": true, "de": true, "von": true, "van": true, "da": true, "från": true, "fra": true, "od": true, "от": true}
var subjectKeys = map[string]bool{"subject": true, "objet": true, "sujet": true, "betreff": true, "asunto": true, "oggetto": true, "onderwerp": true, "ämne": true, "emne": true, "temat": true, "тема": true}

// forwarded is what a forward carried: the original sender, subject and text.
type forwarded struct {
	From    Address
	Subject string
	Text    string // the original message's text
	Note    string // what the forwarder wrote above it
}

// findForward looks for a forwarded message: an attached message/rfc822 first, else an inline
// block opened by a forward separator and a header block with the original sender.
func findForward(m *parse.Message, text string) (forwarded, bool) {
	if len(m.Embedded) > 0 && strings.TrimSpace(text) == "" || len(m.Embedded) > 0 && forwardPrefix.MatchString(m.Subject) {
		e := m.Embedded[0]
		if e.From.Address != "" {
			body := e.Text
			if body == "" && e.HTML != "" {
				body = htmlText(e.HTML)
			}
			return forwarded{From: toAddress(e.From), Subject: e.Subject, Text: body, Note: strings.TrimSpace(text)}, true
		}
	}
	loc := forwardSeparator.FindStringIndex(text)
	start := 0
	if loc != nil {
		start = loc[1]
	} else if !forwardPrefix.MatchString(m.Subject) {
		return forwarded{}, false
	}
	// Read the header block that follows the separator (or, for a "Fwd:" subject without a
	// separator, the first header block in the text).
	lines := strings.Split(text[start:], "\n")
	var f forwarded
	inBlock, end := false, -1
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		mm := headerLine.FindStringSubmatch(line)
		switch {
		case mm != nil:
			key := strings.ToLower(mm[1])
			val := strings.TrimSpace(strings.Trim(mm[2], "*"))
			if fromKeys[key] && f.From.Address == "" {
				f.From = parseLooseAddress(val)
			}
			if subjectKeys[key] && f.Subject == "" {
				f.Subject = val
			}
			inBlock = true
		case trimmed == "" && inBlock:
			end = i
		case !inBlock && trimmed == "":
			continue
		case !inBlock && loc == nil:
			continue // a Fwd: subject, text before any header block
		default:
			if inBlock && f.From.Address != "" {
				end = i - 1
			}
		}
		if end >= 0 {
			break
		}
	}
	if f.From.Address == "" || end < 0 {
		return forwarded{}, false
	}
	f.Text = strings.TrimSpace(strings.Join(lines[end+1:], "\n"))
	if loc != nil {
		f.Note = strings.TrimSpace(text[:loc[0]])
	}
	return f, true
}

// parseLooseAddress reads "Name <a@b>", "Name [mailto:a@b]", "a@b" or "Name (a@b)".
func parseLooseAddress(s string) Address {
	s = strings.TrimSpace(s)
	if a, err := mail.ParseAddress(s); err == nil {
		return Address{Address: strings.ToLower(a.Address), Name: a.Name}
	}
	for _, pair := range [][2]string{{"[mailto:", "]"}, {"<", ">"}, {"(", ")"}, {"[", "]"}} {
		if i := strings.Index(s, pair[0]); i >= 0 {
			if j := strings.Index(s[i:], pair[1]); j > 0 {
				addr := strings.TrimSpace(s[i+len(pair[0]) : i+j])
				addr = strings.TrimPrefix(addr, "mailto:")
				if strings.Contains(addr, "@") {
					return Address{Address: strings.ToLower(addr), Name: strings.Trim(strings.TrimSpace(s[:i]), `"'`)}
				}
			}
		}
	}
	for _, f := range strings.Fields(s) {
		f = strings.Trim(f, `<>[]()"',;`)
		if strings.Count(f, "@") == 1 && !strings.HasPrefix(f, "@") && !strings.HasSuffix(f, "@") {
			return Address{Address: strings.ToLower(strings.TrimPrefix(f, "mailto:"))}
		}
	}
	return Address{}
}
