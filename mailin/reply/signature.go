package reply

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// delimiterKind tells a separator line: "-- " (RFC 3676), "--" and runs of underscores are
// strong delimiters, a signature or the history follows them; other rules drawn with
// - = * ~ # + _ , — or ᐧ are weak ones, which end the message only before something that
// looks like history or a signature. It returns 0 for any other line.
func delimiterKind(l string) kind {
	t := strings.TrimFunc(l, isSpace)
	if t == "" {
		return 0
	}
	if t == "--" {
		return kindDelimiter
	}
	underscores := true
	for _, r := range t {
		switch r {
		case '_':
		case '-', '=', '+', '~', '#', '*', ',', '—', '–', 'ᐧ', '•':
			underscores = false
		default:
			return 0
		}
	}
	if underscores && len(t) >= 2 {
		return kindDelimiter
	}
	return kindWeakDelimiter
}

// weakDelimiterEnds reports whether the weak delimiter at line i ends the message: nothing but
// separators follow it, or a header block or attribution, or a short signature-like block with
// an address, a link or a phone number. next is nextContent(kinds).
func weakDelimiterEnds(lines []string, kinds []kind, next []int, i int) bool {
	k := next[i+1]
	if k == len(kinds) {
		return true
	}
	switch kinds[k] {
	case kindHeader, kindAttribution, kindQuotedAttribution:
		return true
	}
	contact := false
	for n := 0; k < len(kinds); n, k = n+1, next[k+1] {
		if n == 12 || utf8.RuneCountInString(strings.TrimSpace(lines[k])) > 80 {
			return false
		}
		if isContactLine(lines[k]) {
			contact = true
		}
	}
	return contact
}

// nextContent gives, for every index, the first line at or after it that is neither empty nor
// a delimiter (len(kinds) if none).
func nextContent(kinds []kind) []int {
	next := make([]int, len(kinds)+1)
	next[len(kinds)] = len(kinds)
	for i := len(kinds) - 1; i >= 0; i-- {
		switch kinds[i] {
		case kindEmpty, kindDelimiter, kindWeakDelimiter:
			next[i] = next[i+1]
		default:
			next[i] = i
		}
	}
	return next
}

var (
	emailRe = regexp.MustCompile(`[\pL\pN._%+\-]+@[\pL\pN\-]+(?:\.[\pL\pN\-]+)+`)
	urlRe   = regexp.MustCompile(`(?i)(?:https?://|www\.)\S+`)
	phoneRe = regexp.MustCompile(`\+?\(?\d[\d\s().\-/]{5,}\d`)
	// dateLikeRe spots the dates a phone number pattern also matches.
	dateLikeRe = regexp.MustCompile(`^(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4})(?:\s+\d{1,2})?$`)
)

// isContactLine reports a line carrying an e-mail address, a link or a phone number.
func isContactLine(l string) bool {
	if emailRe.MatchString(l) || urlRe.MatchString(l) {
		return true
	}
	for _, m := range phoneRe.FindAllString(l, -1) {
		if dateLikeRe.MatchString(m) {
			continue
		}
		digits := 0
		for _, r := range m {
			if r >= '0' && r <= '9' {
				digits++
			}
		}
		if digits >= 7 {
			return true
		}
	}
	return false
}

// devices are the words naming a phone or a tablet in mobile signatures.
const devices = `(?:iphone|ipad|ipod|android|mobile|phone|cell|cellphone|smartphone|tablet|samsung|galaxy|blackberry|huawei|pixel|xiaomi|nokia|htc|sony|lg|motorola|apple watch|watch|handy|portable|mobil)`

