package smtpd

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// countingDeliverer counts deliveries by Message-ID.
type countingDeliverer struct {
	mu   sync.Mutex
	seen map[string]int
}

func (c *countingDeliverer) Deliver(_ context.Context, raw []byte, _ Envelope) error {
	id := messageID(raw)
	c.mu.Lock()
	c.seen[id]++
	c.mu.Unlock()
	return nil
}

func TestConcurrentClients(t *testing.T) {
	const clients, perClient = 8, 200
	d := &countingDeliverer{seen: make(map[string]int)}
	o := testOptions(t)
	o.Logger = nil // 1600 messages: keep the test output short
	o.MaxMsgsPerIPPerMinute = -1
	_, addr := startServer(t, d, o, nil)

	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Go(func() {
			c := dial(t, addr)
			for j := range perClient {
				id := fmt.Sprintf("%d.%d@concurrency.test", i, j)
				if err := send(c, "a@client.example", []string{"support@support.example"}, testMessage(id)); err != nil {
					errs <- fmt.Errorf("client %d message %d: %w", i, j, err)
					return
				}
			}
			if err := c.Quit(); err != nil {
				errs <- fmt.Errorf("client %d: QUIT: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	if got := len(d.seen); got != clients*perClient {
		t.Errorf("got %d distinct messages, want %d", got, clients*perClient)
	}
	for id, n := range d.seen {
		if n != 1 {
			t.Errorf("%s: delivered %d times, want once", id, n)
		}
	}
}
