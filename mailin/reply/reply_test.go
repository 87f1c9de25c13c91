package reply

import (
	"strings"
	"testing"
)

// guichetMarker is the separator guichet puts at the top of its notifications.
const guichetMarker = "## Répondez au-dessus de cette ligne / Reply above this line ##"

func TestStrip(t *testing.T) {
	withMarker := &Options{Markers: []string{guichetMarker}}
	tests := []struct {
		name        string
		in          string
		opts        *Options
		want        string
		wantRemoved bool
	}{
		{
			name: "no quote at all",
			in:   "\n\n  Hello,\n\nThe printer prints blank pages.\n\nJean\n\n",
			want: "Hello,\n\nThe printer prints blank pages.\n\nJean",
		},
		{
			name: "no quote at all, French, with a sign-off",
			in:   "Bonjour,\n\nL'imprimante n'imprime que des pages blanches.\n\nCordialement,\nJean Dupont",
			want: "Bonjour,\n\nL'imprimante n'imprime que des pages blanches.\n\nCordialement,\nJean Dupont",
		},
		{
			name:        "Gmail attribution",
			in:          "It works now.\n\nOn Mon, Mar 3, 2025 at 10:12 AM, Guichet Support <support@guichet.example> wrote:\n\n> Which model is it?\n>\n> Alice\n",
			want:        "It works now.",
			wantRemoved: true,
		},
		{
			name:        "attribution without a date, proved by the quote under it",
			in:          "Which model is it?\n\nJean Dupont wrote:\n> It prints blank pages.\n",
			want:        "Which model is it?",
			wantRemoved: true,
		},
		{
			name: "a sentence ending in wrote: without a quote under it stays",
			in:   "Here is what the manual wrote:\n\nUnplug it first.",
			want: "Here is what the manual wrote:\n\nUnplug it first.",
		},
		{
			name:        "Gmail attribution wrapped over three lines",
			in:          "It works now.\n\nOn Mon, Mar 3, 2025 at 10:12 AM, Guichet Support\n<support@guichet.example>\nwrote:\n\n> Which model is it?\n",
			want:        "It works now.",
			wantRemoved: true,
		},
		{
			name:        "French attribution",
			in:          "Ça marche, merci !\n\nLe lun. 3 mars 2025 à 10:12, Guichet Support <support@guichet.example> a écrit :\n\n> Quel est le modèle ?\n",
			want:        "Ça marche, merci !",
			wantRemoved: true,
		},
		{
			name:        "French attribution wrapped, non-breaking space before the colon",
			in:          "Ça marche.\n\nLe lun. 3 mars 2025 à 10:12, Guichet Support <\nsupport@guichet.example> a écrit\u00a0:\n\n> Quel est le modèle ?\n",
			want:        "Ça marche.",
			wantRemoved: true,
		},
		{
			name:        "Thunderbird French attribution without address",
			in:          "Oui.\n\nLe 03/03/2025 à 10:12, Guichet Support a écrit :\n> Quel est le modèle ?\n",
			want:        "Oui.",
			wantRemoved: true,
		},
		{
			name:        "German attribution",
			in:          "Danke.\n\nAm 03.03.2025 um 10:12 schrieb Guichet Support <support@guichet.example>:\n> Welches Modell?\n",
			want:        "Danke.",
			wantRemoved: true,
		},
		{
			name:        "Spanish attribution",
			in:          "Gracias.\n\nEl lun, 3 mar 2025 a las 10:12, Guichet Support (<support@guichet.example>) escribió:\n> ¿Qué modelo?\n",
			want:        "Gracias.",
			wantRemoved: true,
		},
		{
			name: "Outlook English header block after a separator",
			in: "It is a LaserJet 4.\n\n________________________________\nFrom: Guichet Support <support@guichet.example>\n" +
				"Sent: Monday, March 3, 2025 10:12 AM\nTo: Jean Dupont <jean@client.example>\nSubject: RE: [#42] Printer\n\nWhich model is it?\n",
			want:        "It is a LaserJet 4.",
			wantRemoved: true,
		},
		{
			name: "Outlook French header block without separator",
			in: "Bonjour,\n\nC'est une LaserJet 4.\n\nCordialement,\nJean Dupont\n\nDe : Guichet Support <support@guichet.example>\n" +
				"Envoyé : lundi 3 mars 2025 10:12\nÀ : Jean Dupont <jean@client.example>\nObjet : RE: [#42] Imprimante\n\nQuel est le modèle ?\n",
			want:        "Bonjour,\n\nC'est une LaserJet 4.\n\nCordialement,\nJean Dupont",
			wantRemoved: true,
		},
		{
			name: "Outlook French header block in bold",
			in: "C'est réparé.\n\n**De :** Guichet Support <support@guichet.example>\n**Envoyé :** lundi 3 mars 2025 10:12\n" +
				"**À :** Jean Dupont\n**Cc :** Alice\n**Objet :** [#42] Imprimante\n\nBonjour,\n",
			want:        "C'est réparé.",
			wantRemoved: true,
		},
		{
			name:        "Outlook original message separator",
			in:          "Done.\n\n-----Original Message-----\nFrom: Guichet Support\nSent: Monday, March 3, 2025 10:12 AM\nTo: Jean\nSubject: Printer\n\nHello\n",
			want:        "Done.",
			wantRemoved: true,
		},
		{
			name:        "French original message separators",
			in:          "Fait.\n\n-----Message d'origine-----\nDe : Guichet Support\nEnvoyé : lundi 3 mars 2025 10:12\n\nBonjour\n",
			want:        "Fait.",
			wantRemoved: true,
		},
		{
			name:        "Zimbra mail original",
			in:          "Fait.\n\n----- Mail original -----\nDe: \"Guichet\" <support@guichet.example>\nÀ: \"Jean\" <jean@client.example>\nEnvoyé: Lundi 3 Mars 2025 10:12:00\nObjet: Imprimante\n\nBonjour\n",
			want:        "Fait.",
			wantRemoved: true,
		},
		{
			name:        "Apple Mail forward",
			in:          "See below.\n\nBegin forwarded message:\n\nFrom: Bob <bob@example.com>\nSubject: Printer\nDate: 3 March 2025 at 10:12:00 CET\nTo: Jean\n\nThe printer is broken.\n",
			want:        "See below.",
			wantRemoved: true,
		},
		{
			name:        "forward with no comment keeps the forwarded text",
			in:          "---------- Forwarded message ---------\nFrom: Bob <bob@example.com>\nDate: Mon, Mar 3, 2025 at 10:12 AM\nSubject: Printer\nTo: <support@guichet.example>\n\nThe printer is broken.\n",
			want:        "The printer is broken.",
			wantRemoved: true,
		},
		{
			name:        "trailing > quote without attribution",
			in:          "Yes, since Monday.\n\n> Since when?\n> Alice\n",
			want:        "Yes, since Monday.",
			wantRemoved: true,
		},
		{
			name:        "bottom-posting",
			in:          "On Mon, Mar 3, 2025 at 10:12 AM, Guichet Support <support@guichet.example> wrote:\n> Which model is it?\n\nA LaserJet 4.\n",
			want:        "A LaserJet 4.",
			wantRemoved: true,
		},
		{
			name: "inline answers keep their quotes",
			in: "Le lun. 3 mars 2025 à 10:12, Guichet Support <support@guichet.example> a écrit :\n> Quel est le modèle ?\nUne LaserJet 4.\n" +
				"> Depuis quand ?\nDepuis lundi.\n> Cordialement,\n> Alice\n",
			want:        "Le lun. 3 mars 2025 à 10:12, Guichet Support <support@guichet.example> a écrit :\n> Quel est le modèle ?\nUne LaserJet 4.\n> Depuis quand ?\nDepuis lundi.",
			wantRemoved: true,
		},
		{
			name:        "signature delimiter",
			in:          "It works.\n\n-- \nJean Dupont\nACME\n+33 1 23 45 67 89\n",
			want:        "It works.",
			wantRemoved: true,
		},
		{
			name:        "signature delimiter without the space",
			in:          "It works.\n--\nJean\n",
			want:        "It works.",
			wantRemoved: true,
		},
		{
			name:        "underscore delimiter",
			in:          "It works.\n\n__\nJean Dupont, ACME\n",
			want:        "It works.",
			wantRemoved: true,
		},
		{
			name:        "Sent from my iPhone",
			in:          "It works.\n\nSent from my iPhone\n\nOn Mar 3, 2025, at 10:12, Guichet Support <support@guichet.example> wrote:\n\n> Which model?\n",
			want:        "It works.",
			wantRemoved: true,
		},
		{
			name:        "Envoyé de mon iPhone",
			in:          "Ça marche.\n\nEnvoyé de mon iPhone",
			want:        "Ça marche.",
			wantRemoved: true,
		},
		{
			name: "mobile signatures of many apps",
			in: "Ça marche.\n\nEnvoyé depuis mon appareil Galaxy\nTéléchargez Outlook pour Android<https://aka.ms/AAb9ysg>\n" +
				"Get Outlook for iOS<https://aka.ms/o0ukef>\nSent from my Samsung Galaxy smartphone.\nSent from my BlackBerry\n" +
				"Sent from my Android phone, please excuse my brevity\nSent with Airmail\nVon meinem iPhone gesendet\nEnviado desde mi iPhone",
			want:        "Ça marche.",
			wantRemoved: true,
		},
		{
			name: "sentences that start like mobile signatures stay",
			in:   "The parcel was sent by courier.\nSent with the invoice attached.\nSent via email yesterday.",
			want: "The parcel was sent by courier.\nSent with the invoice attached.\nSent via email yesterday.",
		},
		{
			name:        "contact details signature",
			in:          "The toner was replaced yesterday and it works again.\n\nJohn Smith\nIT manager, ACME\n+1 555 123 4567\njohn@acme.example",
			want:        "The toner was replaced yesterday and it works again.",
			wantRemoved: true,
		},
		{
			name:        "contact details signature below a sign-off",
			in:          "Le toner a été changé hier et tout fonctionne.\n\nCordialement,\nJean Dupont\nTél. : 01 23 45 67 89\nwww.acme.example",
			want:        "Le toner a été changé hier et tout fonctionne.\n\nCordialement,",
			wantRemoved: true,
		},
		{
			name: "contact details the text announces stay",
			in:   "Please send the new printer to the address below.\n\nJohn Smith\n12 Main Street\n+1 555 123 4567\njohn@acme.example",
			want: "Please send the new printer to the address below.\n\nJohn Smith\n12 Main Street\n+1 555 123 4567\njohn@acme.example",
		},
		{
			name: "contact details after a colon stay",
			in:   "Voici mes nouvelles coordonnées :\n\nJean Dupont\n06 12 34 56 78\njean@client.example",
			want: "Voici mes nouvelles coordonnées :\n\nJean Dupont\n06 12 34 56 78\njean@client.example",
		},
		{
			name:        "dash name signature",
			in:          "What is the best way to clear a bucket?\n\n-Abhishek Kona\n",
			want:        "What is the best way to clear a bucket?",
			wantRemoved: true,
		},
		{
			name: "dash list item stays",
			in:   "To do:\n-Check the printer\n-Replace toner",
			want: "To do:\n-Check the printer\n-Replace toner",
		},
		{
			name:        "name line above a mobile signature",
			in:          "I can't go any higher.\n\nStavros Xenakis\nvia mobile",
			want:        "I can't go any higher.",
			wantRemoved: true,
		},
		{
			name: "a sentence that starts like a mobile signature stays",
			in:   "Here is another email\n\nSent from my desk, is much easier then my mobile phone.",
			want: "Here is another email\n\nSent from my desk, is much easier then my mobile phone.",
		},
		{
			name: "a French sentence that starts like a mobile signature stays",
			in:   "Voici le devis.\n\nEnvoyé depuis mon bureau, la facture suit par courrier.",
			want: "Voici le devis.\n\nEnvoyé depuis mon bureau, la facture suit par courrier.",
		},
		{
			name: "lines that look like lone headers stay",
			in:   "De : mon côté, rien à signaler.\nObjet : la facture 123.\n\nMerci",
			want: "De : mon côté, rien à signaler.\nObjet : la facture 123.\n\nMerci",
		},
		{
			name: "a separator inside the message stays",
			in:   "First problem: the printer.\n\n-----\n\nSecond problem: the scanner jams on every page and makes a terrible noise when it does so, which is quite annoying.",
			want: "First problem: the printer.\n\n-----\n\nSecond problem: the scanner jams on every page and makes a terrible noise when it does so, which is quite annoying.",
		},
		{
			name:        "marker line",
			in:          "Merci, c'est réglé.\n\n" + guichetMarker + "\n\nTicket #42: the printer prints blank pages\n",
			opts:        withMarker,
			want:        "Merci, c'est réglé.",
			wantRemoved: true,
		},
		{
			name:        "quoted marker below an attribution",
			in:          "Merci !\n\nLe lun. 3 mars 2025 à 10:12, Guichet <support@guichet.example> a écrit :\n> " + guichetMarker + "\n> Votre ticket #42\n",
			opts:        withMarker,
			want:        "Merci !",
			wantRemoved: true,
		},
		{
			name:        "marker wrapped by the client, other case",
			in:          "Thanks!\n\n> ## RÉPONDEZ au-dessus de cette ligne /\n> Reply above this line ##\n> Ticket #42\n",
			opts:        withMarker,
			want:        "Thanks!",
			wantRemoved: true,
		},
		{
			name:        "answer below a quoted marker",
			in:          "On Mon, Mar 3, 2025 at 10:12 AM, Guichet <support@guichet.example> wrote:\n> " + guichetMarker + "\n> Which model?\n\nA LaserJet 4.\n",
			opts:        withMarker,
			want:        "A LaserJet 4.",
			wantRemoved: true,
		},
		{
			name:        "nothing above an unquoted marker",
			in:          guichetMarker + "\nTicket #42\n",
			opts:        withMarker,
			want:        "",
			wantRemoved: true,
		},
		{
			name:        "CRLF line endings",
			in:          "It works.\r\n\r\nOn Mon, Mar 3, 2025 at 10:12 AM, Support <support@guichet.example> wrote:\r\n> Which model?\r\n",
			want:        "It works.",
			wantRemoved: true,
		},
		{
			name:        "CR-only line endings",
			in:          "Ça marche.\r\rLe 03/03/2025 à 10:12, Support a écrit :\r> Quel modèle ?\r",
			want:        "Ça marche.",
			wantRemoved: true,
		},
		{
			name: "CRLF without quote",
			in:   "Line one\r\nLine two\r\n",
			want: "Line one\nLine two",
		},
		{
			name: "a sentence that starts like an attribution stays",
			in:   "On Monday the printer broke.\nOn Tuesday it worked again, as you said:\nit needed a new toner.",
			want: "On Monday the printer broke.\nOn Tuesday it worked again, as you said:\nit needed a new toner.",
		},
		{
			name:        "only a quote",
			in:          "> Only a quote.",
			want:        "> Only a quote.",
			wantRemoved: false,
		},
		{
			name: "code block is kept",
			in:   "Log:\n\n```\n--\n> not a quote\n```\n\nBye",
			want: "Log:\n\n```\n--\n> not a quote\n```\n\nBye",
		},
		{
			name:        "empty input",
			in:          "",
			want:        "",
			wantRemoved: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, removed := Strip(tt.in, tt.opts)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if removed != tt.wantRemoved {
				t.Errorf("got removed=%v, want %v", removed, tt.wantRemoved)
			}
		})
	}
}