var (
	markdownLinkRe = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	bracketURLRe   = regexp.MustCompile(`(?i)<?(?:https?://|www\.)[^\s>]*>?`)
	// "Sent from my iPhone", "Envoyé de mon iPhone", "Sent with Airmail": the clause after the
	// verb names a device or an app; an excuse may follow ("please excuse typos"), anything else
	// makes it a sentence ("Sent from my desk, it is easier").
	sentFromRe = regexp.MustCompile(`(?i)^(?:sent (?:from|via|with|by|using)|envoy[ée] (?:de|depuis|à partir de|a partir de|avec|par)|` +
		`enviad[oa] (?:desde|con|do|da|pelo|via|a partir do)|inviato (?:da|dal|con)|(?:verzonden|verstuurd) (?:met|vanaf|van|via)|` +
		`gesendet (?:von|mit|vom|über)|(?:skickat|sendt) (?:från|fra|med|via)|(?:wysłane|wysłano) (?:z|ze|przez)|odesláno (?:z|ze)|` +
		`(?:отправлено|надіслано|послано) (?:с|из|з|со)|lähetetty) (.+)$`)
	excuseRe = regexp.MustCompile(`(?i)excuse|typo|brevity|brief|autocorrect|spelling|mistake|pardon|errors|fautes|bref|tippfehler|errores|errori`)
	// deviceClauseRe accepts the clause of a "sent from" line: a possessive ("my iPhone", "mon
	// iPhone"), a device or an app; a clause starting with a capital (an app name) is accepted
	// too, by isMobileSignature.
	deviceClauseRe = regexp.MustCompile(`(?i)^(?:my|mon|ma|mi|mio|mia|mijn|min|meinem|meu|minha|mojego|mého|моего|мого|minun)\s|` + devices + `|\b(?:mail|outlook|app)\b`)
	mobileRes      = []*regexp.Regexp{
		regexp.MustCompile(`(?i)^(?:get|download|obtenir|obtenez|téléchargez|télécharger|telechargez|obtener|descargar|descarga|scarica|ottieni|baixe|obter|hol dir|holen sie sich)\s+outlook\s+(?:for|pour|para|per|für|voor|för)\s`),
		regexp.MustCompile(`(?i)^[\pL\pN_]+ from mobile$`),
		regexp.MustCompile(`(?i)^from my (?:\S+ )?` + devices + `\b(?: \S+){0,2}$`),
		regexp.MustCompile(`(?i)^(?:sent )?(?:via|from) (?:my |a )?(?:mobile|phone|cell ?phone|cell|smartphone|tablet|handy|portable)(?: device| phone)?\.?$`),
		regexp.MustCompile(`(?i)^(?:von meinem|vom meinem) .{1,60} gesendet\.?$`),
		regexp.MustCompile(`(?i)^diese nachricht wurde von .{1,80} gesendet\.?$`),
		regexp.MustCompile(`(?i)^(?:skickat |sendt )?fr[åa]n? min (?:\S+ )?` + devices + `\b(?: \S+){0,2}$`),
		regexp.MustCompile(`(?i)^.{1,40}(?:umdan|imden|ımdan|'dan|'den) gönderildi$`),
		regexp.MustCompile(`^(?:從我的|从我的|發自我的|发自我的).{1,30}$`),
		regexp.MustCompile(`^.{1,30}(?:から送信|에서 보냄)$`),
	}
)

