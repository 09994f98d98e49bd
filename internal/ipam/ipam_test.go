package ipam

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func newIPAM(t testing.TB, cfgs ...SubnetConfig) *IPAM {
	t.Helper()
	m := New()
	for _, c := range cfgs {
		if _, err := m.AddOrUpdateSubnet(c); err != nil {
			t.Fatalf("AddOrUpdateSubnet(%+v): %v", c, err)
		}
	}
	return m
}

func mustAllocate(t testing.TB, m *IPAM, req Request) Allocation {
	t.Helper()
	a, err := m.Allocate(req)
	if err != nil {
		t.Fatalf("Allocate(%+v): %v", req, err)
	}
	return a
}

func usage(t testing.TB, m *IPAM, subnet string) Usage {
	t.Helper()
	u, err := m.Usage(subnet)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

var dualA = SubnetConfig{Name: "subnet-a", CIDRBlock: "10.10.0.0/24,fd00:10::/120", Gateway: "10.10.0.1,fd00:10::1"}

// TestGatewayEveryForm is case B01: the gateway is refused whatever its
// textual form, and a refused request holds nothing.
func TestGatewayEveryForm(t *testing.T) {
	for _, ips := range []string{
		"10.10.0.1",
		"::ffff:10.10.0.1",
		"10.10.0.5,fd00:10:0:0:0:0:0:1",
		"10.10.0.5,FD00:10::1",
		"10.10.0.5,fd00:0010::0001",
		"10.10.0.5,fd00:10::1",
		"fd00:10::1",
	} {
		t.Run(ips, func(t *testing.T) {
			m := newIPAM(t, dualA)
			_, err := m.Allocate(Request{Subnet: "subnet-a", Owner: "p1.ns", IPs: []string{ips}})
			if !errors.Is(err, ErrGateway) || !strings.Contains(err.Error(), "subnet-a") {
				t.Fatalf("error = %v, want ErrGateway naming the subnet", err)
			}
			if _, ok := m.Lookup("subnet-a", "p1.ns"); ok {
				t.Fatal("refused request holds an allocation")
			}
			if u := usage(t, m, "subnet-a"); u.V4Using != 0 || u.V6Using != 0 {
				t.Fatalf("refused request left usage %+v", u)
			}
		})
	}
	// The gateway given in another form in the subnet is still the gateway.
	m := newIPAM(t, SubnetConfig{Name: "s", CIDRBlock: "fd00:10::/120", Gateway: "FD00:0010:0:0::0001"})
	if _, err := m.Allocate(Request{Subnet: "s", Owner: "o", IPs: []string{"fd00:10::1"}}); !errors.Is(err, ErrGateway) {
		t.Fatalf("error = %v, want ErrGateway", err)
	}
	// A candidate list skips the gateway.
	a := mustAllocate(t, m, Request{Subnet: "s", Owner: "o", Candidates: []string{"fd00:10::0001", "fd00:10::7"}})
	if a.IPString() != "fd00:10::7" {
		t.Fatalf("candidates gave %s, want fd00:10::7", a.IPString())
	}
}

// TestNeverReservedDynamically exhausts small subnets and checks that
// dynamic allocation never returns the gateway, network, broadcast or an
// excluded address, and ends with ErrNoAvailable.
func TestNeverReservedDynamically(t *testing.T) {
	tests := []struct {
		cfg  SubnetConfig
		want int // dynamic addresses
	}{
		{SubnetConfig{Name: "s", CIDRBlock: "10.0.0.0/28", Gateway: "10.0.0.1"}, 13},
		{SubnetConfig{Name: "s", CIDRBlock: "10.0.0.0/28", Gateway: "10.0.0.9", ExcludeIPs: []string{"10.0.0.3..10.0.0.4"}}, 11},
		{SubnetConfig{Name: "s", CIDRBlock: "fd00::/124", Gateway: "fd00::1"}, 14},
		{SubnetConfig{Name: "s", CIDRBlock: "10.0.0.0/31"}, 1}, // gateway 10.0.0.1, network usable (RFC 3021)
	}
	for _, tt := range tests {
		t.Run(tt.cfg.CIDRBlock, func(t *testing.T) {
			m := newIPAM(t, tt.cfg)
			cidrs, _ := ParseCIDRBlock(tt.cfg.CIDRBlock)
			gws, _ := parseGateways(cidrs, tt.cfg.Gateway)
			for i := range tt.want {
				a := mustAllocate(t, m, Request{Subnet: "s", Owner: fmt.Sprint("o", i)})
				ip := a.IPs[0]
				first, last := prefixBounds(cidrs[0])
				x := u128From(ip)
				if ip == gws[0] || (cidrs[0].Bits() < 31 && (x == first || (ip.Is4() && x == last))) {
					t.Fatalf("dynamic allocation returned reserved %s", ip)
				}
				for _, e := range tt.cfg.ExcludeIPs {
					if r, _ := ParseRange(e); r.Contains(ip) {
						t.Fatalf("dynamic allocation returned excluded %s", ip)
					}
				}
			}
			_, err := m.Allocate(Request{Subnet: "s", Owner: "last"})
			if !errors.Is(err, ErrNoAvailable) {
				t.Fatalf("after %d allocations: %v, want ErrNoAvailable", tt.want, err)
			}
		})
	}
}

func TestStaticAllocation(t *testing.T) {
	m := newIPAM(t, dualA, SubnetConfig{Name: "v4", CIDRBlock: "10.20.0.0/24"})
	mustAllocate(t, m, Request{Subnet: "subnet-a", Owner: "holder.ns", IPs: []string{"10.10.0.9"}})
	tests := []struct {
		name    string
		req     Request
		want    string // IPString, or "" for an error
		wantErr error
		errText string
	}{
		{name: "v4 static, v6 dynamic", req: Request{IPs: []string{"10.10.0.5"}}, want: "10.10.0.5,fd00:10::"},
		{name: "both static as list", req: Request{IPs: []string{"fd00:10::0033", "10.10.0.33"}}, want: "10.10.0.33,fd00:10::33"},
		{name: "mapped form", req: Request{IPs: []string{"::ffff:10.10.0.34"}}, want: "10.10.0.34,fd00:10::"},
		{name: "duplicate same address", req: Request{IPs: []string{"10.10.0.35,10.10.0.35"}}, want: "10.10.0.35,fd00:10::"},
		{name: "empty elements ignored", req: Request{IPs: []string{"", " 10.10.0.36 ,"}}, want: "10.10.0.36,fd00:10::"},
		{name: "outside", req: Request{IPs: []string{"10.11.0.5"}}, wantErr: ErrOutOfRange, errText: "not inside 10.10.0.0/24"},
		{name: "network", req: Request{IPs: []string{"10.10.0.0"}}, wantErr: ErrReserved, errText: "network address"},
		{name: "broadcast", req: Request{IPs: []string{"10.10.0.255"}}, wantErr: ErrReserved, errText: "broadcast"},
		{name: "v6 network", req: Request{IPs: []string{"fd00:10::"}}, wantErr: ErrReserved},
		{name: "held", req: Request{IPs: []string{"10.10.0.9"}}, wantErr: ErrConflict, errText: "held by holder.ns"},
		{name: "two v4", req: Request{IPs: []string{"10.10.0.5", "10.10.0.6"}}, wantErr: ErrInvalid, errText: "more than one"},
		{name: "garbage", req: Request{IPs: []string{"10.10.0"}}, wantErr: ErrInvalid},
		{name: "no owner", req: Request{Owner: "-"}, wantErr: ErrInvalid},
		{name: "no subnet", req: Request{Subnet: "nope"}, wantErr: ErrNoSuchSubnet},
		{name: "v6 in v4 subnet", req: Request{Subnet: "v4", IPs: []string{"fd00:10::5"}}, wantErr: ErrOutOfRange, errText: "no IPv6 CIDR"},
		{name: "no such pool", req: Request{Pool: "p"}, wantErr: ErrNoSuchPool},
		{name: "candidate outside", req: Request{Candidates: []string{"10.99.0.1"}}, wantErr: ErrOutOfRange},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			if req.Subnet == "" {
				req.Subnet = "subnet-a"
			}
			req.Owner = fmt.Sprint("o", i)
			if tt.req.Owner == "-" {
				req.Owner = ""
			}
			a, err := m.Allocate(req)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("error = %v, want %v mentioning %q", err, tt.wantErr, tt.errText)
				}
				return
			}
			if err != nil || !strings.HasPrefix(a.IPString(), tt.want) {
				t.Fatalf("Allocate = %s, %v; want %s...", a.IPString(), err, tt.want)
			}
			m.Release(req.Subnet, req.Owner)
		})
	}
}

