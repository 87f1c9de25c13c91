package mailout

import (
	"strings"
	"testing"
	"time"

	gomail "github.com/emersion/go-message/mail"

	"guichet/templates"
)

// BenchmarkAcknowledgement renders the acknowledgement of a new ticket that quotes a 4 KB
// message — the benchmark's — from the templates, then builds its MIME message: what each
// acknowledgement costs before it is written anywhere.
//
//	go test ./mailout -run '^$' -bench BenchmarkAcknowledgement -benchmem
func BenchmarkAcknowledgement(b *testing.B) {
	set, err := templates.Load("")
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat("The printer on the second floor prints blank pages since this morning, again.\n", 50)
	who := templates.Person{Name: "Jean Dupont", Address: "jean@client.example"}
	m := templates.Mail{Kind: templates.Created, Lang: "en", Brand: "Support", Role: "requester", Recipient: who,
		Ticket:  templates.Ticket{Number: 12, Tag: "[#12]", Subject: "benchmark 12", Requester: who},
		Message: &templates.Message{Author: who, Text: text},
		Links:   templates.Links{Ticket: "https://support.example/t/12?sig=abcdefabcdefabcdefabcdef"}, Marker: "## Reply above this line ##"}
	b.Run("templates", func(b *testing.B) {
		for b.Loop() {
			if _, err := set.Mail(m); err != nil {
				b.Fatal(err)
			}
		}
	})
	out, err := set.Mail(m)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("build", func(b *testing.B) {
		for b.Loop() {
			if _, err := Build(Message{From: gomail.Address{Name: "Support", Address: "noreply@example.com"}, To: gomail.Address{Name: who.Name, Address: who.Address},
				ReplyTo: "support+12.abc@example.com", Subject: out.Subject, Date: time.Now(), MessageID: "abc.12@example.com",
				InReplyTo: "first@client.example", References: []string{"root.12@example.com", "first@client.example"},
				ThreadTopic: "benchmark 12", ThreadIndex: "AQHZabcdefabcdefabcdef", Loop: "abc", Lang: "en", Text: out.Text, HTML: out.HTML}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
