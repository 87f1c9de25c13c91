package reply

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The verbs that end an attribution line ("… wrote:") in the languages seen in real mail.
const wroteVerbs = `wrote|writes|a\s+écrit|a\s+ecrit|nous\s+a\s+dit|schrieb|geschrieben|schrieben\s+Sie|` +
	`escribió|escribio|ha\s+scritto|escreveu|schreef|geschreven|skrev|napisał\(a\)|napisała|napisał|pisze|` +
	`napsal\(a\)|napsala|napsal|написал\(а\)|написала|написал|пишет|пише|написав|kirjoitti|írta|yazdı|έγραψε|a\s+scris`

// attribution is one family of attribution lines.
type attribution struct {
	re *regexp.Regexp
	// colon: the line must end with a colon, unless it is wrapped in dashes
	// ("---- On … wrote ----").
	colon bool
	// evidence: the line must carry a date, a time or an address.
	evidence bool
	// strong: the evidence must be a time, a year or an address (a bare digit is not enough).
	strong bool
	// also, when set, must match too.
	also *regexp.Regexp
}

var attributions = []attribution{
	// On <date>, <name> wrote: / Le <date>, <nom> a écrit : / Am <date> schrieb <name>: …
	{re: regexp.MustCompile(`(?i)^(?:on|at|le|am|el|il|in data|em|no dia|às|op|den|på|dnia|dňa|w dniu|in message|dne)\s.*(?:` + wroteVerbs + `)\s*[:：]?$`), colon: true, evidence: true},
	// On <date>, <name> said: (rare, and common in prose: a time or an address must be there)
	{re: regexp.MustCompile(`(?i)^(?:on|at)\s.*\b(?:said|says)\s*:$`), colon: true, also: regexp.MustCompile(`@|\d{1,2}:\d{2}`)},
	// Am <date> schrieb <name> <address>: / Den <date> skrev <name>:
	{re: regexp.MustCompile(`(?i)^(?:am|den|på|op)\s.*\s(?:schrieb|skrev|schreef)\s.+[:：]$`), colon: true, evidence: true},
	// <date> … <name> napisał(a): / 30 серп. 2016 р. 20:45 "Arpit" <…> пише:
	{re: regexp.MustCompile(`(?i)^(?:\pL{1,15}\.?,?\s+)?\d.*\s(?:` + wroteVerbs + `)\s*[:：]?$`), colon: true, evidence: true, strong: true},
	// søn. 30. apr. 2017 kl. 00.26 skrev David Taylor <…>:
	{re: regexp.MustCompile(`(?i)^(?:\pL{1,15}\.?,?\s+)?\d.*\s(?:schrieb|skrev|schreef)\s.*@.*[:：]$`), colon: true, evidence: true, strong: true},
	// <name> <address> wrote: / <name> (address) wrote:
	{re: regexp.MustCompile(`(?i)^.{0,150}(?:<\s*[^\s<>@]+@[^\s<>]+\s*>|\(\s*[^\s()@]+@[^\s()]+\s*\)|\[[^\s\[\]@]+@[^\s\[\]]+\]|[^\s<>()@"]+@[^\s<>()"]+\.\pL+)[>"]*\s*(?:\(.{0,40}\)\s*)?(?:` + wroteVerbs + `)\s*[:：]?$`), colon: true},
	// <name> wrote on <date>: / <name> schrieb am <date>:
	{re: regexp.MustCompile(`(?i)^.{1,150}\s(?:wrote|schrieb|skrev|a\s+écrit)\s+(?:on|am|den|le)\s.{1,150}[:：]$`), colon: true, evidence: true, strong: true},
	// <name> via <list> wrote:
	{re: regexp.MustCompile(`(?i)^.{1,100}\svia\s.{1,100}\s(?:wrote|schrieb)\s*[:：]?$`), colon: true},
	// 在 2016年12月12日 … 写道： / … 于2016年12月12日 … 写道：
	{re: regexp.MustCompile(`^.{0,200}(?:写道|寫道)\s*[:：]?$`), evidence: true},
	// 2016年12月12日(月) 20:45 … さんは書きました:
	{re: regexp.MustCompile(`^.{0,200}(?:書きました|작성)\s*[:：]?$`), evidence: true},
	// <date> <name> <address>: (Gmail in many languages, mail.ru, Yandex)
	{re: regexp.MustCompile(`(?i)^(?:\pL{1,15}\.?,?\s+)?\d{1,4}[\s./\-,].{0,200}?(?:<\s*[^\s<>@]+@[^\s<>]+\s*>|\(\s*[^\s()@]+@[^\s()]+\s*\))\s*[:：]$`), colon: true, evidence: true, strong: true},
	// 2013/7/20 <name> <address> (no colon after a full date)
	{re: regexp.MustCompile(`(?i)^(?:\d{4}[/.\-]\d{1,2}[/.\-]\d{1,2}|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{4})[\s,].{0,200}?<\s*[^\s<>@]+@[^\s<>]+\s*>$`)},
	// 2016-03-03 17:21 GMT+01:00 <name> (Gmail's ISO form)
	{re: regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{1,2}:\d{2} GMT[+-]\d{1,2}:\d{2}(?:\s.*)?$`)},
	// Posted by <name> on 01/21/2016
	{re: regexp.MustCompile(`(?i)^posted by .+ on \d{1,2}/\d{1,2}/\d{4}$`)},
	// Forwarded and original message separators, in many languages.
	{re: regexp.MustCompile(`(?i)^(?:begin forwarded message|forwarded message|forwarded e-?mail|original message|reply message|` +
		`message d'origine|message d’origine|mail original|message original|message transféré|message transfere|courriel original|` +
		`début du message (?:transféré|réexpédié)|debut du message (?:transfere|reexpedie)|` +
		`ursprüngliche nachricht|weitergeleitete nachricht|anfang der weitergeleiteten nachricht|originalnachricht|` +
		`mensaje original|mensaje reenviado|inicio del mensaje reenviado|` +
		`messaggio originale|messaggio inoltrato|inizio messaggio inoltrato|` +
		`mensagem original|mensagem encaminhada|início da mensagem reencaminhada|inicio da mensagem reencaminhada|` +
		`oorspronkelijk bericht|origineel bericht|doorgestuurd bericht|begin doorgestuurd bericht|` +
		`ursprungligt meddelande|vidarebefordrat meddelande|opprinnelig melding|videresendt melding|` +
		`oprindelig meddelelse|videresendt meddelelse|wiadomość oryginalna|oryginalna wiadomość|przekazana wiadomość|` +
		`původní zpráva|přeposlaná zpráva|pôvodná správa|исходное сообщение|пересылаемое сообщение|` +
		`оригінальне повідомлення|переслане повідомлення|alkuperäinen viesti|välitetty viesti|eredeti üzenet|` +
		`továbbított üzenet|orijinal mesaj|iletilen mesaj|原始邮件|转发邮件|原始郵件|轉寄郵件|元のメッセージ|転送されたメッセージ|` +
		`원본 메시지|전달된 메시지)\s*[:：]?$`)},
}