func TestStripHTML(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		opts        *Options
		want        string
		wantRemoved bool
	}{
		{
			name: "Gmail quote",
			in: `<div dir="ltr">It works now.<br><br>Jean</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">` +
				`On Mon, Mar 3, 2025 at 10:12 AM Support &lt;<a href="mailto:s@x.example">s@x.example</a>&gt; wrote:<br></div>` +
				`<blockquote class="gmail_quote">Which model?</blockquote></div>`,
			want:        "It works now.\n\nJean",
			wantRemoved: true,
		},
		{
			name: "Outlook French divRplyFwdMsg",
			in: `<div>Bonjour,</div><div>C'est une LaserJet 4.</div><hr style="display:inline-block;width:98%">` +
				`<div id="divRplyFwdMsg"><b>De :</b> Support &lt;s@x.example&gt;<br><b>Envoyé :</b> lundi 3 mars 2025 10:12<br>` +
				`<b>À :</b> Jean<br><b>Objet :</b> Imprimante</div><div>Quel est le modèle ?</div>`,
			want:        "Bonjour,\nC'est une LaserJet 4.",
			wantRemoved: true,
		},
		{
			name: "Outlook desktop border-top separator",
			in: `<div class="WordSection1"><p class="MsoNormal">Done.</p><p class="MsoNormal">&nbsp;</p>` +
				`<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in"><p class="MsoNormal">` +
				`<b>From:</b> Support<br><b>Sent:</b> Monday, March 3, 2025 10:12 AM<br><b>To:</b> Jean<br><b>Subject:</b> Printer</p></div>` +
				`<p class="MsoNormal">Which model?</p></div>`,
			want:        "Done.",
			wantRemoved: true,
		},
		{
			name: "Thunderbird cite",
			in: `<p>Ça marche.</p><div class="moz-cite-prefix">Le 03/03/2025 à 10:12, Support a écrit&nbsp;:<br></div>` +
				`<blockquote type="cite">Quel modèle ?</blockquote>`,
			want:        "Ça marche.",
			wantRemoved: true,
		},
		{
			name: "Apple Mail inline answers stay",
			in: `<div>Hi,</div><blockquote type="cite"><div>Which model?</div></blockquote><div>A LaserJet 4.</div>` +
				`<blockquote type="cite"><div>Since when?</div></blockquote><div>Since Monday.</div>`,
			want:        "Hi,\n\n> Which model?\n\nA LaserJet 4.\n\n> Since when?\n\nSince Monday.",
			wantRemoved: false,
		},
		{
			name:        "Outlook for Mac OLK_SRC_BODY_SECTION",
			in:          `<div>Reply</div><span id="OLK_SRC_BODY_SECTION"><div>From: Bob<br>Date: Tue, 01 Nov 2011</div><div>Hi</div></span>`,
			want:        "Reply",
			wantRemoved: true,
		},
		{
			name:        "hr then headers",
			in:          `<div>Hello<br><br><hr id="zwchr"><b>From: </b>bob@example.com<br><b>To: </b>x@example.com<br><b>Sent: </b>Friday, July 22, 2011 6:20:01 PM<br><b>Subject: </b>Hello<br><br>Hi</div>`,
			want:        "Hello",
			wantRemoved: true,
		},
		{
			name:        "marker in HTML",
			in:          `<p>Merci</p><p>` + guichetMarker + `</p><p>Votre ticket</p>`,
			opts:        &Options{Markers: []string{guichetMarker}},
			want:        "Merci",
			wantRemoved: true,
		},
		{
			name:        "mobile signature in HTML",
			in:          `<div dir="auto">OK<br><br><div id="AppleMailSignature">Envoyé de mon iPhone</div></div>`,
			want:        "OK",
			wantRemoved: true,
		},
		{
			name:        "no quote",
			in:          `<html><body><p>Hello,</p><ul><li>one</li><li>two</li></ul></body></html>`,
			want:        "Hello,\n\n- one\n- two",
			wantRemoved: false,
		},
		{
			name:        "forward only keeps the forwarded text",
			in:          `<div class="gmail_quote">---------- Forwarded message ---------<br>From: Bob &lt;bob@example.com&gt;<br>Date: Mon, Mar 3, 2025 at 10:12 AM<br>Subject: Printer<br>To: support@x.example<br><br>The printer is broken.</div>`,
			want:        "The printer is broken.",
			wantRemoved: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, removed := StripHTML(tt.in, tt.opts)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if removed != tt.wantRemoved {
				t.Errorf("got removed=%v, want %v", removed, tt.wantRemoved)
			}
		})
	}
}

