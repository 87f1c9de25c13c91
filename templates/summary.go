package templates

// summaries are the one-line descriptions of the mail kinds, in English and French.
var summaries = map[string][2]string{
	Created:         {"Request received", "Demande enregistrée"},
	Reply:           {"New reply", "Nouvelle réponse"},
	Status:          {"Status changed", "Changement de statut"},
	Solved:          {"Solution proposed", "Solution proposée"},
	Closed:          {"Ticket closed", "Ticket clos"},
	Refused:         {"Solution refused", "Solution refusée"},
	Reminder:        {"Reminder", "Relance"},
	Digest:          {"Updates", "Mises à jour"},
	AgentNew:        {"New ticket", "Nouveau ticket"},
	AgentFollowUp:   {"New message", "Nouveau message"},
	AgentRefused:    {"Solution refused", "Solution refusée"},
	AgentApproved:   {"Solution approved", "Solution approuvée"},
	AgentFailure:    {"Delivery failure", "Échec de distribution"},
	AgentEscalation: {"Still unassigned", "Toujours non attribué"},
}

// Summary is a one-line description of a mail kind in a language, for digests and logs
// ("Solution proposed" / "Solution proposée"). An unknown lang gives English; an unknown kind
// gives the kind itself.
func Summary(kind, lang string) string {
	s, ok := summaries[kind]
	if !ok {
		return kind
	}
	if normLang(lang) == "fr" {
		return s[1]
	}
	return s[0]
}

// langName is a language's name in that language, for the language switch.
func langName(lang string) string {
	switch lang {
	case "en":
		return "English"
	case "fr":
		return "Français"
	}
	return lang
}