// attributionPrefix matches how an attribution begins ("On", "Le", "Am", a date…);
// attributionStart also accepts a line with an address, as "<name> <address> schrieb am <date>"
// may be wrapped too.
var (
	attributionPrefix = regexp.MustCompile(`(?i)^(?:on|at|le|am|el|il|in data|em|no dia|às|op|den|på|dnia|dňa|w dniu|in message|dne|在)\s|^(?:\pL{1,15}\.?,?\s+)?\d`)
	attributionStart  = regexp.MustCompile(attributionPrefix.String() + `|@`)
)

var (
	evidenceRe       = regexp.MustCompile(`\d|@`)
	strongEvidenceRe = regexp.MustCompile(`\d{1,2}[:h.]\d{2}|(?:^|\D)(?:19|20)\d{2}(?:\D|$)|@|\d{1,2}[./\-]\d{1,2}[./\-]\d{2,4}`)
	mailtoRe         = regexp.MustCompile(`(?i)<mailto:[^<>]*>`)
	sentenceEndRe    = regexp.MustCompile(`(?:\pL{4,}\.|[!?])$`)
)

// attributionAt reports how many lines, from line i, make an attribution (0 if none): one line,
// or up to maxWindow lines when a client wrapped it. keyword tells the lines that hold one of
// the attributionKeywords: a window without any cannot be an attribution.
func attributionAt(lines []string, fenced, keyword []bool, i int) int {
	first := lines[i]
	if len(first) > 400 || isBlank(first) {
		return 0
	}
	single := keyword[i] && isAttribution(first)
	if single {
		if norm, _ := normalizeAttribution(first); strings.HasSuffix(norm, ":") || strings.HasSuffix(norm, "：") {
			return 1 // complete
		}
	} else {
		found := false
		for j := i; j < i+maxWindow && j < len(lines) && !found; j++ {
			found = keyword[j]
		}
		if !found {
			return 0
		}
		start, _ := normalizeAttribution(first)
		if !attributionStart.MatchString(start) || sentenceEndRe.MatchString(start) {
			return 0
		}
	}
	joined, anyKeyword := first, keyword[i]
	for n := 2; n <= maxWindow && i+n-1 < len(lines); n++ {
		next := lines[i+n-1]
		if fenced[i+n-1] || len(next) > 200 || len(joined) > 500 {
			break
		}
		if isBlank(next) {
			continue
		}
		anyKeyword = anyKeyword || keyword[i+n-1]
		if keyword[i+n-1] && isAttribution(next) {
			if norm, _ := normalizeAttribution(next); attributionPrefix.MatchString(norm) {
				break // the attribution starts there
			}
		}
		cont := strings.TrimLeft(strings.TrimSpace(next), "> ")
		if cont == "" {
			break
		}
		joined += " " + cont
		if anyKeyword && isAttribution(joined) {
			// A complete attribution only swallows a continuation that closes it with a colon
			// ("<\naddress>:").
			if !single || strings.HasSuffix(strings.TrimSpace(joined), ":") {
				return n
			}
		}
		if single {
			break
		}
	}
	if single {
		return 1
	}
	return 0
}