// isMobileSignature reports the one-line signatures mail apps add: "Sent from my iPhone",
// "Envoyé de mon iPhone", "Von meinem iPhone gesendet", "Get Outlook for iOS", …
func isMobileSignature(l string) bool {
	s := clean(l)
	if len(s) > 200 {
		return false
	}
	if strings.Contains(s, "](") {
		s = markdownLinkRe.ReplaceAllString(s, "$1")
	}
	if strings.Contains(s, "://") || strings.Contains(s, "www.") {
		s = clean(bracketURLRe.ReplaceAllString(s, " "))
	}
	s = strings.TrimFunc(s, func(r rune) bool {
		return r == '(' || r == ')' || r == '<' || r == '>' || r == '*' || r == '_' || r == '[' || r == ']' || isSpace(r)
	})
	if s == "" || wordCount(s) > 12 || !hasMobileKeyword(s) {
		return false
	}
	if m := sentFromRe.FindStringSubmatch(s); m != nil {
		clause, tail := m[1], ""
		if i := strings.IndexAny(clause, ".,;!—("); i >= 0 {
			clause, tail = clause[:i], strings.TrimSpace(clause[i+1:])
		}
		first, _ := utf8.DecodeRuneInString(clause)
		return wordCount(clause) <= 7 && (tail == "" || excuseRe.MatchString(tail)) &&
			(unicode.IsUpper(first) || deviceClauseRe.MatchString(clause))
	}
	for _, re := range mobileRes {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// mobileKeywords are the words one of which every mobile signature holds.
var mobileKeywords = []string{
	"sent", "envoy", "outlook", "mobile", "from my", "gesendet", "inviato", "enviad", "verzonden", "verstuurd",
	"skickat", "sendt", "från min", "fra min", "fran min", "wysłan", "odesláno", "отправлено", "надіслано", "послано",
	"lähetetty", "gönderildi", "我的", "から送信", "에서 보냄", "via ", "phone", "cell", "handy", "portable",
}

var mobileWords = newKeywords(mobileKeywords)

func hasMobileKeyword(s string) bool { return mobileWords.in(s) }

// signOffs are the words that start a closing line rather than a name.
var signOffs = map[string]bool{
	"thanks": true, "thank": true, "thx": true, "cheers": true, "regards": true, "best": true, "bye": true,
	"merci": true, "cordialement": true, "bonjour": true, "bonsoir": true, "salut": true, "amitiés": true, "bises": true,
	"hello": true, "hi": true, "hey": true, "danke": true, "grüße": true, "gruß": true, "gracias": true, "saludos": true,
	"grazie": true, "ciao": true, "obrigado": true, "obrigada": true, "bedankt": true, "groeten": true, "tack": true,
	"yes": true, "no": true, "ok": true, "okay": true, "oui": true, "non": true, "sincerely": true, "love": true,
	"kind": true, "warm": true, "warmest": true, "many": true, "all": true, "bien": true, "bonne": true,
	"meilleures": true, "sincères": true, "salutations": true, "mit": true, "viele": true, "liebe": true,
	"beste": true, "atentamente": true, "cordiali": true, "distinti": true, "saluti": true, "met": true,
	"vriendelijke": true, "hälsningar": true, "mvh": true, "pozdrawiam": true, "с": true, "спасибо": true,
}

// isSignOff reports a closing line: "Thanks,", "Best regards", "Cordialement", …
func isSignOff(l string) bool {
	words := strings.Fields(clean(l))
	return len(words) > 0 && len(words) <= 5 && signOffs[strings.ToLower(strings.Trim(words[0], ",.!"))]
}

// isNameLine reports a line that is only a name: one to four capitalised words.
func isNameLine(l string) bool {
	s := clean(l)
	if s == "" || utf8.RuneCountInString(s) > 40 {
		return false
	}
	words := strings.Fields(s)
	if len(words) > 4 || signOffs[strings.ToLower(strings.Trim(words[0], ",.!"))] {
		return false
	}
	for _, w := range words {
		r, _ := utf8.DecodeRuneInString(w)
		if !unicode.IsUpper(r) {
			return false
		}
		for _, r := range w {
			if !unicode.IsLetter(r) && r != '.' && r != '-' && r != '\'' {
				return false
			}
		}
	}
	return true
}

// dashNameRe matches a "-Name" signature line.
var dashNameRe = regexp.MustCompile(`^-\p{Lu}[\pL.'\-]*(?:\s+[\pL.'\-]+){0,2}$`)

// announceRe spots a line that introduces what follows ("my new address is below:").
var announceRe = regexp.MustCompile(`(?i)(?:^|\PL)(?:below|following|here is|here are|ci-dessous|suivantes?|voici|unten|folgende|abajo|siguientes?|seguintes?|sotto|seguenti)(?:\PL|$)`)

// trimSignature removes the signature left at the end of the kept lines: a "-Name" line, or a
// final block of contact details (a name, a title, an address, a phone number, a web site)
// separated from the message by a blank line. Trailing blank lines go too.
func trimSignature(lines []string, keep []int) []int {
	last := len(keep) - 1
	for last >= 0 && isBlank(lines[keep[last]]) {
		last--
	}
	if last < 0 {
		return nil
	}
	keep = keep[:last+1]
	if last >= 2 && isBlank(lines[keep[last-1]]) && dashNameRe.MatchString(clean(lines[keep[last]])) &&
		hasTextBefore(lines, keep[:last-1]) {
		return keep[:last]
	}
	return trimContactBlock(lines, keep)
}

// trimContactBlock removes a last paragraph made of contact details: two to eight short lines,
// two of them at least with an address, a link or a phone number, below a message of its own
// that does not announce them ("my new address:"). A closing line opening it ("Thanks,") stays.
func trimContactBlock(lines []string, keep []int) []int {
	last := len(keep) - 1
	start := last
	for start > 0 && !isBlank(lines[keep[start-1]]) {
		start--
	}
	block := keep[start:]
	if start == 0 || len(block) < 2 || len(block) > 8 {
		return keep
	}
	contacts, addresses := 0, 0
	for j, i := range block {
		s := clean(lines[i])
		if utf8.RuneCountInString(s) > 60 || wordCount(s) > 8 || strings.HasSuffix(s, ":") || strings.HasSuffix(s, "?") {
			return keep
		}
		if !isContactLine(s) {
			continue
		}
		if j == 0 && wordCount(s) > 3 {
			return keep
		}
		contacts++
		if emailRe.MatchString(s) || urlRe.MatchString(s) {
			addresses++
		}
	}
	if contacts < 2 || addresses == 0 {
		return keep
	}
	above := start - 1
	for above >= 0 && isBlank(lines[keep[above]]) {
		above--
	}
	if above < 0 {
		return keep
	}
	words := 0
	for _, i := range keep[:above+1] {
		words += wordCount(clean(lines[i]))
	}
	if l := clean(lines[keep[above]]); words < 5 || strings.HasSuffix(l, ":") || announceRe.MatchString(l) {
		return keep
	}
	cut := start
	for cut < last && isSignOff(lines[keep[cut]]) {
		cut++
	}
	if cut > start {
		return keep[:cut]
	}
	return keep[:above+1]
}

// hasTextBefore reports whether any of the given lines has content.
func hasTextBefore(lines []string, keep []int) bool {
	for _, i := range keep {
		if !isBlank(lines[i]) {
			return true
		}
	}
	return false
}
