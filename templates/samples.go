package templates

import "html/template"

// The sample data Load renders every template with. Each kind is rendered with every field set
// (and each of its variants: status codes, ways of closing, roles), then with the optional
// fields empty, so that most branches of a template run at least once.

// sampleMarker is the reply marker of the samples.
const sampleMarker = "## Reply above this line / Répondez au-dessus de cette ligne ##"

// sampleMessage is a full message: text, HTML and two attachments.
func sampleMessage(staff bool) *Message {
	m := &Message{
		Author: Person{Name: "Jean Dupont", Address: "jean@client.example"},
		Time:   "3 Mar 2025 10:12",
		Text:   "Since this morning every page comes out blank.\n\nI tried another tray.",
		HTML:   template.HTML("<p>Since this morning every page comes out <b>blank</b>.</p>"),
		Attachments: []Attachment{
			{Name: "scan.pdf", Size: "120 KB"},
			{Name: "photo.jpg", Size: "2.1 MB"},
		},
	}
	if staff {
		m.Author = Person{Name: "Alice Martin", Address: "alice@support.example"}
		m.Staff = true
		m.Text = "Replace the toner cartridge."
		m.HTML = ""
	}
	return m
}

// sampleTicket is the ticket of the samples.
func sampleTicket() Ticket {
	return Ticket{
		Number: 12, Tag: "[#12]", Subject: "The printer prints blank pages",
		Status: "solved", StatusName: "Solved", Priority: "Normal", Type: "Incident",
		Requester: Person{Name: "Jean Dupont", Address: "jean@client.example"},
		Assignee:  "Alice Martin", Created: "3 Mar 2025 10:12",
	}
}

// sampleMails lists the samples of every mail kind in lang.
func sampleMails(lang string) []Mail {
	var out []Mail
	for _, kind := range Kinds {
		full := Mail{
			Kind: kind, Lang: lang, Brand: "Acme Helpdesk",
			Recipient: Person{Name: "Jean Dupont", Address: "jean@client.example"},
			Role:      "requester",
			Ticket:    sampleTicket(),
			Message:   sampleMessage(kind == Reply || kind == Solved || kind == Status || kind == Reminder),
			From:      "New", To: "Pending", ToCode: "pending",
			Reason:  "Which printer model is it?",
			Closing: ClosedAuto,
			Days:    7,
			Hours:   4,
			Links: Links{
				Ticket:  "https://support.example/t/12?sig=abc",
				Approve: "https://support.example/a/12?sig=def",
				Refuse:  "https://support.example/r/12?sig=ghi",
				Agent:   "https://support.example/agent/12",
			},
			Updates: []Update{
				{Kind: Reply, Time: "3 Mar 10:12", Summary: "Which printer model is it?"},
				{Kind: Solved, Time: "3 Mar 11:40", Summary: "Replace the toner cartridge."},
			},
			Failure: &Failure{Address: "jean@client.example", Status: "5.1.1", Diagnostic: "550 5.1.1 user unknown", Kind: Solved},
			Marker:  sampleMarker,
		}
		if !isRequesterKind(kind) {
			full.Recipient = Person{Name: "Alice Martin", Address: "alice@support.example"}
			full.Role = "agent"
		}
		minimal := Mail{
			Kind: kind, Lang: lang, Role: full.Role,
			Ticket: Ticket{Number: 12, Tag: "[#12]", Subject: "The printer prints blank pages"},
		}
		switch kind {
		case Status:
			for _, code := range []string{"assigned", "planned", "pending", "reopened", "solved"} {
				m := full
				m.ToCode = code
				out = append(out, m)
				m.Reason = "" // pending without Reason asks the Message
				out = append(out, m)
			}
		case Closed:
			for _, how := range []string{ClosedApproved, ClosedByAgent, ClosedAuto, ClosedPending, ClosedByThem, ""} {
				m := full
				m.Closing = how
				out = append(out, m)
			}
		case Created, Solved:
			participant := full
			participant.Role = "participant"
			participant.Recipient = Person{Name: "Paul Durand", Address: "paul@client.example"}
			participant.Links.Approve, participant.Links.Refuse = "", ""
			out = append(out, full, participant)
		default:
			out = append(out, full)
		}
		out = append(out, minimal)
	}
	return out
}

// samplePages lists the samples of every page kind in lang.
func samplePages(lang string) []Page {
	msgs := []Message{*sampleMessage(false), *sampleMessage(true)}
	msgs[0].Attachments[0].URL = "/t/12/files/1?sig=abc"
	base := Page{
		Lang: lang, Brand: "Acme Helpdesk", Ticket: sampleTicket(),
		Messages: msgs, Solution: sampleMessage(true),
		Form: "/a/12?sig=def", ApproveURL: "/a/12?sig=def", RefuseURL: "/r/12?sig=ghi", TicketURL: "/t/12?sig=abc",
		Langs: []LangLink{{Lang: "en", URL: "?lang=en"}, {Lang: "fr", URL: "?lang=fr"}},
	}
	var out []Page
	add := func(p Page) { out = append(out, p) }

	p := base
	p.Kind, p.CanAct = PageTicket, true
	add(p)
	p.CanAct, p.Error = false, ErrReasonRequired
	add(p)
	add(Page{Kind: PageTicket, Lang: lang})

	for _, action := range []string{ActionApprove, ActionRefuse} {
		p := base
		p.Kind, p.Action = PageAction, action
		add(p)
		p.Error, p.Comment = ErrReasonRequired, "It still prints blank pages."
		add(p)
		add(Page{Kind: PageAction, Lang: lang, Action: action})
		p = base
		p.Kind, p.Action = PageResult, action
		add(p)
		add(Page{Kind: PageResult, Lang: lang, Action: action})
	}
	for _, code := range []string{ErrInvalid, ErrExpired, ErrUsed, ErrStale, ErrReasonRequired, ErrNotFound, ErrUnavailable, ""} {
		p := base
		p.Kind, p.Error = PageError, code
		add(p)
		add(Page{Kind: PageError, Lang: lang, Error: code})
	}
	return out
}