// TestExcludedStatic is case B06 with the chosen rule: a static address
// inside excludeIps is allowed, does not count against availability, and is
// allowed even when no dynamic address is left; dynamic allocation never
// returns an excluded address.
func TestExcludedStatic(t *testing.T) {
	x := SubnetConfig{Name: "subnet-x", CIDRBlock: "10.0.6.0/24", Gateway: "10.0.6.1",
		ExcludeIPs: []string{"10.0.6.1", "10.0.6.2", "10.0.6.20..10.0.6.255"}}
	m := newIPAM(t, x)
	u := usage(t, m, "subnet-x")
	if u.V4Available.String() != "17" || u.V4AvailableRange != "10.0.6.3-10.0.6.19" {
		t.Fatalf("initial usage %+v, want 17 available: 10.0.6.3-10.0.6.19", u)
	}
	a := mustAllocate(t, m, Request{Subnet: "subnet-x", Owner: "p.ns-b", IPs: []string{"10.0.6.24"}})
	if a.IPString() != "10.0.6.24" {
		t.Fatalf("static excluded gave %s", a.IPString())
	}
	u = usage(t, m, "subnet-x")
	if u.V4Using != 1 || u.V4Available.String() != "17" || u.V4UsingRange != "10.0.6.24" {
		t.Fatalf("usage after static excluded %+v: want using 1, available still 17", u)
	}
	for i := range 17 {
		a := mustAllocate(t, m, Request{Subnet: "subnet-x", Owner: fmt.Sprint("d", i)})
		if got := a.IPs[0].As4()[3]; got < 3 || got > 19 {
			t.Fatalf("dynamic allocation returned %s", a.IPs[0])
		}
	}
	if _, err := m.Allocate(Request{Subnet: "subnet-x", Owner: "d-last"}); !errors.Is(err, ErrNoAvailable) {
		t.Fatalf("exhausted subnet: %v, want ErrNoAvailable", err)
	}
	u = usage(t, m, "subnet-x")
	if !u.V4Available.IsZero() || u.V4Using != 18 {
		t.Fatalf("usage %+v, want 0 available and 18 using", u)
	}
	// Second part: available = 0, still a static excluded address is given.
	mustAllocate(t, m, Request{Subnet: "subnet-x", Owner: "late", IPs: []string{"10.0.6.200"}})
	// Releasing a static excluded address does not make it dynamic.
	m.Release("subnet-x", "late")
	m.Release("subnet-x", "p.ns-b")
	if u := usage(t, m, "subnet-x"); !u.V4Available.IsZero() || u.V4Using != 17 {
		t.Fatalf("after releasing excluded statics: %+v", u)
	}
	// Every address excluded: available 0 from the start, static still allowed.
	all := SubnetConfig{Name: "all", CIDRBlock: "10.0.7.0/24", ExcludeIPs: []string{"10.0.7.0..10.0.7.255"}}
	m2 := newIPAM(t, all)
	if u := usage(t, m2, "all"); !u.V4Available.IsZero() {
		t.Fatalf("all excluded: available %s", u.V4Available)
	}
	mustAllocate(t, m2, Request{Subnet: "all", Owner: "s", IPs: []string{"10.0.7.50"}})
	if _, err := m2.Allocate(Request{Subnet: "all", Owner: "d"}); !errors.Is(err, ErrNoAvailable) {
		t.Fatalf("dynamic in all-excluded subnet: %v", err)
	}
	// The gateway stays refused even when it is also excluded.
	if _, err := m2.Allocate(Request{Subnet: "all", Owner: "g", IPs: []string{"10.0.7.1"}}); !errors.Is(err, ErrGateway) {
		t.Fatalf("excluded gateway: %v, want ErrGateway", err)
	}
}