// isAttribution reports whether a (possibly joined) line is an attribution line or a
// forwarded/original message separator.
func isAttribution(l string) bool {
	s, dashed := normalizeAttribution(l)
	if s == "" || utf8.RuneCountInString(s) > 400 {
		return false
	}
	if !hasAttributionKeyword(s) {
		return false
	}
	colon := strings.HasSuffix(s, ":") || strings.HasSuffix(s, "：")
	for _, a := range attributions {
		if a.colon && !colon && !dashed {
			continue
		}
		if a.evidence && !evidenceRe.MatchString(s) {
			continue
		}
		if a.strong && !strongEvidenceRe.MatchString(s) {
			continue
		}
		if a.also != nil && !a.also.MatchString(s) {
			continue
		}
		if a.re.MatchString(s) {
			return true
		}
	}
	return false
}

// attributionKeywords are the words one of which every attribution holds; checking them first
// spares running all the patterns on ordinary lines.
var attributionKeywords = []string{
	"wrote", "writes", "said", "says", "écrit", "ecrit", "dit", "schrieb", "geschrieben", "escribi", "scritto",
	"escreveu", "schreef", "geschreven", "skrev", "napisa", "pisze", "napsal", "написал", "пише", "kirjoitti",
	"írta", "yazdı", "έγραψε", "scris", "写道", "寫道", "書きました", "작성", "gmt", "posted by",
	"forward", "original", "message", "mail", "nachricht", "mensaje", "messaggio", "mensagem", "bericht",
	"meddelande", "melding", "meddelelse", "wiadomość", "zpráva", "správa", "сообщение", "повідомлення",
	"viesti", "üzenet", "mesaj", "邮件", "郵件", "メッセージ", "메시지",
}

// hasAttributionKeyword reports whether a line holds one of the attributionKeywords, or ends
// with an address ("<date> <name> <address>:").
func hasAttributionKeyword(s string) bool {
	if strings.Contains(s, "@") {
		end := strings.TrimRight(s, " \t:：")
		if strings.HasSuffix(end, ">") || strings.HasSuffix(end, ")") {
			return true
		}
	}
	return attributionWords.in(s)
}

var attributionWords = newKeywords(attributionKeywords)

// normalizeAttribution cleans a candidate attribution: quote prefixes, surrounding dashes,
// stars and underscores, "<mailto:…>" duplicates and HTML-escaped brackets go. dashed reports
// surrounding dashes ("---- On … wrote ----").
func normalizeAttribution(l string) (s string, dashed bool) {
	s = clean(l)
	if strings.Contains(s, "&") {
		s = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&nbsp;", " ", "&quot;", `"`, "&amp;", "&").Replace(s)
	}
	if strings.Contains(s, "<mailto:") || strings.Contains(s, "<MAILTO:") {
		s = mailtoRe.ReplaceAllString(s, "")
	}
	s = strings.TrimLeft(s, "> ")
	trimmed := strings.TrimLeftFunc(s, isRule)
	if strings.Count(s[:len(s)-len(trimmed)], "-") >= 2 {
		dashed = true
	}
	s = trimmed
	trimmed = strings.TrimRightFunc(s, isRule)
	if strings.Count(s[len(trimmed):], "-") >= 2 {
		dashed = true
	}
	return strings.TrimSpace(trimmed), dashed
}

// isRule reports the characters separators are drawn with.
func isRule(r rune) bool {
	switch r {
	case '-', '*', '_', '=', '—', '–', ' ', '~', '#':
		return true
	}
	return unicode.IsSpace(r)
}
