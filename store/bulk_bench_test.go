package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"guichet/internal/testdb"
	"guichet/ticket"
)

// BenchmarkDeliverBulk is the group commit's statement under the SMTP benchmark's load, alone:
// batches of 4 plain new tickets of 4 KB from distinct senders, each with its acknowledgement
// and its escalation timer, on PostgreSQL (GUICHET_TEST_POSTGRES). ns/op is a batch; pg-µs/msg
// is the CPU that PostgreSQL's processes spent a message, which the whole benchmark cannot
// tell apart from its noise.
//
//	GUICHET_TEST_POSTGRES=… go test ./store -run '^$' -bench DeliverBulk -benchtime 2000x
func BenchmarkDeliverBulk(b *testing.B) {
	s := mustOpen(b, postgresDSN(b), nil)
	s.SetTimerPolicy(ticket.TimerPolicy{EscalateAfter: 4 * time.Hour})
	s.SetPlanner(func(n Notice) []Notification {
		return []Notification{{Kind: "created", To: n.Ticket.Requester, Role: ticket.RoleRequester,
			Message: n.Message.ID, MessageID: fmt.Sprintf("ack.%d@guichet.example", n.Ticket.Number)}}
	})
	ctx := context.Background()
	body := strings.Repeat("A line of the message, as long as the benchmark's, in plain text.\r\n", 58)
	const size = 4
	k := 0
	batch := func() {
		ins := make([]*ticket.Inbound, size)
		for i := range ins {
			k++
			id := fmt.Sprintf("%d.bench@client.example", k)
			from := fmt.Sprintf("sender%d@client.example", k)
			raw := "From: <" + from + ">\r\nMessage-ID: <" + id + ">\r\nSubject: Printer " + id + "\r\n\r\n" + body
			ins[i] = &ticket.Inbound{Raw: []byte(raw), Dedup: "mid:" + id, MessageID: id, Received: time.Now(), Kind: "new", Notify: true,
				Create: &ticket.NewTicket{Subject: "Printer " + id, Requester: ticket.Person{Address: from}, Channel: ticket.ChannelEmail},
				Actor:  ticket.Actor{Role: ticket.RoleRequester, Address: from},
				Action: ticket.Action{Kind: ticket.ActMessage, Text: body, MessageID: id}}
		}
		if _, errs := s.DeliverBatch(ctx, ins, ticket.DefaultPolicy()); errs[0] != nil {
			b.Fatal(errs[0])
		}
	}
	batch() // learns the counter: the batches after go in one statement
	b.ResetTimer()
	pg0 := testdb.PostgresCPU()
	for range b.N {
		batch()
	}
	b.StopTimer()
	b.ReportMetric(float64((testdb.PostgresCPU()-pg0).Microseconds())/float64(b.N*size), "pg-µs/msg")
	if n := s.oneStatement.Load(); n < int64(b.N) {
		b.Errorf("%d of %d batches in one statement", n, b.N)
	}
}
