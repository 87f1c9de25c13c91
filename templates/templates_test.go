package templates

import (
	"bytes"
	"errors"
	htemplate "html/template"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

const (
	testMarker  = "## Répondez au-dessus de cette ligne / Reply above this line ##"
	ticketLink  = "https://support.example/t/12?sig=abc"
	approveLink = "https://support.example/a/12?sig=def"
	refuseLink  = "https://support.example/r/12?sig=ghi"
	agentLink   = "https://support.example/agent/12"
)

var (
	loadOnce sync.Once
	loaded   *Set
	loadErr  error
)

// set is the embedded set, loaded once for the tests.
func set(t *testing.T) *Set {
	t.Helper()
	loadOnce.Do(func() { loaded, loadErr = Load("") })
	if loadErr != nil {
		t.Fatalf("Load(\"\"): %v", loadErr)
	}
	return loaded
}

// fullMail is a mail of kind with every field a template may use.
func fullMail(kind, lang string) Mail {
	m := Mail{
		Kind: kind, Lang: lang, Brand: "Acme Helpdesk",
		Recipient: Person{Name: "Jean Dupont", Address: "jean@client.example"},
		Role:      "requester",
		Ticket: Ticket{
			Number: 12, Tag: "[#12]", Subject: "Printer broken",
			Status: "solved", StatusName: "Solved", Priority: "High", Type: "Incident",
			Requester: Person{Name: "Jean Dupont", Address: "jean@client.example"},
			Created:   "3 Mar 2025 10:12",
		},
		Message: &Message{
			Author: Person{Name: "Alice Martin", Address: "alice@support.example"}, Staff: true,
			Time: "3 Mar 2025 11:40", Text: "Replace the toner cartridge.\nThen print a test page.",
			Attachments: []Attachment{{Name: "howto.pdf", Size: "12 KB"}},
		},
		From: "New", To: "Pending", ToCode: "pending",
		Reason:  "Which printer model is it?",
		Closing: ClosedAuto, Days: 7, Hours: 4,
		Links: Links{Ticket: ticketLink, Approve: approveLink, Refuse: refuseLink, Agent: agentLink},
		Updates: []Update{
			{Kind: Reply, Time: "3 Mar 10:12", Summary: "Which model?"},
			{Kind: Solved, Time: "3 Mar 11:40", Summary: "Replace the toner."},
			{Kind: Status, Time: "3 Mar 12:00", Summary: "Pending"},
		},
		Failure: &Failure{Address: "jean@client.example", Status: "5.1.1", Diagnostic: "550 5.1.1 user unknown", Kind: Solved},
		Marker:  testMarker,
	}
	if !isRequesterKind(kind) {
		m.Role = "agent"
		m.Recipient = Person{Name: "Alice Martin", Address: "alice@support.example"}
	}
	return m
}

func render(t *testing.T, m Mail) Rendered {
	t.Helper()
	r, err := set(t).Mail(m)
	if err != nil {
		t.Fatalf("Mail(%s, %s): %v", m.Kind, m.Lang, err)
	}
	return r
}

func renderPage(t *testing.T, p Page) string {
	t.Helper()
	var b bytes.Buffer
	if err := set(t).Page(&b, p); err != nil {
		t.Fatalf("Page(%s, %s, %s): %v", p.Kind, p.Lang, p.Action, err)
	}
	return b.String()
}

// voidElements have no end tag.
var voidElements = map[string]bool{"area": true, "base": true, "br": true, "col": true, "embed": true,
	"hr": true, "img": true, "input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true}

// checkDocument checks that s is a complete HTML document with balanced elements, and returns its tree.
func checkDocument(t *testing.T, s string) *html.Node {
	t.Helper()
	if !strings.HasPrefix(s, "<!DOCTYPE html>") {
		t.Errorf("document does not start with <!DOCTYPE html>: %.60q", s)
	}
	z := html.NewTokenizer(strings.NewReader(s))
	var open []string
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if !errors.Is(z.Err(), io.EOF) {
				t.Errorf("tokenizing: %v", z.Err())
			}
			break
		}
		name, _ := z.TagName()
		switch tt {
		case html.StartTagToken:
			if !voidElements[string(name)] {
				open = append(open, string(name))
			}
		case html.EndTagToken:
			if len(open) == 0 || open[len(open)-1] != string(name) {
				t.Fatalf("unbalanced </%s>, open elements %v", name, open)
			}
			open = open[:len(open)-1]
		}
	}
	if len(open) > 0 {
		t.Errorf("elements left open: %v", open)
	}
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		t.Fatalf("html.Parse: %v", err)
	}
	h := find(doc, atom.Html)
	if h == nil || attr(h, "lang") == "" {
		t.Errorf("no <html lang=…>")
	}
	for _, a := range []atom.Atom{atom.Head, atom.Title, atom.Body} {
		if find(doc, a) == nil {
			t.Errorf("no <%s>", a)
		}
	}
	return doc
}

// find returns the first element a under n, depth first.
func find(n *html.Node, a atom.Atom) *html.Node {
	if n.Type == html.ElementNode && n.DataAtom == a {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := find(c, a); f != nil {
			return f
		}
	}
	return nil
}

