package netconf

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// pingInterval is the gap between echo requests while waiting for a reply.
const pingInterval = 100 * time.Millisecond

// PingFrom sends ICMP echo requests to dst from inside the network namespace
// at netnsPath until one is answered or ctx ends. It is the gateway check of
// a new pod: the reply proves the logical switch, the router port and the
// pod's flows all work.
func PingFrom(ctx context.Context, netnsPath string, dst netip.Addr) error {
	conn, err := icmpConnIn(netnsPath, dst)
	if err != nil {
		return err
	}
	defer conn.Close()
	id, seq := rand.IntN(0xffff), 0
	buf := make([]byte, 1500)
	for {
		seq++
		if err := sendEcho(conn, dst, id, seq); err != nil {
			return err
		}
		wait := time.Now().Add(pingInterval)
		if d, ok := ctx.Deadline(); ok && d.Before(wait) {
			wait = d
		}
		if err := conn.SetReadDeadline(wait); err != nil {
			return fmt.Errorf("ping %s: %w", dst, err)
		}
		if gotReply(conn, buf, dst, id) {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("no echo reply from %s after %d requests: %w", dst, seq, ctx.Err())
		}
	}
}

// icmpConnIn opens a raw ICMP socket inside the namespace; the socket stays
// in that namespace after the thread leaves it.
func icmpConnIn(netnsPath string, dst netip.Addr) (*icmp.PacketConn, error) {
	network, laddr := "ip4:icmp", "0.0.0.0"
	if dst.Is6() {
		network, laddr = "ip6:ipv6-icmp", "::"
	}
	var conn *icmp.PacketConn
	err := ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		var err error
		conn, err = icmp.ListenPacket(network, laddr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open ICMP socket in %s: %w", netnsPath, err)
	}
	return conn, nil
}

func sendEcho(conn *icmp.PacketConn, dst netip.Addr, id, seq int) error {
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if dst.Is6() {
		typ = ipv6.ICMPTypeEchoRequest
	}
	msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("kvnet gateway check")}}
	b, err := msg.Marshal(nil) // the kernel fills the ICMPv6 checksum
	if err != nil {
		return fmt.Errorf("build echo request: %w", err)
	}
	if _, err := conn.WriteTo(b, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		return fmt.Errorf("send echo request to %s: %w", dst, err)
	}
	return nil
}

// gotReply reads until the deadline and reports whether an echo reply with
// our id came from dst.
func gotReply(conn *icmp.PacketConn, buf []byte, dst netip.Addr, id int) bool {
	proto, reply := 1, icmp.Type(ipv4.ICMPTypeEchoReply)
	if dst.Is6() {
		proto, reply = 58, ipv6.ICMPTypeEchoReply
	}
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return false // deadline (os.ErrDeadlineExceeded) or closed
		}
		src, ok := netip.AddrFromSlice(from.(*net.IPAddr).IP)
		if !ok || src.Unmap() != dst {
			continue
		}
		msg, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || msg.Type != reply {
			continue
		}
		if echo, ok := msg.Body.(*icmp.Echo); ok && echo.ID == id {
			return true
		}
	}
}