// TestEndOfLineFIFO: with releases in allocation order, addresses come back
// strictly in a cycle over the whole free space, over many rounds.
func TestEndOfLineFIFO(t *testing.T) {
	m := newIPAM(t, SubnetConfig{Name: "s", CIDRBlock: "10.0.0.0/24"})
	const live = 10
	var owners []string
	next := 2 // .1 is the gateway; dynamic space is .2-.254
	for i := range 5000 {
		if len(owners) == live {
			m.Release("s", owners[0])
			owners = owners[1:]
		}
		owner := fmt.Sprint("o", i)
		a := mustAllocate(t, m, Request{Subnet: "s", Owner: owner})
		if want := netip.AddrFrom4([4]byte{10, 0, 0, byte(next)}); a.IPs[0] != want {
			t.Fatalf("allocation %d = %s, want %s", i, a.IPs[0], want)
		}
		next++
		if next == 255 {
			next = 2
		}
		owners = append(owners, owner)
	}
}

// TestEndOfLineRandomChurn releases owners in random order over many cycles
// and checks the guarantees of the line (see doc.go): never-used addresses
// first, and while fewer than recentMax releases followed an address, it is
// reused only when every other free address was released after it.
func TestEndOfLineRandomChurn(t *testing.T) {
	for _, cidr := range []string{"10.0.0.0/24", "10.0.0.0/26"} {
		t.Run(cidr, func(t *testing.T) {
			m := newIPAM(t, SubnetConfig{Name: "s", CIDRBlock: cidr})
			c := newChurnChecker(t, m, "s")
			rng := newRand(7)
			for i := range 20000 {
				if len(c.live) > 0 && (len(c.live) >= 40 || rng.IntN(2) == 0) {
					c.release(rng.IntN(len(c.live)))
				} else {
					c.allocate(fmt.Sprint("o", i))
				}
			}
		})
	}
}

