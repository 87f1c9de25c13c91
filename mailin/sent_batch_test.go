package mailin_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"guichet/mailin"
	"guichet/store"
	"guichet/ticket"
)

func TestSentFolderReply(t *testing.T) {
	f := newFixture(t, nil)
	f.ingest(customerMail("c1@client.example", "Help", "x"))
	sent := mail([]string{"From: Support <support@support.example>", "To: jean@client.example", "Subject: Re: Help",
		"Message-ID: <s1@support.example>", "In-Reply-To: <c1@client.example>"}, "#status pending\nWhich model?\n\nOn Sun, Nov 22, 2026 at 9:00 AM Jean <jean@client.example> wrote:\n> x\n")
	a, d, err := f.p.Ingest(context.Background(), []byte(sent), &mailin.Envelope{Source: "imap", Sent: true, Agent: "alice@support.example"})
	if err != nil {
		t.Fatal(err)
	}
	tk, ms, _ := f.ticket(1)
	if a.Kind != mailin.KindFollowUp || d.Number != 1 || tk.Status != ticket.StatusPending {
		t.Fatalf("sent reply: kind %s, %+v, status %s", a.Kind, d, tk.Status)
	}
	if m := ms[len(ms)-1]; m.Author.Address != "alice@support.example" || m.Author.Role != ticket.RoleAgent || m.Visibility != ticket.Public || m.Text != "Which model?" {
		t.Errorf("the staff message: %+v", m)
	}
	// A technician's own mail, on no ticket: kept, no ticket opened.
	other := mail([]string{"From: alice@support.example", "To: friend@example.com", "Subject: lunch", "Message-ID: <s2@support.example>"}, "Lunch?")
	a, d, err = f.p.Ingest(context.Background(), []byte(other), &mailin.Envelope{Source: "imap", Sent: true})
	if err != nil || a.Kind != mailin.KindSent || d.Created || d.Number != 0 || d.Duplicate {
		t.Errorf("unthreaded sent mail: %s %+v %v", a.Kind, d, err)
	}
}

func TestBatcherConcurrent(t *testing.T) {
	f := newFixture(t, func(c *mailin.Config) { c.FloodLimit = 0 })
	b := mailin.NewBatcher(f.s, ticket.DefaultPolicy(), 64)
	defer b.Close()
	p := mailin.New(f.cfg, f.signer, &mailin.Options{Store: mailin.Batched(f.s, b)})
	const workers, each = 8, 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := map[int64]bool{}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				raw := customerMail(fmt.Sprintf("%d-%d@client.example", w, i), fmt.Sprintf("w%d m%d", w, i), "x",
					fmt.Sprintf("X-Sender-Index: %d", i))
				raw = "From: " + fmt.Sprintf("user%d-%d@client.example", w, i) + "\r\n" + raw[len("From: Jean Dupont <jean@client.example>\r\n"):]
				// Every message is delivered twice at once, as a retrying sender might: stored once.
				var inner sync.WaitGroup
				for range 2 {
					inner.Add(1)
					go func() {
						defer inner.Done()
						_, d, err := p.Ingest(context.Background(), []byte(raw), &mailin.Envelope{Source: "test"})
						if err != nil {
							t.Error(err)
							return
						}
						if d.Created {
							mu.Lock()
							if created[d.Number] {
								t.Errorf("ticket %d created twice", d.Number)
							}
							created[d.Number] = true
							mu.Unlock()
						}
					}()
				}
				inner.Wait()
			}
		}()
	}
	wg.Wait()
	all, _ := f.s.Tickets(context.Background(), store.Filter{})
	if len(all) != workers*each || len(created) != workers*each {
		t.Errorf("%d tickets, %d created, want %d", len(all), len(created), workers*each)
	}
}