func TestHTMLToText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"paragraphs and breaks", `<p>One<br>two</p><p>three</p>`, "One\ntwo\n\nthree"},
		{"scripts and styles dropped", `<style>p{color:red}</style><script>alert(1)</script><p>Text</p>`, "Text"},
		{"entities decoded", `<p>Caf&eacute; &amp; th&eacute;&nbsp;: 5&euro;</p>`, "Café & thé : 5€"},
		{"white space collapsed", "<div>  a \n\t b  </div><div>c</div>", "a b\nc"},
		{"lists", `<ol><li>first</li><li>second</li></ol><ul><li>dot</li></ul>`, "1. first\n2. second\n- dot"},
		{"links as text", `<p>See <a href="https://example.com/doc">the doc</a> or <a href="https://example.com">example.com</a>.</p>`, "See the doc <https://example.com/doc> or example.com."},
		{"quotes prefixed", `<p>Answer</p><blockquote type="cite"><p>Question</p></blockquote>`, "Answer\n\n> Question"},
		{"hidden content dropped", `<div style="display: none">preheader</div><div>Body</div>`, "Body"},
		{"table cells", `<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>`, "a b\nc"},
		{"Outlook paragraphs are single lines", `<p class=MsoNormal>One</p><p class=MsoNormal>Two</p>`, "One\nTwo"},
		{"nothing removed", `<p>Hi</p><div class="gmail_quote">On Mon wrote:<blockquote>old</blockquote></div>`, "Hi\n\nOn Mon wrote:\n\n> old"},
		{"empty", ``, ""},
		{"nested too deep for the parser", strings.Repeat("<div>", 600) + "x<br>y<script>z</script>", "x\ny"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HTMLToText(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStripLongInputs(t *testing.T) {
	// Long lines and many lines must neither take long nor break anything.
	long := strings.Repeat(">", 1<<20)
	if got, _ := Strip("Hi\n"+long, nil); got != "Hi" {
		t.Errorf("got %q, want %q", shorten(got), "Hi")
	}
	many := strings.Repeat("On 3 May 2025 at 10:12 someone\n", 20000)
	if got, _ := Strip(many, nil); !strings.HasPrefix(got, "On 3 May") {
		t.Errorf("got %q, want the text kept", shorten(got))
	}
}