// TestIdempotentOwner: allocating again for the same owner returns the same
// addresses and MAC (state restore), and mismatching static requests fail.
func TestIdempotentOwner(t *testing.T) {
	m := newIPAM(t, dualA)
	a := mustAllocate(t, m, Request{Subnet: "subnet-a", Owner: "vm.ns"})
	for range 3 {
		b := mustAllocate(t, m, Request{Subnet: "subnet-a", Owner: "vm.ns"})
		if b.IPString() != a.IPString() || b.MAC != a.MAC {
			t.Fatalf("re-allocation %+v differs from %+v", b, a)
		}
	}
	// The same static addresses (any form) and MAC are fine.
	b := mustAllocate(t, m, Request{Subnet: "subnet-a", Owner: "vm.ns", IPs: []string{strings.ToUpper(a.IPString())}, MAC: strings.ToUpper(a.MAC)})
	if b.IPString() != a.IPString() {
		t.Fatalf("re-allocation with same statics = %s", b.IPString())
	}
	if _, err := m.Allocate(Request{Subnet: "subnet-a", Owner: "vm.ns", IPs: []string{"10.10.0.77"}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("different static for holder: %v, want ErrConflict", err)
	}
	if _, err := m.Allocate(Request{Subnet: "subnet-a", Owner: "vm.ns", MAC: "0a:00:00:00:00:01"}); !errors.Is(err, ErrMACConflict) {
		t.Fatalf("different MAC for holder: %v, want ErrMACConflict", err)
	}
	if u := usage(t, m, "subnet-a"); u.V4Using != 1 || u.V6Using != 1 {
		t.Fatalf("usage %+v after idempotent calls", u)
	}
	// Restore at start-up: a fresh IPAM fed the persisted record.
	m2 := newIPAM(t, dualA)
	r := mustAllocate(t, m2, Request{Subnet: "subnet-a", Owner: "vm.ns", IPs: []string{a.IPString()}, MAC: a.MAC})
	if r.IPString() != a.IPString() || r.MAC != a.MAC {
		t.Fatalf("restored %+v, want %+v", r, a)
	}
	// B08: the restored address is not handed to another owner.
	if _, err := m2.Allocate(Request{Subnet: "subnet-a", Owner: "b.ns", IPs: []string{a.IPs[0].String()}}); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "vm.ns") {
		t.Fatalf("static request for a restored address: %v, want ErrConflict naming vm.ns", err)
	}
	// Release frees everything; unknown owners and subnets are no-ops.
	m.Release("subnet-a", "vm.ns")
	m.Release("subnet-a", "vm.ns")
	m.Release("nope", "x")
	if _, ok := m.Lookup("subnet-a", "vm.ns"); ok {
		t.Fatal("released owner still found")
	}
	if u := usage(t, m, "subnet-a"); u.V4Using != 0 || u.V6Using != 0 {
		t.Fatalf("usage %+v after release", u)
	}
}

func TestMAC(t *testing.T) {
	m := newIPAM(t, dualA, SubnetConfig{Name: "other", CIDRBlock: "10.30.0.0/24"})
	a := mustAllocate(t, m, Request{Subnet: "subnet-a", Owner: "a", MAC: "0A-1B-2C-3D-4E-5F"})
	if a.MAC != "0a:1b:2c:3d:4e:5f" {
		t.Fatalf("MAC = %s, want canonical form", a.MAC)
	}
	_, err := m.Allocate(Request{Subnet: "subnet-a", Owner: "b", MAC: "0a:1b:2c:3d:4e:5f"})
	if !errors.Is(err, ErrMACConflict) || !strings.Contains(err.Error(), "held by a") {
		t.Fatalf("duplicate MAC: %v, want ErrMACConflict naming a", err)
	}
	if _, ok := m.Lookup("subnet-a", "b"); ok {
		t.Fatal("MAC conflict left an allocation")
	}
	// Another subnet is another L2 domain: the MAC may repeat there.
	mustAllocate(t, m, Request{Subnet: "other", Owner: "b", MAC: "0a:1b:2c:3d:4e:5f"})
	for _, bad := range []string{"01:00:5e:00:00:01", "00:00:00:00:00:00", "zz"} {
		if _, err := m.Allocate(Request{Subnet: "subnet-a", Owner: "c", MAC: bad}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("MAC %q: %v, want ErrInvalid", bad, err)
		}
	}
	// Generated MACs: locally administered unicast, unique in the subnet.
	seen := map[string]bool{a.MAC: true}
	for i := range 300 {
		g := mustAllocate(t, m, Request{Subnet: "subnet-a", Owner: fmt.Sprint("g", i)})
		mac, err := parseMAC(g.MAC)
		if err != nil || mac[0]&0x03 != 0x02 {
			t.Fatalf("generated MAC %s is not locally administered unicast (%v)", g.MAC, err)
		}
		if seen[g.MAC] {
			t.Fatalf("generated MAC %s twice", g.MAC)
		}
		seen[g.MAC] = true
		if i == 250 { // the /24 is nearly full
			break
		}
	}
	// A released MAC can be requested by someone else.
	m.Release("subnet-a", "a")
	mustAllocate(t, m, Request{Subnet: "subnet-a", Owner: "b", MAC: "0a:1b:2c:3d:4e:5f"})
}

