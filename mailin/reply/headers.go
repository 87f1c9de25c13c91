package reply

import (
	"regexp"
	"strings"
	"unicode"
)

// field is the meaning of a header of a quoted message.
type field byte

const (
	fieldFrom field = iota + 1
	fieldDate
	fieldTo
	fieldCc
	fieldSubject
	fieldReplyTo
)

// headerFields maps the lower-cased header names Outlook, Apple Mail, Thunderbird, webmails and
// mobile clients print above a quoted or forwarded message, in many languages.
var headerFields = map[string]field{
	// English
	"from": fieldFrom, "sent": fieldDate, "date": fieldDate, "to": fieldTo, "cc": fieldCc, "bcc": fieldCc,
	"subject": fieldSubject, "reply-to": fieldReplyTo, "sent by": fieldFrom,
	// French
	"de": fieldFrom, "expéditeur": fieldFrom, "envoyé": fieldDate, "envoyé le": fieldDate, "envoye": fieldDate,
	"à": fieldTo, "a": fieldTo, "destinataire": fieldTo, "destinataires": fieldTo, "cci": fieldCc, "objet": fieldSubject,
	"sujet": fieldSubject, "répondre à": fieldReplyTo,
	// German
	"von": fieldFrom, "gesendet": fieldDate, "datum": fieldDate, "an": fieldTo, "kopie": fieldCc,
	"betreff": fieldSubject, "antwort an": fieldReplyTo,
	// Spanish, Portuguese
	"remitente": fieldFrom, "enviado": fieldDate, "enviado el": fieldDate, "enviada em": fieldDate,
	"enviado em": fieldDate, "fecha": fieldDate, "data": fieldDate, "para": fieldTo, "destinatario": fieldTo,
	"destinatário": fieldTo, "asunto": fieldSubject, "assunto": fieldSubject, "responder a": fieldReplyTo,
	// Italian
	"da": fieldFrom, "mittente": fieldFrom, "inviato": fieldDate, "oggetto": fieldSubject, "risposta": fieldReplyTo,
	// Dutch
	"van": fieldFrom, "afzender": fieldFrom, "verzonden": fieldDate, "aan": fieldTo, "onderwerp": fieldSubject,
	"beantwoorden - aan": fieldReplyTo,
	// Swedish, Norwegian, Danish
	"från": fieldFrom, "fra": fieldFrom, "skickat": fieldDate, "sendt": fieldDate, "dato": fieldDate,
	"till": fieldTo, "til": fieldTo, "kopia": fieldCc, "kopi": fieldCc, "ämne": fieldSubject, "emne": fieldSubject,
	// Polish, Czech
	"od": fieldFrom, "wysłano": fieldDate, "wysłane": fieldDate, "do": fieldTo, "dw": fieldCc, "temat": fieldSubject,
	"odesláno": fieldDate, "komu": fieldTo, "předmět": fieldSubject,
	// Russian, Ukrainian
	"от": fieldFrom, "отправитель": fieldFrom, "отправлено": fieldDate, "дата": fieldDate, "кому": fieldTo,
	"копия": fieldCc, "тема": fieldSubject, "від": fieldFrom, "надіслано": fieldDate, "копія": fieldCc,
	// Finnish, Hungarian, Turkish
	"lähettäjä": fieldFrom, "lähetetty": fieldDate, "vastaanottaja": fieldTo, "aihe": fieldSubject,
	"feladó": fieldFrom, "elküldve": fieldDate, "címzett": fieldTo, "tárgy": fieldSubject,
	"kimden": fieldFrom, "gönderildi": fieldDate, "tarih": fieldDate, "kime": fieldTo, "konu": fieldSubject,
	// Chinese, Japanese, Korean
	"发件人": fieldFrom, "寄件者": fieldFrom, "发送时间": fieldDate, "寄件日期": fieldDate, "日期": fieldDate,
	"收件人": fieldTo, "收件者": fieldTo, "抄送": fieldCc, "副本": fieldCc, "主题": fieldSubject, "主旨": fieldSubject,
	"差出人": fieldFrom, "送信者": fieldFrom, "送信日時": fieldDate, "日付": fieldDate, "宛先": fieldTo, "件名": fieldSubject,
	"보낸 사람": fieldFrom, "보낸 날짜": fieldDate, "받는 사람": fieldTo, "참조": fieldCc, "제목": fieldSubject,
}

// headerRe splits "Name: value", with the bold markers ("*From:*", "**De :**") some clients and
// HTML conversions leave around the name.
var headerRe = regexp.MustCompile(`^[\s*]*(\pL[\pL\- ]{0,24}?)\s*\**\s*[:：]\s*\**\s*(.*)$`)

// headerLine reports whether a line is one header of a quoted message, and which.
func headerLine(l string) (field, bool) {
	// The name is at most 25 letters and a few markers: a line without a colon in its first
	// 40 bytes is no header, and most lines are spared the cleaning and the regular expression.
	head := l
	if len(head) > 48 {
		head = head[:48]
	}
	if strings.IndexByte(head, ':') < 0 && !strings.Contains(head, "：") {
		return 0, false
	}
	s := clean(l)
	if len(s) > 400 {
		return 0, false
	}
	m := headerRe.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	f, ok := headerFields[strings.ToLower(m[1])]
	if !ok {
		return 0, false
	}
	value := strings.TrimSpace(m[2])
	switch f {
	case fieldDate:
		// "Sent: Monday, 2 April 2012 14:20", never "Date: tomorrow".
		if !strings.ContainsFunc(value, unicode.IsDigit) {
			return 0, false
		}
	case fieldFrom, fieldReplyTo:
		if value == "" {
			return 0, false
		}
	}
	return f, true
}

// markHeaderBlocks turns the runs of header lines that describe a message (three different
// headers, or "From:" and a date) into kindHeaderBlock; a lone header line is text. The
// wrapped continuation of a header value belongs to the block.
func markHeaderBlocks(lines []string, seq []int, p []kind) {
	for j := 0; j < len(p); j++ {
		if p[j] != kindHeader {
			continue
		}
		fields := map[field]bool{}
		last := j
		for k := j; k < len(p); k++ {
			if p[k] == kindHeader {
				f, _ := headerLine(lines[seq[k]])
				fields[f] = true
				last = k
				continue
			}
			if k-last > 2 || (p[k] != kindText && p[k] != kindEmpty) || len(lines[seq[k]]) > 200 {
				break
			}
			// A continuation must lead to another header within two lines.
			if !(k+1 < len(p) && p[k+1] == kindHeader) && !(k+2 < len(p) && p[k+2] == kindHeader && p[k+1] != kindEmpty) {
				break
			}
		}
		// An indented line right after the block continues the last value.
		if last+1 < len(p) && p[last+1] == kindText {
			if l := lines[seq[last+1]]; l != "" && (l[0] == ' ' || l[0] == '\t') {
				last++
			}
		}
		if len(fields) >= 3 || (fields[fieldFrom] && fields[fieldDate]) {
			for k := j; k <= last; k++ {
				p[k] = kindHeaderBlock
			}
		} else {
			for k := j; k <= last; k++ {
				if p[k] == kindHeader {
					p[k] = kindText
				}
			}
		}
		j = last
	}
}
