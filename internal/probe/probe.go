// Package probe measures reachability over time with ICMP echo: a probe
// every interval, each reply matched to its probe by sequence number, so a
// run reports probes lost, duplicate replies and the longest silence. It is
// what kvnet's migration tests and benchmarks use to show packet loss around
// a live migration.
package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Result of one probing run.
type Result struct {
	Target     string  `json:"target"`
	IntervalMs float64 `json:"intervalMs"`
	Sent       int     `json:"sent"`
	Received   int     `json:"received"` // distinct probes answered
	Lost       int     `json:"lost"`
	Duplicates int     `json:"duplicates"` // extra replies to an already answered probe
	// MaxGapMs is the longest time between the send times of two
	// consecutive answered probes (one interval when nothing is lost).
	MaxGapMs float64 `json:"maxGapMs"`
	// LostAt lists when lost probes were sent, in ms from Start.
	LostAt []float64 `json:"lostAtMs,omitempty"`
	// Start is when the first probe was sent (wall clock), so LostAt can be
	// laid beside the logs of the daemons.
	Start time.Time `json:"start"`
}

// ICMP sends an echo request to dst every interval until ctx ends or
// duration passes, then waits up to linger for late replies. It needs a raw
// ICMP socket (root or CAP_NET_RAW) in the caller's network namespace.
func ICMP(ctx context.Context, dst netip.Addr, interval, duration, linger time.Duration) (Result, error) {
	network, proto, reqType := "ip4:icmp", 1, icmp.Type(ipv4.ICMPTypeEcho)
	if dst.Is6() {
		network, proto, reqType = "ip6:ipv6-icmp", 58, ipv6.ICMPTypeEchoRequest
	}
	conn, err := icmp.ListenPacket(network, "")
	if err != nil {
		return Result{}, fmt.Errorf("open ICMP socket: %w", err)
	}
	defer conn.Close()
	id := os.Getpid() & 0xffff
	res := Result{Target: dst.String(), IntervalMs: ms(interval)}
	var mu sync.Mutex
	sentAt := map[int]time.Time{}
	answered := map[int]bool{}
	start := time.Now()
	res.Start = start
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					select {
					case <-ctx.Done():
						return
					default:
					}
					mu.Lock()
					finished := res.Sent > 0 && time.Since(start) > duration+linger
					mu.Unlock()
					if finished {
						return
					}
					continue
				}
				return
			}
			m, err := icmp.ParseMessage(proto, buf[:n])
			if err != nil {
				continue
			}
			echo, ok := m.Body.(*icmp.Echo)
			if !ok || echo.ID != id || (m.Type != ipv4.ICMPTypeEchoReply && m.Type != ipv6.ICMPTypeEchoReply) {
				continue
			}
			mu.Lock()
			if _, ours := sentAt[echo.Seq]; ours {
				if answered[echo.Seq] {
					res.Duplicates++
				}
				answered[echo.Seq] = true
			}
			mu.Unlock()
		}
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	dstAddr := &net.IPAddr{IP: dst.AsSlice()}
	for seq := 0; time.Since(start) < duration; seq++ {
		msg := icmp.Message{Type: reqType, Body: &icmp.Echo{ID: id, Seq: seq & 0xffff, Data: []byte("kvnet-probe")}}
		b, _ := msg.Marshal(nil)
		mu.Lock()
		sentAt[seq&0xffff] = time.Now()
		res.Sent++
		mu.Unlock()
		if _, err := conn.WriteTo(b, dstAddr); err != nil {
			// A send error (no route during a cut-over) is a lost probe, not a failure.
			_ = err
		}
		select {
		case <-ctx.Done():
			duration = 0
		case <-tick.C:
		}
	}
	<-done
	mu.Lock()
	defer mu.Unlock()
	var last time.Time
	for seq := 0; seq < res.Sent; seq++ {
		t := sentAt[seq&0xffff]
		if !answered[seq&0xffff] {
			res.Lost++
			res.LostAt = append(res.LostAt, ms(t.Sub(start)))
			continue
		}
		res.Received++
		if !last.IsZero() && ms(t.Sub(last)) > res.MaxGapMs {
			res.MaxGapMs = ms(t.Sub(last))
		}
		last = t
	}
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