// TestDualStackAtomic: if one family fails nothing is held, and a later
// retry succeeds without leftovers.
func TestDualStackAtomic(t *testing.T) {
	m := newIPAM(t, SubnetConfig{Name: "d", CIDRBlock: "10.40.0.0/29,fd00:40::/120"})
	// Fill the IPv4 side (5 dynamic addresses: .2-.6).
	for i := range 5 {
		mustAllocate(t, m, Request{Subnet: "d", Owner: fmt.Sprint("v", i)})
	}
	before := usage(t, m, "d")
	_, err := m.Allocate(Request{Subnet: "d", Owner: "x"})
	if !errors.Is(err, ErrNoAvailable) || !strings.Contains(err.Error(), "IPv4") {
		t.Fatalf("error = %v, want ErrNoAvailable for IPv4", err)
	}
	// IPv6 static fine but IPv4 static held: nothing held either.
	_, err = m.Allocate(Request{Subnet: "d", Owner: "y", IPs: []string{"10.40.0.2", "fd00:40::99"}})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("error = %v, want ErrConflict", err)
	}
	after := usage(t, m, "d")
	if after != before {
		t.Fatalf("failed dual-stack requests changed usage: %+v -> %+v", before, after)
	}
	if _, ok := m.Lookup("d", "x"); ok {
		t.Fatal("failed owner holds something")
	}
	// fd00:40::99 is still free.
	m.Release("d", "v0")
	m.Release("d", "v1")
	mustAllocate(t, m, Request{Subnet: "d", Owner: "z", IPs: []string{"10.40.0.2", "fd00:40::99"}})
	a := mustAllocate(t, m, Request{Subnet: "d", Owner: "x"})
	if len(a.IPs) != 2 || !a.IPs[0].Is4() || !a.IPs[1].Is6() {
		t.Fatalf("retry gave %v, want v4 then v6", a.IPs)
	}
}

// TestMultiNICRetry is case B12: a two-NIC pod whose second NIC keeps
// failing does not drain the first subnet, whether through AllocateAll or
// through per-NIC Allocate retried with the same owner.
func TestMultiNICRetry(t *testing.T) {
	m := newIPAM(t,
		SubnetConfig{Name: "ext", CIDRBlock: "192.168.1.0/28"},
		SubnetConfig{Name: "inner", CIDRBlock: "10.0.1.0/24", Gateway: "10.0.1.254", ExcludeIPs: []string{"10.0.1.254"}})
	reqs := []Request{
		{Subnet: "ext", Owner: "nat-gw.ns.ext"},
		{Subnet: "inner", Owner: "nat-gw.ns", IPs: []string{"10.0.1.254"}},
	}
	for range 20 {
		if _, err := m.AllocateAll(reqs); !errors.Is(err, ErrGateway) {
			t.Fatalf("AllocateAll = %v, want ErrGateway", err)
		}
	}
	if u := usage(t, m, "ext"); u.V4Using != 0 {
		t.Fatalf("ext using %d after 20 failed AllocateAll, want 0", u.V4Using)
	}
	for range 20 {
		mustAllocate(t, m, reqs[0])
		if _, err := m.Allocate(reqs[1]); err == nil {
			t.Fatal("second NIC unexpectedly allocated")
		}
	}
	if u := usage(t, m, "ext"); u.V4Using != 1 {
		t.Fatalf("ext using %d after 20 per-NIC retries, want 1", u.V4Using)
	}
	// AllocateAll leaves holdings that existed before the call alone.
	reqs[1].IPs = []string{"10.0.1.500"}
	if _, err := m.AllocateAll(reqs); !errors.Is(err, ErrInvalid) {
		t.Fatalf("AllocateAll = %v", err)
	}
	if _, ok := m.Lookup("ext", "nat-gw.ns.ext"); !ok {
		t.Fatal("AllocateAll rolled back a holding that predates it")
	}
	reqs[1].IPs = []string{"10.0.1.10"}
	all, err := m.AllocateAll(reqs)
	if err != nil || len(all) != 2 || all[1].IPString() != "10.0.1.10" {
		t.Fatalf("AllocateAll = %+v, %v", all, err)
	}
}

