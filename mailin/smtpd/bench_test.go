package smtpd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type discardDeliverer struct{}

func (discardDeliverer) Deliver(context.Context, []byte, Envelope) error { return nil }

// BenchmarkSMTP sends 4 KB messages over 8 connections to a deliverer that discards them. It
// reports messages per second and the p50/p99 latency, measured by the client, from the moment
// the end of DATA (".") has been written to the arrival of the 250.
func BenchmarkSMTP(b *testing.B) {
	const conns = 8
	o := testOptions(b)
	o.Logger = nil
	o.MaxMsgsPerIPPerMinute = -1
	_, addr := startServer(b, discardDeliverer{}, o, nil)

	body := testMessage("bench@test")
	body += strings.Repeat(strings.Repeat("x", 78)+"\r\n", (4096-len(body))/80)
	data := []byte(body + ".\r\n") // no line starts with a dot: no stuffing needed

	clients := make([]*benchClient, conns)
	for i := range clients {
		clients[i] = dialBench(b, addr)
	}

	var next atomic.Int64
	latencies := make([][]time.Duration, conns)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				d, err := c.send(data)
				if err != nil {
					b.Error(err)
					return
				}
				latencies[i] = append(latencies[i], d)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()

	all := slices.Concat(latencies...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(all[len(all)*50/100].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[min(len(all)*99/100, len(all)-1)].Microseconds()), "p99-µs")
}

// benchClient speaks SMTP line by line, so that the time of the final dot is known exactly.
type benchClient struct {
	conn net.Conn
	r    *textproto.Reader
}

func dialBench(b *testing.B, addr string) *benchClient {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	c := &benchClient{conn: conn, r: textproto.NewReader(bufio.NewReader(conn))}
	if _, _, err := c.r.ReadResponse(220); err != nil {
		b.Fatal(err)
	}
	if err := c.cmd("EHLO bench.test\r\n", 250); err != nil {
		b.Fatal(err)
	}
	return c
}

func (c *benchClient) cmd(line string, code int) error {
	if _, err := io.WriteString(c.conn, line); err != nil {
		return err
	}
	if _, msg, err := c.r.ReadResponse(code); err != nil {
		return fmt.Errorf("%q: %w (%s)", strings.TrimSpace(line), err, msg)
	}
	return nil
}

func (c *benchClient) send(data []byte) (time.Duration, error) {
	c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if err := c.cmd("MAIL FROM:<a@client.example>\r\n", 250); err != nil {
		return 0, err
	}
	if err := c.cmd("RCPT TO:<support@support.example>\r\n", 250); err != nil {
		return 0, err
	}
	if err := c.cmd("DATA\r\n", 354); err != nil {
		return 0, err
	}
	if _, err := c.conn.Write(data); err != nil {
		return 0, err
	}
	sent := time.Now()
	if _, msg, err := c.r.ReadResponse(250); err != nil {
		return 0, fmt.Errorf("end of DATA: %w (%s)", err, msg)
	}
	return time.Since(sent), nil
}
