package probe

import (
	"context"
	"net/netip"
	"os"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"time"
)

// Loopback answers every probe: nothing lost, no duplicates, gaps of about
// one interval. Needs a raw socket (root).
func TestICMPLoopbackLosesNothing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a raw ICMP socket")
	}
	res, err := ICMP(context.Background(), netip.MustParseAddr("127.0.0.1"), 10*time.Millisecond, 300*time.Millisecond, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent < 20 || res.Lost != 0 || res.Received != res.Sent || res.Duplicates != 0 {
		t.Fatalf("loopback: %+v", res)
	}
	if res.MaxGapMs > 100 {
		t.Errorf("max gap %v ms on loopback", res.MaxGapMs)
	}
}

// In a namespace with only loopback, an address outside it has no route:
// every probe counts as lost and none as received.
func TestICMPUnreachableCountsLost(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace and a raw ICMP socket")
	}
	netns, err := testutils.NewNS()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		// Close first: an open handle keeps the bind mount busy and the
		// namespace file would be left in /run/netns.
		_ = netns.Close()
		if err := testutils.UnmountNS(netns); err != nil {
			t.Errorf("remove test namespace: %v", err)
		}
	}()
	var res Result
	err = netns.Do(func(ns.NetNS) error {
		var perr error
		res, perr = ICMP(context.Background(), netip.MustParseAddr("192.0.2.1"), 10*time.Millisecond, 100*time.Millisecond, 50*time.Millisecond)
		return perr
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent < 5 || res.Lost != res.Sent || res.Received != 0 || len(res.LostAt) != res.Sent {
		t.Fatalf("unreachable target: %+v", res)
	}
}