func TestPools(t *testing.T) {
	m := newIPAM(t, SubnetConfig{Name: "s", CIDRBlock: "10.50.0.0/24,fd00:50::/120"})
	if err := m.AddOrUpdatePool("s", "p", []string{"10.50.0.10..10.50.0.12", "10.50.0.20"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		entries []string
		want    error
	}{
		{[]string{"10.51.0.1"}, ErrOutOfRange},
		{[]string{"10.50.0.12..10.50.0.14"}, ErrInvalid}, // overlaps p
		{[]string{"10.50.0.14..10.50.0.13"}, ErrInvalid},
		{nil, ErrInvalid},
	} {
		if err := m.AddOrUpdatePool("s", "q", bad.entries); !errors.Is(err, bad.want) {
			t.Fatalf("pool %v: %v, want %v", bad.entries, err, bad.want)
		}
	}
	if err := m.AddOrUpdatePool("nope", "q", []string{"10.50.0.1"}); !errors.Is(err, ErrNoSuchSubnet) {
		t.Fatalf("pool in unknown subnet: %v", err)
	}
	var got []string
	for i := range 4 {
		a := mustAllocate(t, m, Request{Subnet: "s", Owner: fmt.Sprint("p", i), Pool: "p"})
		got = append(got, a.IPString())
	}
	// The pool has no IPv6 addresses: that family comes from the subnet.
	want := "10.50.0.10,fd00:50::2 10.50.0.11,fd00:50::3 10.50.0.12,fd00:50::4 10.50.0.20,fd00:50::5"
	if strings.Join(got, " ") != want {
		t.Fatalf("pool allocations %v, want %s", got, want)
	}
	if _, err := m.Allocate(Request{Subnet: "s", Owner: "p-last", Pool: "p"}); !errors.Is(err, ErrNoAvailable) || !strings.Contains(err.Error(), "IP pool p") {
		t.Fatalf("exhausted pool: %v", err)
	}
	pu, err := m.PoolUsage("s", "p")
	if err != nil || pu.V4Using != 4 || !pu.V4Available.IsZero() || pu.V4UsingRange != "10.50.0.10-10.50.0.12,10.50.0.20" || pu.V6Using != 0 {
		t.Fatalf("PoolUsage = %+v, %v", pu, err)
	}
	// Dynamic requests without the pool never get pool addresses.
	for i := range 240 {
		a, err := m.Allocate(Request{Subnet: "s", Owner: fmt.Sprint("d", i)})
		if err != nil {
			break
		}
		if b := a.IPs[0].As4()[3]; (b >= 10 && b <= 12) || b == 20 {
			t.Fatalf("non-pool request got pool address %s", a.IPs[0])
		}
	}
	// Releasing a pool address returns it to the pool, and deleting the pool
	// returns its free addresses to the subnet.
	m.Release("s", "p1")
	a := mustAllocate(t, m, Request{Subnet: "s", Owner: "p-again", Pool: "p"})
	if a.IPs[0].String() != "10.50.0.11" {
		t.Fatalf("pool reuse gave %s", a.IPs[0])
	}
	m.Release("s", "p-again")
	m.DeletePool("s", "p")
	if _, err := m.PoolUsage("s", "p"); !errors.Is(err, ErrNoSuchPool) {
		t.Fatalf("deleted pool: %v", err)
	}
	if u := usage(t, m, "s"); !strings.Contains(u.V4AvailableRange, "10.50.0.11") {
		t.Fatalf("freed pool address not back in the subnet: %+v", u)
	}
}

func TestCandidates(t *testing.T) {
	m := newIPAM(t, dualA)
	mustAllocate(t, m, Request{Subnet: "subnet-a", Owner: "h", IPs: []string{"10.10.0.15"}})
	cands := []string{"10.10.0.1", "10.10.0.15", "10.10.0.16", "fd00:10::16", "10.10.0.17"}
	a := mustAllocate(t, m, Request{Subnet: "subnet-a", Owner: "sts-0", Candidates: cands})
	if a.IPString() != "10.10.0.16,fd00:10::16" {
		t.Fatalf("candidates gave %s, want first free of each family", a.IPString())
	}
	// The only IPv6 candidate is taken: the whole request fails.
	_, err := m.Allocate(Request{Subnet: "subnet-a", Owner: "sts-1", Candidates: cands})
	if !errors.Is(err, ErrNoAvailable) || !strings.Contains(err.Error(), "IPv6") {
		t.Fatalf("no free IPv6 candidate: %v, want ErrNoAvailable for IPv6", err)
	}
	// Candidates of one family only: the other family is dynamic.
	b := mustAllocate(t, m, Request{Subnet: "subnet-a", Owner: "sts-1", Candidates: []string{"10.10.0.16", "10.10.0.18"}})
	if b.IPs[0].String() != "10.10.0.18" || len(b.IPs) != 2 {
		t.Fatalf("v4 candidates gave %s", b.IPString())
	}
	if _, err := m.Allocate(Request{Subnet: "subnet-a", Owner: "sts-2", Candidates: cands[:3]}); !errors.Is(err, ErrNoAvailable) {
		t.Fatalf("no free candidate: %v, want ErrNoAvailable", err)
	}
	if _, err := m.Allocate(Request{Subnet: "subnet-a", Owner: "sts-2", Candidates: []string{"x"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad candidate: %v, want ErrInvalid", err)
	}
}

// TestSubnetUpdate: valid holdings survive an update, invalid ones are
// reported (not silently dropped), re-allocation for a reported owner keeps
// its MAC, and a bad configuration changes nothing.
func TestSubnetUpdate(t *testing.T) {
	m := newIPAM(t, SubnetConfig{Name: "s", CIDRBlock: "10.60.0.0/24", ExcludeIPs: []string{"10.60.0.100..10.60.0.110"}})
	keep := mustAllocate(t, m, Request{Subnet: "s", Owner: "keep", IPs: []string{"10.60.0.105"}})
	dyn := mustAllocate(t, m, Request{Subnet: "s", Owner: "dyn"})
	mustAllocate(t, m, Request{Subnet: "s", Owner: "gw", IPs: []string{"10.60.0.126"}})
	out := mustAllocate(t, m, Request{Subnet: "s", Owner: "out", IPs: []string{"10.60.0.200"}})
	mustAllocate(t, m, Request{Subnet: "s", Owner: "gone"})
	m.Release("s", "gone") // 10.60.0.3 is the latest release

	// Shrink to a /25 with the gateway on a held address, and add IPv6.
	newCfg := SubnetConfig{Name: "s", CIDRBlock: "10.60.0.0/25,fd00:60::/120", Gateway: "10.60.0.126,fd00:60::1"}
	invalid, err := m.AddOrUpdateSubnet(newCfg)
	if err != nil || strings.Join(invalid, ",") != "gw,out" {
		t.Fatalf("invalid = %v, %v; want [gw out]", invalid, err)
	}
	for _, a := range []Allocation{keep, dyn} {
		if got, ok := m.Lookup("s", a.Owner); !ok || got.IPString() != a.IPString() || got.MAC != a.MAC {
			t.Fatalf("%s after update = %+v, want %+v", a.Owner, got, a)
		}
	}
	if got, ok := m.Lookup("s", "out"); !ok || len(got.IPs) != 0 || got.MAC != out.MAC {
		t.Fatalf("reported owner = %+v, %v; want no addresses, MAC kept", got, ok)
	}
	if u := usage(t, m, "s"); u.V4Using != 2 || u.V4UsingRange != "10.60.0.2,10.60.0.105" || u.V6Using != 0 {
		t.Fatalf("usage after update %+v", u)
	}
	// Re-allocation fills the gaps: the reported owner gets new addresses and
	// keeps its MAC; a kept owner keeps its IPv4 and gains an IPv6 address.
	o := mustAllocate(t, m, Request{Subnet: "s", Owner: "out"})
	if len(o.IPs) != 2 || o.MAC != out.MAC {
		t.Fatalf("re-allocated reported owner = %+v", o)
	}
	// 10.60.0.1 is no longer the gateway, hence new; the release order
	// survived the update: 10.60.0.3 (released last) waits at the end.
	if o.IPs[0].String() != "10.60.0.1" {
		t.Fatalf("re-allocation got %s, want 10.60.0.1", o.IPs[0])
	}
	if n := mustAllocate(t, m, Request{Subnet: "s", Owner: "new"}); n.IPs[0].String() != "10.60.0.4" {
		t.Fatalf("next allocation got %s, want 10.60.0.4 (10.60.0.3 waits at the end of the line)", n.IPs[0])
	}
	k := mustAllocate(t, m, Request{Subnet: "s", Owner: "keep"})
	if len(k.IPs) != 2 || k.IPs[0] != keep.IPs[0] {
		t.Fatalf("kept owner after top-up = %+v", k)
	}
	if _, err := m.Allocate(Request{Subnet: "s", Owner: "x", IPs: []string{"10.60.0.126"}}); !errors.Is(err, ErrGateway) {
		t.Fatalf("new gateway: %v, want ErrGateway", err)
	}
	// Re-applying the same configuration (every reconcile) changes nothing.
	before := m.List("s")
	if invalid, err := m.AddOrUpdateSubnet(newCfg); err != nil || invalid != nil {
		t.Fatalf("unchanged update: %v, %v", invalid, err)
	}
	if after := m.List("s"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("unchanged update changed holdings: %v -> %v", before, after)
	}
	// A bad configuration is refused as a whole.
	usageBefore := usage(t, m, "s")
	for _, bad := range []SubnetConfig{
		{Name: "s", CIDRBlock: "10.60.0.0/25", ExcludeIPs: []string{"10.61.0.1"}},
		{Name: "s", CIDRBlock: "10.60.0.0/33"},
		{Name: "s", CIDRBlock: "10.60.0.0/25", Gateway: "10.60.0.127"},
	} {
		if _, err := m.AddOrUpdateSubnet(bad); err == nil {
			t.Fatalf("bad config %+v accepted", bad)
		}
	}
	if after := usage(t, m, "s"); after != usageBefore {
		t.Fatalf("refused update changed usage: %+v -> %+v", usageBefore, after)
	}
	m.DeleteSubnet("s")
	if _, err := m.Allocate(Request{Subnet: "s", Owner: "x"}); !errors.Is(err, ErrNoSuchSubnet) {
		t.Fatalf("deleted subnet: %v", err)
	}
}

// TestUsage checks counts and range strings, including an IPv6 /64 whose
// available count does not fit an int64.
func TestUsage(t *testing.T) {
	m := newIPAM(t,
		SubnetConfig{Name: "v4", CIDRBlock: "10.16.0.0/16", ExcludeIPs: []string{"10.16.0.10..10.16.0.11"}},
		SubnetConfig{Name: "v6", CIDRBlock: "fd00:64::/64"},
		SubnetConfig{Name: "big", CIDRBlock: "fd00::/48"})
	u := usage(t, m, "v4")
	if u.V4Available.String() != "65531" || u.V4AvailableRange != "10.16.0.2-10.16.0.9,10.16.0.12-10.16.255.254" || u.V4UsingRange != "" {
		t.Fatalf("empty /16 usage %+v", u)
	}
	for i := range 10 {
		mustAllocate(t, m, Request{Subnet: "v4", Owner: fmt.Sprint("o", i)})
	}
	mustAllocate(t, m, Request{Subnet: "v4", Owner: "s", IPs: []string{"10.16.0.10"}})
	m.Release("v4", "o3")
	u = usage(t, m, "v4")
	want := Usage{
		V4Using: 10, V4Available: u.V4Available,
		V4UsingRange:     "10.16.0.2-10.16.0.4,10.16.0.6-10.16.0.10,10.16.0.12-10.16.0.13",
		V4AvailableRange: "10.16.0.5,10.16.0.14-10.16.255.254",
	}
	if u != want || u.V4Available.String() != "65522" {
		t.Fatalf("usage = %+v\nwant    %+v (available 65522)", u, want)
	}
	u = usage(t, m, "v6")
	if u.V6Available.String() != "18446744073709551614" || u.V6AvailableRange != "fd00:64::2-fd00:64::ffff:ffff:ffff:ffff" {
		t.Fatalf("/64 usage %+v", u)
	}
	if f := u.V6Available.Float64(); f != 18446744073709551614.0 {
		t.Fatalf("Float64 = %v", f)
	}
	a := mustAllocate(t, m, Request{Subnet: "v6", Owner: "o", IPs: []string{"fd00:64::ffff:ffff:ffff:fffe"}})
	if a.IPString() != "fd00:64::ffff:ffff:ffff:fffe" {
		t.Fatalf("static at the top of a /64: %s", a.IPString())
	}
	if u := usage(t, m, "big"); u.V6Available.String() != "1208925819614629174706174" {
		t.Fatalf("/48 available = %s", u.V6Available)
	}
	if _, err := m.Usage("nope"); !errors.Is(err, ErrNoSuchSubnet) {
		t.Fatalf("unknown subnet: %v", err)
	}
	if l := m.List("v4"); len(l) != 10 || l[0].Owner != "o0" || l[9].Owner != "s" {
		t.Fatalf("List = %+v", l)
	}
}

// TestConcurrent exercises the mutex under the race detector.
func TestConcurrent(t *testing.T) {
	m := newIPAM(t, SubnetConfig{Name: "s", CIDRBlock: "10.70.0.0/16,fd00:70::/112"})
	done := make(chan map[string]string)
	for w := range 4 {
		go func() {
			got := map[string]string{}
			for i := range 200 {
				owner := fmt.Sprintf("w%d-%d", w, i)
				a, err := m.Allocate(Request{Subnet: "s", Owner: owner})
				if err != nil {
					panic(err)
				}
				got[a.IPString()] = owner
				if i%3 == 0 {
					m.Release("s", owner)
					delete(got, a.IPString())
				}
				_, _ = m.Usage("s")
			}
			done <- got
		}()
	}
	all := map[string]string{}
	for range 4 {
		for ip, owner := range <-done {
			if other, dup := all[ip]; dup {
				t.Fatalf("%s held by %s and %s", ip, other, owner)
			}
			all[ip] = owner
		}
	}
	if u := usage(t, m, "s"); u.V4Using != len(all) {
		t.Fatalf("using %d, want %d", u.V4Using, len(all))
	}
}