// findAll returns the elements a under n.
func findAll(n *html.Node, a atom.Atom) []*html.Node {
	var out []*html.Node
	if n.Type == html.ElementNode && n.DataAtom == a {
		out = append(out, n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		out = append(out, findAll(c, a)...)
	}
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

// textOf is the text under n.
func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// hrefs lists the href, src and action attributes under n.
func hrefs(n *html.Node) []string {
	var out []string
	if n.Type == html.ElementNode {
		for _, a := range n.Attr {
			if a.Key == "href" || a.Key == "src" || a.Key == "action" {
				out = append(out, a.Val)
			}
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		out = append(out, hrefs(c)...)
	}
	return out
}

func TestLoadEmbedded(t *testing.T) {
	s := set(t)
	for _, lang := range Langs {
		if len(s.mails[lang]) != len(Kinds) || len(s.pages[lang]) != len(PageKinds) {
			t.Errorf("%s: %d mail kinds, %d page kinds loaded", lang, len(s.mails[lang]), len(s.pages[lang]))
		}
	}
}

func TestEveryMailKind(t *testing.T) {
	for _, lang := range Langs {
		for _, kind := range Kinds {
			t.Run(lang+"/"+kind, func(t *testing.T) {
				m := fullMail(kind, lang)
				r := render(t, m)

				tagSubject := "[#12] Printer broken"
				if strings.ContainsAny(r.Subject, "\r\n") || r.Subject != strings.TrimSpace(r.Subject) {
					t.Errorf("subject is not one trimmed line: %q", r.Subject)
				}
				if isRequesterKind(kind) {
					if r.Subject != tagSubject {
						t.Errorf("requester subject = %q, want %q (the same for the whole thread)", r.Subject, tagSubject)
					}
				} else if !strings.HasPrefix(r.Subject, tagSubject+" — ") {
					t.Errorf("agent subject = %q, want %q and a label", r.Subject, tagSubject+" — ")
				}

				if !strings.HasPrefix(r.Text, testMarker+"\n\n") {
					t.Errorf("text does not start with the marker and a blank line: %.100q", r.Text)
				}
				if strings.Contains(r.Text, "\n\n\n") || strings.Contains(r.Text, "\r") {
					t.Errorf("text has CR or runs of blank lines: %q", r.Text)
				}
				for _, entity := range []string{"&amp;", "&lt;", "&#", "&quot;", "<p", "<br", "{{", "<no value>"} {
					if strings.Contains(r.Text, entity) {
						t.Errorf("text contains %q:\n%s", entity, r.Text)
					}
				}
				if strings.Contains(r.HTML, "<no value>") || strings.Contains(r.Subject, "<no value>") {
					t.Errorf("a template printed a missing value")
				}

				doc := checkDocument(t, r.HTML)
				body := find(doc, atom.Body)
				if p := find(body, atom.P); p == nil || textOf(p) != testMarker {
					t.Errorf("the first paragraph of the HTML is not the marker")
				}
				for _, bad := range []string{"<script", "<style", "<img", "<link", "<iframe", "src="} {
					if strings.Contains(strings.ToLower(r.HTML), bad) {
						t.Errorf("HTML mail contains %q", bad)
					}
				}

				links := hrefs(doc)
				if isRequesterKind(kind) {
					lines := strings.Split(strings.TrimRight(r.Text, "\n"), "\n")
					if last := lines[len(lines)-1]; !strings.HasSuffix(last, ticketLink) {
						t.Errorf("text does not end with the ticket link; last line %q", last)
					}
					if !contains(links, ticketLink) {
						t.Errorf("HTML does not link to the ticket: %v", links)
					}
					if strings.Contains(r.Text, agentLink) || contains(links, agentLink) {
						t.Errorf("a requester mail shows the agents' link")
					}
				} else {
					if !strings.Contains(r.Text, agentLink) || !contains(links, agentLink) {
						t.Errorf("agent mail without Links.Agent")
					}
					if strings.Contains(r.Text, ticketLink) {
						t.Errorf("agent mail shows the requester's signed ticket link")
					}
				}
				for _, l := range links {
					if !strings.HasPrefix(l, "https://support.example/") {
						t.Errorf("HTML mail links to %q, not one of the given links", l)
					}
				}
			})
		}
	}
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func TestMinimalMails(t *testing.T) {
	for _, lang := range Langs {
		for _, kind := range Kinds {
			m := Mail{Kind: kind, Lang: lang, Ticket: Ticket{Number: 3, Tag: "[#3]", Subject: "Hello"}}
			r := render(t, m)
			if !strings.HasPrefix(r.Subject, "[#3] Hello") {
				t.Errorf("%s/%s: subject %q", lang, kind, r.Subject)
			}
			if strings.HasPrefix(r.Text, "\n") || strings.TrimSpace(r.Text) == "" {
				t.Errorf("%s/%s: text %q", lang, kind, r.Text)
			}
			for _, s := range []string{"Follow your ticket", "Suivre votre demande", "http", "<no value>"} {
				if strings.Contains(r.Text, s) || strings.Contains(r.HTML, s+"<") {
					t.Errorf("%s/%s: shows %q without a link", lang, kind, s)
				}
			}
			checkDocument(t, r.HTML)
		}
	}
}

func TestApproveRefuseLinksOnlyWhenSet(t *testing.T) {
	for _, lang := range Langs {
		approve, refuse := "Approve: ", "Refuse: "
		if lang == "fr" {
			approve, refuse = "Approuver : ", "Refuser : "
		}
		m := fullMail(Solved, lang)
		r := render(t, m)
		if !strings.Contains(r.Text, approve+approveLink+"\n") || !strings.Contains(r.Text, refuse+refuseLink+"\n") {
			t.Errorf("%s: text lacks the approve and refuse lines:\n%s", lang, r.Text)
		}
		doc := checkDocument(t, r.HTML)
		links := hrefs(doc)
		if !contains(links, approveLink) || !contains(links, refuseLink) {
			t.Errorf("%s: HTML lacks the approve and refuse buttons: %v", lang, links)
		}
		for _, a := range findAll(doc, atom.A) {
			if v := attr(a, "href"); (v == approveLink || v == refuseLink) && !strings.Contains(attr(a, "style"), "background-color") {
				t.Errorf("%s: the %s link is not styled as a button", lang, v)
			}
		}
		days := map[string]string{"en": "within 7 days, the ticket will be closed automatically", "fr": "sous 7 jours, le ticket sera clos automatiquement"}[lang]
		reply := map[string]string{"en": `reply to this mail with "approve", or with "refuse:"`, "fr": "répondre à ce message par « approuver », ou par « refuser : »"}[lang]
		if !strings.Contains(r.Text, days) || !strings.Contains(r.Text, reply) {
			t.Errorf("%s: text does not explain the delay and the mail commands:\n%s", lang, r.Text)
		}

		m.Days = 0
		if r := render(t, m); strings.Contains(r.Text, days[:10]) || strings.Contains(r.Text, "automati") {
			t.Errorf("%s: Days 0 still announces an automatic closing:\n%s", lang, r.Text)
		}

		// The participants' copy has no approve and refuse links.
		m = fullMail(Solved, lang)
		m.Links.Approve, m.Links.Refuse = "", ""
		m.Role = "participant"
		r = render(t, m)
		if strings.Contains(r.Text, approve) || strings.Contains(r.Text, refuse) ||
			strings.Contains(r.HTML, approveLink) || strings.Contains(r.HTML, refuseLink) {
			t.Errorf("%s: approve or refuse shown without Links.Approve", lang)
		}
		if !strings.Contains(r.Text, ticketLink) {
			t.Errorf("%s: the participant's copy lost the ticket link", lang)
		}
		// Links.Refuse alone shows nothing either.
		m.Links.Refuse = refuseLink
		if r := render(t, m); strings.Contains(r.Text, refuseLink) || strings.Contains(r.HTML, refuseLink) {
			t.Errorf("%s: refuse link shown without Links.Approve", lang)
		}
		// Other kinds never show them, even when set.
		for _, kind := range Kinds {
			if kind == Solved {
				continue
			}
			r := render(t, fullMail(kind, lang))
			if strings.Contains(r.Text, approveLink) || strings.Contains(r.HTML, approveLink) {
				t.Errorf("%s/%s: shows the approve link", lang, kind)
			}
		}
	}
}

func TestHTMLEscaping(t *testing.T) {
	evil := `<script>alert("x")</script> & "quoted"`
	for _, lang := range Langs {
		for _, kind := range Kinds {
			m := fullMail(kind, lang)
			m.Ticket.Subject = evil
			m.Ticket.Requester.Name = evil
			m.Recipient.Name = evil
			m.Reason = evil
			m.Failure.Diagnostic = evil
			if kind == Status || kind == Reminder {
				m.Reason = "" // the question is the message
			}
			m.Message = &Message{
				Author: Person{Name: evil}, Time: evil, Text: evil + "\nsecond line",
				Attachments: []Attachment{{Name: evil + ".pdf", Size: "1 KB"}},
			}
			r := render(t, m)
			if strings.Contains(r.HTML, "<script") || strings.Contains(r.HTML, `"quoted"`) {
				t.Errorf("%s/%s: caller text not escaped in HTML", lang, kind)
			}
			if !strings.Contains(r.HTML, "&lt;script&gt;") {
				t.Errorf("%s/%s: escaped text missing from HTML", lang, kind)
			}
			if kind != AgentFailure && !strings.Contains(r.HTML, "&lt;/script&gt; &amp; &#34;quoted&#34;<br>second line") {
				t.Errorf("%s/%s: message text not escaped with its line breaks kept", lang, kind)
			}
			if !strings.Contains(r.Text, evil) || !strings.Contains(r.Subject, evil) {
				t.Errorf("%s/%s: text or subject changed the caller's text", lang, kind)
			}
			checkDocument(t, r.HTML)

			// Sanitized HTML is kept as is.
			m.Message.HTML = htemplate.HTML(`<p>kept <b>bold</b></p>`)
			r = render(t, m)
			if kind != AgentFailure && !strings.Contains(r.HTML, `<p>kept <b>bold</b></p>`) {
				t.Errorf("%s/%s: Message.HTML not kept", lang, kind)
			}
		}

		page := renderPage(t, Page{
			Kind: PageTicket, Lang: lang, Brand: evil,
			Ticket:   Ticket{Number: 12, Tag: "[#12]", Subject: evil, StatusName: evil},
			Messages: []Message{{Author: Person{Name: evil}, Text: evil, Attachments: []Attachment{{Name: evil, Size: "1 KB", URL: "/f/1"}}}, {Author: Person{Name: "A"}, HTML: `<p>kept <b>bold</b></p>`}},
			Solution: &Message{Author: Person{Name: "A"}, Text: evil},
			CanAct:   true, ApproveURL: "/a/12", RefuseURL: "/r/12",
		})
		if strings.Contains(page, "<script") || strings.Contains(page, `"quoted"`) || !strings.Contains(page, "&lt;script&gt;") {
			t.Errorf("%s: ticket page does not escape caller text", lang)
		}
		if !strings.Contains(page, `<p>kept <b>bold</b></p>`) {
			t.Errorf("%s: ticket page does not keep Message.HTML", lang)
		}
		checkDocument(t, page)

		page = renderPage(t, Page{Kind: PageAction, Lang: lang, Action: ActionRefuse, Form: "/r/12",
			Comment: `</textarea><script>alert(1)</script>`, Error: ErrReasonRequired})
		if strings.Contains(page, "<script") || !strings.Contains(page, "&lt;/textarea&gt;&lt;script&gt;") {
			t.Errorf("%s: action page does not escape the comment:\n%s", lang, page)
		}
	}
}

func TestLanguages(t *testing.T) {
	cases := []struct {
		kind, lang string
		edit       func(*Mail)
		want       []string
		not        []string
	}{
		{Created, "fr", nil, []string{"Bonjour Jean Dupont,", "Votre demande a bien été enregistrée sous le numéro #12", "répondez simplement à ce message", "Votre message :", "Pièces jointes :", "Suivre votre demande : " + ticketLink}, []string{"Follow", "Hello"}},
		{Created, "en", nil, []string{"Hello Jean Dupont,", "We received your request. Its number is #12", "reply to this mail", "Follow your ticket: " + ticketLink}, []string{"Suivre", "Bonjour"}},
		{Solved, "fr", nil, []string{"Une solution vous est proposée", "Approuver : " + approveLink, "Refuser : " + refuseLink, "Replace the toner cartridge."}, nil},
		{Solved, "en", nil, []string{"A solution is proposed for your request #12", "Approve: " + approveLink, "Refuse: " + refuseLink}, nil},
		{Closed, "fr", nil, []string{"Votre ticket a été clos automatiquement après 7 jours sans réponse"}, nil},
		{Closed, "en", nil, []string{"Your ticket was closed automatically after 7 days without an answer"}, nil},
		{Closed, "fr", func(m *Mail) { m.Closing = ClosedPending }, []string{"Votre ticket a été clos automatiquement après 7 jours sans réponse à notre question"}, nil},
		{Closed, "fr", func(m *Mail) { m.Closing = ClosedApproved }, []string{"la solution a été approuvée"}, nil},
		{Closed, "en", func(m *Mail) { m.Closing = ClosedByAgent; m.Reason = "Duplicate of #11" }, []string{"closed by the team", "Reason: Duplicate of #11"}, nil},
		{Closed, "fr", func(m *Mail) { m.Closing = ClosedByThem }, []string{"comme vous l’avez demandé"}, nil},
		{Refused, "fr", nil, []string{"Votre refus de la solution proposée", "a bien été enregistré", "Which printer model is it?", "Le ticket retourne à l’équipe, qui vous répondra."}, nil},
		{Refused, "en", nil, []string{"Your refusal of the proposed solution", "is recorded", "Which printer model is it?", "goes back to the team, who will answer you"}, nil},
		{Reminder, "fr", nil, []string{"Nous attendons toujours votre réponse", "Which printer model is it?"}, nil},
		{Reminder, "en", nil, []string{"We are still waiting for your answer", "Which printer model is it?"}, nil},
		{Status, "fr", func(m *Mail) { m.ToCode = "assigned"; m.Ticket.Assignee = "Alice Martin" }, []string{"Votre demande #12 est en cours de traitement par Alice Martin."}, nil},
		{Status, "en", func(m *Mail) { m.ToCode = "assigned"; m.Ticket.Assignee = "" }, []string{"Your request #12 is being processed."}, nil},
		{Status, "en", func(m *Mail) { m.ToCode = "planned" }, []string{"is planned"}, nil},
		{Status, "fr", func(m *Mail) { m.ToCode = "planned" }, []string{"est planifié"}, nil},
		{Status, "fr", nil, []string{"l’équipe a besoin d’une réponse de votre part", "Which printer model is it?"}, []string{"Replace the toner"}},
		{Status, "en", func(m *Mail) { m.Reason = "" }, []string{"the team needs an answer from you", "Replace the toner cartridge."}, nil},
		{Status, "en", func(m *Mail) { m.ToCode = "reopened"; m.Reason = "It broke again" }, []string{"has been reopened", "Reason: It broke again"}, nil},
		{Status, "fr", func(m *Mail) { m.ToCode = "reopened"; m.Reason = "Panne revenue" }, []string{"a été rouverte", "Motif : Panne revenue"}, nil},
		{Digest, "en", nil, []string{"3 updates on your ticket #12:", "- 3 Mar 10:12 — New reply: Which model?", "- 3 Mar 11:40 — Solution proposed: Replace the toner."}, nil},
		{Digest, "fr", nil, []string{"3 mises à jour sur votre demande #12 :", "- 3 Mar 11:40 — Solution proposée : Replace the toner.", "- 3 Mar 12:00 — Changement de statut : Pending"}, nil},
		{Reply, "fr", nil, []string{"Vous avez reçu une réponse à votre demande #12.", "Alice Martin (3 Mar 2025 11:40) :", "- howto.pdf (12 KB)"}, nil},
		{Reply, "en", nil, []string{"You have a new answer on your request #12.", "Alice Martin (3 Mar 2025 11:40):", "Attachments:\n- howto.pdf (12 KB)"}, nil},
		{AgentNew, "en", nil, []string{"New ticket #12 from Jean Dupont.", "Requester: Jean Dupont <jean@client.example>", "Type: Incident", "Priority: High", "#assign me · #solve", "#internal", "Open the ticket: " + agentLink}, nil},
		{AgentNew, "fr", nil, []string{"Nouveau ticket #12 de Jean Dupont.", "Priorité : High", "#assign me", "Ouvrir le ticket : " + agentLink}, nil},
		{AgentNew, "en", func(m *Mail) { m.Links.Agent = "" }, []string{"New ticket"}, []string{"Open the ticket"}},
		{AgentFollowUp, "en", nil, []string{"Alice Martin wrote on ticket #12", "- howto.pdf (12 KB)"}, nil},
		{AgentRefused, "fr", nil, []string{"Jean Dupont a refusé la solution du ticket #12. Motif :", "Which printer model is it?"}, nil},
		{AgentApproved, "en", nil, []string{"Jean Dupont approved the solution of ticket #12"}, nil},
		{AgentFailure, "en", nil, []string{"could not be delivered", "Address: jean@client.example", "Status: 5.1.1", "Diagnostic: 550 5.1.1 user unknown", "Notification: Solution proposed (solved)"}, nil},
		{AgentFailure, "fr", nil, []string{"n’a pas pu être distribuée", "Adresse : jean@client.example", "Notification : Solution proposée (solved)"}, nil},
		{AgentEscalation, "en", nil, []string{"still unassigned after 4 hours"}, nil},
		{AgentEscalation, "fr", nil, []string{"n’est toujours pas attribué après 4 heures"}, nil},
	}
	for _, c := range cases {
		m := fullMail(c.kind, c.lang)
		if c.edit != nil {
			c.edit(&m)
		}
		r := render(t, m)
		for _, w := range c.want {
			if !strings.Contains(r.Text, w) {
				t.Errorf("%s/%s: text lacks %q:\n%s", c.lang, c.kind, w, r.Text)
			}
		}
		for _, w := range c.not {
			if strings.Contains(r.Text, w) {
				t.Errorf("%s/%s: text has %q:\n%s", c.lang, c.kind, w, r.Text)
			}
		}
	}

	// The HTML says the same things.
	r := render(t, fullMail(Solved, "fr"))
	for _, w := range []string{`lang="fr"`, "Une solution vous est proposée", ">Approuver</a>", ">Refuser</a>", ">Suivre votre demande</a>"} {
		if !strings.Contains(r.HTML, w) {
			t.Errorf("fr solved HTML lacks %q", w)
		}
	}
	r = render(t, fullMail(Solved, "en"))
	for _, w := range []string{`lang="en"`, ">Approve</a>", ">Refuse</a>", ">Follow your ticket</a>"} {
		if !strings.Contains(r.HTML, w) {
			t.Errorf("en solved HTML lacks %q", w)
		}
	}
	// Agent subjects carry a short label in the reader's language.
	for kind, want := range map[string]string{AgentNew: "— nouveau ticket", AgentFailure: "— échec de distribution", AgentRefused: "— solution refusée"} {
		if r := render(t, fullMail(kind, "fr")); !strings.HasSuffix(r.Subject, want) {
			t.Errorf("fr %s subject %q, want suffix %q", kind, r.Subject, want)
		}
	}
	if r := render(t, fullMail(AgentNew, "en")); r.Subject != "[#12] Printer broken — new ticket" {
		t.Errorf("en agent_new subject %q", r.Subject)
	}
}

func TestUnknownLangIsEnglish(t *testing.T) {
	for _, kind := range Kinds {
		en := render(t, fullMail(kind, "en"))
		for _, lang := range []string{"", "de", "xx-YY", "english"} {
			m := fullMail(kind, lang)
			if got := render(t, m); got != en {
				t.Errorf("%s in %q differs from English", kind, lang)
			}
		}
		fr := render(t, fullMail(kind, "fr"))
		for _, lang := range []string{"fr-CA", "FR", "fr_BE"} {
			if got := render(t, fullMail(kind, lang)); got != fr {
				t.Errorf("%s in %q differs from French", kind, lang)
			}
		}
	}
	page := renderPage(t, Page{Kind: PageError, Lang: "de", Error: ErrExpired})
	if !strings.Contains(page, `<html lang="en">`) || !strings.Contains(page, "This link has expired") {
		t.Errorf("page in an unknown language is not English:\n%s", page)
	}
}

func TestUnknownKind(t *testing.T) {
	s := set(t)
	if _, err := s.Mail(Mail{Kind: "bogus", Lang: "en"}); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("Mail(bogus) error = %v, want one naming the kind", err)
	}
	if _, err := s.Mail(Mail{Lang: "fr"}); err == nil {
		t.Errorf("Mail with no kind: no error")
	}
	var b bytes.Buffer
	if err := s.Page(&b, Page{Kind: "bogus"}); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("Page(bogus) error = %v", err)
	}
	if err := s.Page(&b, Page{Kind: PageAction, Action: "maybe"}); err == nil || !strings.Contains(err.Error(), `"maybe"`) {
		t.Errorf("Page(action maybe) error = %v", err)
	}
	if err := s.Page(&b, Page{Kind: PageResult}); err == nil {
		t.Errorf("Page(result, no action): no error")
	}
	if b.Len() != 0 {
		t.Errorf("a failed Page wrote %d bytes", b.Len())
	}
}

// allowedPageURL reports whether a page may point at u: a given link, or a path on the same site.
func allowedPageURL(u string, given []string) bool {
	if contains(given, u) {
		return true
	}
	return (strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//")) || strings.HasPrefix(u, "?")
}

func TestPages(t *testing.T) {
	given := []string{"https://support.example/t/12?sig=abc", "https://support.example/a/12?sig=def", "https://support.example/r/12?sig=ghi",
		"https://support.example/t/12?lang=fr", "https://support.example/t/12?lang=en", "https://support.example/files/1"}
	base := Page{
		Lang: "en", Brand: "Acme Helpdesk",
		Ticket: Ticket{Number: 12, Tag: "[#12]", Subject: "Printer broken", StatusName: "Solved", Type: "Incident", Priority: "High", Created: "3 Mar 2025"},
		Messages: []Message{
			{Author: Person{Name: "Jean Dupont"}, Time: "3 Mar 10:12", Text: "Blank pages.\nAll of them.", Attachments: []Attachment{{Name: "scan.pdf", Size: "120 KB", URL: given[5]}}},
			{Author: Person{Name: "Alice Martin"}, Staff: true, Time: "3 Mar 11:40", HTML: `<p>Replace the <b>toner</b>.</p>`},
		},
		Solution:   &Message{Author: Person{Name: "Alice Martin"}, Staff: true, Text: "Replace the toner."},
		Form:       given[1],
		ApproveURL: given[1], RefuseURL: given[2], TicketURL: given[0],
		Langs: []LangLink{{Lang: "en", URL: given[4]}, {Lang: "fr", URL: given[3]}},
	}
	for _, lang := range Langs {
		for _, p := range append(samplePages(lang), func() []Page {
			var out []Page
			for _, kind := range PageKinds {
				p := base
				p.Kind, p.Lang, p.CanAct, p.Action, p.Error = kind, lang, true, ActionRefuse, ErrStale
				out = append(out, p)
			}
			return out
		}()...) {
			name := lang + "/" + p.Kind + "/" + p.Action + "/" + p.Error
			var b bytes.Buffer
			if err := set(t).Page(&b, p); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			s := b.String()
			doc := checkDocument(t, s)
			if attr(find(doc, atom.Html), "lang") != lang {
				t.Errorf("%s: html lang is not %s", name, lang)
			}
			lower := strings.ToLower(s)
			for _, bad := range []string{"style=", "<style", "<script", "javascript:", " on"} {
				if bad == " on" {
					for _, n := range allElements(doc) {
						for _, a := range n.Attr {
							if strings.HasPrefix(a.Key, "on") {
								t.Errorf("%s: event handler %s", name, a.Key)
							}
						}
					}
					continue
				}
				if strings.Contains(lower, bad) {
					t.Errorf("%s: page contains %q", name, bad)
				}
			}
			vp := false
			for _, m := range findAll(doc, atom.Meta) {
				if attr(m, "name") == "viewport" {
					vp = true
				}
			}
			if !vp {
				t.Errorf("%s: no viewport meta", name)
			}
			links := findAll(doc, atom.Link)
			if len(links) != 1 || attr(links[0], "rel") != "stylesheet" || attr(links[0], "href") != "/static/guichet.css" {
				t.Errorf("%s: stylesheet link wrong", name)
			}
			for _, u := range hrefs(doc) {
				if !allowedPageURL(u, given) {
					t.Errorf("%s: page points at %q", name, u)
				}
			}
			for _, f := range findAll(doc, atom.Form) {
				if attr(f, "method") != "post" {
					t.Errorf("%s: form without method=post", name)
				}
				// Without an action a form posts to the page's own URL, which is what an empty Form means.
				if hasAttr(f, "action") && attr(f, "action") == "" || !hasAttr(f, "action") && p.Form != "" {
					t.Errorf("%s: form action %q, Form %q", name, attr(f, "action"), p.Form)
				}
				for _, ta := range findAll(f, atom.Textarea) {
					switch attr(ta, "name") {
					case "reason":
						if !hasAttr(ta, "required") {
							t.Errorf("%s: reason textarea not required", name)
						}
					case "comment":
						if hasAttr(ta, "required") {
							t.Errorf("%s: comment textarea required", name)
						}
					default:
						t.Errorf("%s: textarea named %q", name, attr(ta, "name"))
					}
					if id := attr(ta, "id"); id == "" || !labelled(doc, id) {
						t.Errorf("%s: textarea %q has no label", name, attr(ta, "name"))
					}
				}
				if len(findAll(f, atom.Button)) != 1 {
					t.Errorf("%s: form without one submit button", name)
				}
			}
			if len(p.Langs) > 0 {
				nav := find(doc, atom.Nav)
				if nav == nil || !strings.Contains(textOf(nav), "English") || !strings.Contains(textOf(nav), "Français") {
					t.Errorf("%s: no language switch", name)
				}
			}
		}
	}
}

func allElements(n *html.Node) []*html.Node {
	var out []*html.Node
	if n.Type == html.ElementNode {
		out = append(out, n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		out = append(out, allElements(c)...)
	}
	return out
}

func labelled(doc *html.Node, id string) bool {
	for _, l := range findAll(doc, atom.Label) {
		if attr(l, "for") == id {
			return true
		}
	}
	return false
}

func forms(t *testing.T, s string) []*html.Node {
	t.Helper()
	return findAll(checkDocument(t, s), atom.Form)
}

func TestTicketPage(t *testing.T) {
	for _, lang := range Langs {
		p := Page{Kind: PageTicket, Lang: lang,
			Ticket:   Ticket{Number: 12, Tag: "[#12]", Subject: "Printer broken", StatusName: "Résolu"},
			Messages: []Message{{Author: Person{Name: "Jean"}, Time: "10:12", Text: "Blank.", Attachments: []Attachment{{Name: "scan.pdf", Size: "120 KB", URL: "/f/1"}}}},
			Solution: &Message{Author: Person{Name: "Alice"}, Text: "Replace the toner."},
			CanAct:   true, ApproveURL: "/a/12", RefuseURL: "/r/12",
		}
		s := renderPage(t, p)
		for _, w := range []string{"#12", "Printer broken", "Résolu", "Jean", "10:12", "Blank.", `<a href="/f/1">scan.pdf</a>`, "120 KB", "Replace the toner.", `class="solution"`} {
			if !strings.Contains(s, w) {
				t.Errorf("%s ticket page lacks %q", lang, w)
			}
		}
		fs := forms(t, s)
		if len(fs) != 2 || attr(fs[0], "action") != "/a/12" || attr(fs[1], "action") != "/r/12" {
			t.Fatalf("%s: want the approve then refuse forms, got %d forms", lang, len(fs))
		}
		if ta := find(fs[0], atom.Textarea); ta == nil || attr(ta, "name") != "comment" || hasAttr(ta, "required") {
			t.Errorf("%s: approve form needs an optional comment", lang)
		}
		if ta := find(fs[1], atom.Textarea); ta == nil || attr(ta, "name") != "reason" || !hasAttr(ta, "required") {
			t.Errorf("%s: refuse form needs a required reason", lang)
		}

		p.CanAct = false
		if fs := forms(t, renderPage(t, p)); len(fs) != 0 {
			t.Errorf("%s: forms shown without CanAct", lang)
		}
		p.CanAct, p.Solution = true, nil
		if fs := forms(t, renderPage(t, p)); len(fs) != 0 {
			t.Errorf("%s: forms shown without a solution", lang)
		}
	}
}

func TestActionPage(t *testing.T) {
	want := map[string]map[string][]string{
		"en": {
			ActionApprove: {"Approve the solution", "Nothing happens until you press the button"},
			ActionRefuse:  {"Refuse the solution", "Nothing happens until you press the button"},
		},
		"fr": {
			ActionApprove: {"Approuver la solution", "Rien ne se passe tant que vous n’appuyez pas sur le bouton"},
			ActionRefuse:  {"Refuser la solution", "Rien ne se passe tant que vous n’appuyez pas sur le bouton"},
		},
	}
	for _, lang := range Langs {
		for _, action := range []string{ActionApprove, ActionRefuse} {
			p := Page{Kind: PageAction, Lang: lang, Action: action, Form: "/x/12?sig=1",
				Ticket:   Ticket{Number: 12, Tag: "[#12]", Subject: "Printer broken"},
				Solution: &Message{Author: Person{Name: "Alice"}, Text: "Replace the toner."}}
			s := renderPage(t, p)
			for _, w := range append(want[lang][action], "Replace the toner.", "[#12]") {
				if !strings.Contains(s, w) {
					t.Errorf("%s/%s: page lacks %q", lang, action, w)
				}
			}
			fs := forms(t, s)
			if len(fs) != 1 || attr(fs[0], "action") != "/x/12?sig=1" {
				t.Fatalf("%s/%s: want one form posting to Form", lang, action)
			}
			ta := find(fs[0], atom.Textarea)
			wantName := map[string]string{ActionApprove: "comment", ActionRefuse: "reason"}[action]
			if ta == nil || attr(ta, "name") != wantName || hasAttr(ta, "required") != (action == ActionRefuse) {
				t.Errorf("%s/%s: textarea wrong", lang, action)
			}
			if strings.Contains(s, `role="alert"`) {
				t.Errorf("%s/%s: error shown without Error", lang, action)
			}

			p.Error, p.Comment = ErrReasonRequired, "kept text"
			s = renderPage(t, p)
			doc := checkDocument(t, s)
			if ta := find(find(doc, atom.Form), atom.Textarea); ta == nil || textOf(ta) != "kept text" {
				t.Errorf("%s/%s: Comment not kept in the textarea", lang, action)
			}
			errAt, formAt := strings.Index(s, `role="alert"`), strings.Index(s, "<form")
			if errAt < 0 || errAt > formAt {
				t.Errorf("%s/%s: error not shown above the form", lang, action)
			}
		}
	}
}

func TestResultPage(t *testing.T) {
	want := map[string]map[string]string{
		"en": {ActionApprove: "The solution is approved and your ticket is closed. Thank you.",
			ActionRefuse: "Your refusal is recorded; the ticket goes back to the team, who will answer you."},
		"fr": {ActionApprove: "La solution est approuvée et votre ticket est clos. Merci !",
			ActionRefuse: "Votre refus a bien été enregistré ; le ticket retourne à l’équipe, qui vous répondra."},
	}
	for _, lang := range Langs {
		for _, action := range []string{ActionApprove, ActionRefuse} {
			s := renderPage(t, Page{Kind: PageResult, Lang: lang, Action: action, TicketURL: "/t/12?sig=1"})
			if !strings.Contains(s, want[lang][action]) || !strings.Contains(s, `href="/t/12?sig=1"`) {
				t.Errorf("%s/%s result page:\n%s", lang, action, s)
			}
			if len(forms(t, s)) != 0 {
				t.Errorf("%s/%s: result page has a form", lang, action)
			}
		}
	}
}

func TestErrorPage(t *testing.T) {
	want := map[string]map[string]string{
		"en": {
			ErrInvalid: "This link is not valid. Check that you copied it whole", ErrExpired: "This link has expired. Reply to the mail",
			ErrUsed: "This link was already used.", ErrStale: "This solution is no longer waiting for an answer",
			ErrNotFound: "We could not find this ticket.", ErrUnavailable: "Please try again in a moment.",
			ErrReasonRequired: "refusing it needs a reason", "": "This page cannot be shown.", "weird_internal": "This page cannot be shown.",
		},
		"fr": {
			ErrInvalid: "Ce lien n’est pas valide. Vérifiez que vous l’avez copié en entier", ErrExpired: "Ce lien a expiré. Répondez au message",
			ErrUsed: "Ce lien a déjà été utilisé.", ErrStale: "Cette solution n’attend plus de réponse",
			ErrNotFound: "Nous n’avons pas trouvé cette demande.", ErrUnavailable: "réessayer dans un instant.",
			ErrReasonRequired: "un refus doit être motivé", "": "Cette page ne peut pas être affichée.", "weird_internal": "Cette page ne peut pas être affichée.",
		},
	}
	for _, lang := range Langs {
		for code, w := range want[lang] {
			s := renderPage(t, Page{Kind: PageError, Lang: lang, Error: code})
			if !strings.Contains(s, w) {
				t.Errorf("%s/%q: page lacks %q:\n%s", lang, code, w, s)
			}
			if strings.Contains(code, "_") && strings.Contains(s, code) {
				t.Errorf("%s/%q: the code shows on the page", lang, code)
			}
			if len(forms(t, s)) != 0 {
				t.Errorf("%s/%q: error page has a form", lang, code)
			}
		}
	}
}

// writeOverride writes files (relative path → content) under a new temporary directory.
func writeOverride(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestOverride(t *testing.T) {
	dir := writeOverride(t, map[string]string{
		"mail/fr/created.txt": `{{define "subject"}}{{.Ticket.Tag}} {{.Ticket.Subject}}{{end}}
{{define "text"}}Bien reçu, c'est le numéro {{.Ticket.Number}}.

Suivre votre demande : {{.Links.Ticket}}{{end}}`,
		"web/en/result.html": `{{define "title"}}Done{{end}}{{define "main"}}<p>All done, custom.</p>{{end}}`,
		".DS_Store":          "ignored",
		".git/config":        "ignored",
	})
	s, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%s): %v", dir, err)
	}
	r, err := s.Mail(fullMail(Created, "fr"))
	if err != nil {
		t.Fatal(err)
	}
	if want := testMarker + "\n\nBien reçu, c'est le numéro 12.\n\nSuivre votre demande : " + ticketLink + "\n"; r.Text != want {
		t.Errorf("overridden text = %q, want %q", r.Text, want)
	}
	if def := render(t, fullMail(Created, "fr")); r.HTML != def.HTML || r.Subject != def.Subject {
		t.Errorf("overriding created.txt changed the HTML or the subject")
	}
	for _, m := range []Mail{fullMail(Created, "en"), fullMail(Reply, "fr"), fullMail(Solved, "fr")} {
		got, err := s.Mail(m)
		if err != nil {
			t.Fatal(err)
		}
		if got != render(t, m) {
			t.Errorf("overriding mail/fr/created.txt changed %s/%s", m.Lang, m.Kind)
		}
	}
	var b bytes.Buffer
	if err := s.Page(&b, Page{Kind: PageResult, Lang: "en", Action: ActionApprove}); err != nil || !strings.Contains(b.String(), "All done, custom.") {
		t.Errorf("overridden page: %v\n%s", err, b.String())
	}
	b.Reset()
	if err := s.Page(&b, Page{Kind: PageResult, Lang: "fr", Action: ActionApprove}); err != nil || strings.Contains(b.String(), "custom") {
		t.Errorf("overriding web/en/result.html changed the French page")
	}
}

// embeddedFile is the content of an embedded template.
func embeddedFile(t *testing.T, p string) string {
	t.Helper()
	b, err := embedded.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOverrideBroken(t *testing.T) {
	okText := `{{define "subject"}}{{.Ticket.Tag}} {{.Ticket.Subject}}{{end}}{{define "text"}}Hi {{.Links.Ticket}}{{end}}`
	cases := []struct {
		name, file, content string
		want                []string
	}{
		{"syntax", "mail/fr/created.txt", `{{define "subject"}}{{.Ticket.Tag}{{end}}`, []string{"mail/fr/created.txt:1"}},
		{"unclosed", "mail/en/reply.html", `{{define "body"}}{{if .Message}}<p>x</p>{{end}}`, []string{"mail/en/reply.html"}},
		{"undefined field", "mail/fr/created.txt", `{{define "subject"}}{{.Ticket.Tag}} {{.Ticket.Subject}}{{end}}{{define "text"}}{{.Ticket.Nope}}{{end}}`, []string{"mail/fr/created.txt", "Nope"}},
		{"undefined field in a branch", "mail/en/solved.html", `{{define "body"}}{{if .Links.Approve}}{{.Links.Aprove}}{{end}}{{end}}`, []string{"mail/en/solved.html", "Aprove"}},
		{"undefined field in a minimal branch", "mail/en/status.txt", `{{define "subject"}}{{.Ticket.Tag}} {{.Ticket.Subject}}{{end}}{{define "text"}}{{if not .Message}}{{.Mesage}}{{end}}{{.Links.Ticket}}{{end}}`, []string{"mail/en/status.txt", "Mesage"}},
		{"undefined function", "web/fr/error.html", `{{define "title"}}x{{end}}{{define "main"}}{{shout .Error}}{{end}}`, []string{"web/fr/error.html", "shout"}},
		{"missing define", "mail/en/digest.txt", `{{define "subject"}}{{.Ticket.Tag}} {{.Ticket.Subject}}{{end}}`, []string{"mail/en/digest.txt", `"text"`}},
		{"missing body", "mail/fr/closed.html", `{{define "bodie"}}x{{end}}`, []string{"mail/fr/closed.html", `"body"`}},
		{"subject without tag", "mail/en/created.txt", `{{define "subject"}}Thanks{{end}}{{define "text"}}{{.Links.Ticket}}{{end}}`, []string{"mail/en/created.txt", "does not start with"}},
		{"no ticket link", "mail/fr/reply.txt", `{{define "subject"}}{{.Ticket.Tag}} {{.Ticket.Subject}}{{end}}{{define "text"}}Réponse.{{end}}`, []string{"mail/fr/reply.txt", "link to the ticket"}},
		{"inline style on a page", "web/en/ticket.html", `{{define "title"}}x{{end}}{{define "main"}}<p style="color:red">x</p>{{end}}`, []string{"web/en/ticket.html", "style="}},
		{"script on a page", "web/layout.html", `{{define "page"}}<html><body><script>x()</script>{{template "title" .}}{{template "main" .}}</body></html>{{end}}`, []string{"web/layout.html", "<script"}},
		{"layout without marker", "mail/layout.html", `{{define "html"}}<html>{{template "body" .}}</html>{{end}}`, []string{"mail/layout.html", "marker"}},
		{"escaping error", "mail/en/reply.html", `{{define "body"}}<a href="{{.Links.Ticket}}>{{end}}`, []string{"mail/en/reply.html"}},
		{"shared blocks missing", "mail/en/common.txt", `{{define "message"}}{{.Text}}{{end}}`, []string{"mail/en/common.txt", `"greeting" not defined`}},
		{"shared block broken", "web/fr/common.html", strings.Replace(embeddedFile(t, "web/fr/common.html"), `<nav class="langs"`, `{{.Langz}}<nav class="langs"`, 1), []string{"web/fr/common.html", "Langz"}},
		{"unknown file", "mail/fr/creatd.txt", okText, []string{"mail/fr/creatd.txt", "no embedded template"}},
		{"static file", "static/guichet.css", "body{}", []string{"static/guichet.css", "cannot be overridden"}},
		{"unknown language", "mail/de/created.txt", okText, []string{"mail/de/created.txt"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeOverride(t, map[string]string{c.file: c.content})
			s, err := Load(dir)
			if err == nil {
				t.Fatalf("Load accepted a broken %s", c.file)
			}
			if s != nil {
				t.Errorf("Load returned a set with its error")
			}
			msg := err.Error()
			for _, w := range append(c.want, filepath.Join(dir, filepath.FromSlash(c.file))) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Errorf("Load accepted a missing directory")
	}
}

func TestStatic(t *testing.T) {
	b, err := fs.ReadFile(Static(), "guichet.css")
	if err != nil {
		t.Fatal(err)
	}
	css := string(b)
	for _, w := range []string{".button", ".approve", ".refuse", "textarea", "@media"} {
		if !strings.Contains(css, w) {
			t.Errorf("guichet.css lacks %q", w)
		}
	}
	for _, bad := range []string{"@import", "url(", "http:", "https:"} {
		if strings.Contains(css, bad) {
			t.Errorf("guichet.css loads something from elsewhere: %q", bad)
		}
	}
	if _, err := fs.Stat(Static(), "mail"); err == nil {
		t.Errorf("Static exposes the templates")
	}
}

func TestSummary(t *testing.T) {
	if got := Summary(Solved, "en"); got != "Solution proposed" {
		t.Errorf("Summary(solved, en) = %q", got)
	}
	if got := Summary(Solved, "fr"); got != "Solution proposée" {
		t.Errorf("Summary(solved, fr) = %q", got)
	}
	if got := Summary(Solved, "it"); got != "Solution proposed" {
		t.Errorf("Summary(solved, it) = %q", got)
	}
	if got := Summary("bogus", "fr"); got != "bogus" {
		t.Errorf("Summary(bogus) = %q", got)
	}
	for _, lang := range Langs {
		for _, kind := range Kinds {
			s := Summary(kind, lang)
			if s == "" || s == kind || strings.ContainsAny(s, "\r\n") {
				t.Errorf("Summary(%s, %s) = %q", kind, lang, s)
			}
		}
	}
}

func TestSubjectOneLine(t *testing.T) {
	m := fullMail(Reply, "en")
	m.Ticket.Subject = "  Printer\r\nBcc: evil@example.com\tbroken  "
	r := render(t, m)
	if r.Subject != "[#12] Printer Bcc: evil@example.com broken" {
		t.Errorf("subject = %q", r.Subject)
	}
	m.Marker = "line one\r\nline two"
	if r := render(t, m); !strings.HasPrefix(r.Text, "line one line two\n\n") {
		t.Errorf("a marker with a line break is not one line: %.40q", r.Text)
	}
}

func TestConcurrentRendering(t *testing.T) {
	s := set(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, kind := range Kinds {
				if _, err := s.Mail(fullMail(kind, Langs[i%2])); err != nil {
					t.Error(err)
				}
			}
			if err := s.Page(io.Discard, Page{Kind: PageError, Lang: Langs[i%2], Error: ErrUsed}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

// FuzzBreaks checks that breaks renders what the per-line range it replaced rendered.
func FuzzBreaks(f *testing.F) {
	for _, s := range []string{"", "one", "a\r\nb\rc\nd", "\n\n<b>x</b> & 'y' + \"z\"\n\n", "x\x00y", "\n \n", "é\u2028ü"} {
		f.Add(s)
	}
	old := htemplate.Must(htemplate.New("").Funcs(funcs).Parse(`{{range $i, $l := lines .}}{{if $i}}<br>{{end}}{{$l}}{{end}}`))
	now := htemplate.Must(htemplate.New("").Funcs(funcs).Parse(`{{breaks .}}`))
	f.Fuzz(func(t *testing.T, s string) {
		var a, b strings.Builder
		if err := old.Execute(&a, s); err != nil {
			t.Skip()
		}
		if err := now.Execute(&b, s); err != nil {
			t.Fatal(err)
		}
		if a.String() != b.String() {
			t.Fatalf("breaks(%q) = %q, the range gave %q", s, b.String(), a.String())
		}
	})
}

// cleanTextLines is cleanText as it was first written, line by line: the reference the one-pass
// version is checked against.
func cleanTextLines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var out []string
	blank := true // drops the blank lines at the start
	for l := range strings.SplitSeq(s, "\n") {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			if blank {
				continue
			}
			blank = true
		} else {
			blank = false
		}
		out = append(out, l)
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n") + "\n"
}

// FuzzCleanText checks cleanText against cleanTextLines.
func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"", "\n", "a", "\n\n a \t\n\n\nb\r\n\r\n", " \t\n", "a\rb\r\rc  ", "x\n\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := cleanText(s), cleanTextLines(s); got != want {
			t.Fatalf("cleanText(%q) = %q, want %q", s, got, want)
		}
	})
}
