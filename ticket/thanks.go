package ticket

import (
	"strings"
	"unicode"
)

// thanksWords are the words that make a short message a thank-you, in English and French.
var thanksWords = []string{
	"thanks", "thank", "thx", "ty", "cheers", "perfect", "great", "excellent", "awesome", "appreciated",
	"merci", "parfait", "parfaitement", "super", "génial", "top", "nickel", "impeccable",
}

// notThanks are words that turn a thank-you into something else: a doubt, a "but", a problem.
var notThanks = []string{
	"not", "no", "don't", "doesn't", "didn't", "isn't", "still", "but", "however", "again", "problem",
	"issue", "error", "wrong", "broken", "fail", "fails", "failed", "unfortunately", "why", "how",
	"pas", "toujours", "mais", "cependant", "encore", "problème", "souci", "erreur", "ne",
	"plus", "jamais", "rien", "pourquoi", "comment", "hélas", "malheureusement",
}

// IsThanksOnly reports whether text only thanks: short (at most 15 words), no question,
// a thanks word, and none of the words that carry a complaint ("merci mais ça ne marche pas").
// The text is what the author wrote this time, quotes and signature already removed.
func IsThanksOnly(text string) bool {
	text = strings.ToLower(strings.TrimSpace(text))
	if text == "" || strings.ContainsAny(text, "?¿") {
		return false
	}
	words := strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && r != '\'' && r != '’'
	})
	if len(words) == 0 || len(words) > 15 {
		return false
	}
	thanks := false
	for _, w := range words {
		w = strings.ReplaceAll(w, "’", "'")
		if contains(notThanks, w) || strings.HasSuffix(w, "n't") || w == "n'" || strings.HasPrefix(w, "n'") {
			return false
		}
		thanks = thanks || contains(thanksWords, w)
	}
	return thanks
}

func contains(list []string, w string) bool {
	for _, x := range list {
		if x == w {
			return true
		}
	}
	return false
}
