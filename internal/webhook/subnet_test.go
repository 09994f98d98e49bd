package webhook_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	kvwebhook "github.com/kvnet/kvnet/internal/webhook"
)

const (
	hookSubnet = "subnet.webhook.kvnet.io"
	hookIPPool = "ippool.webhook.kvnet.io"
)

// B02: the gateway may not be the network or broadcast address, nor lie
// outside the CIDR. The API refuses it (CEL first); the webhook refuses it
// too when called without CEL (a CRD applied from an older release).
func TestB02_GatewayNetworkBroadcastOutside(t *testing.T) {
	needEnv(t)
	for i, gw := range []string{"192.168.50.0", "192.168.50.255", "192.168.51.1"} {
		sn := mkSubnet("b02-bad", "192.168.50.0/24", gw, nil)
		refusedBy(t, createErr(sn), "", "gateway")
		resp := direct.Subnet(context.Background(), review(t, admissionv1.Create, "Subnet", sn, nil))
		if resp.Allowed || !strings.Contains(resp.Result.Message, "gateway") {
			t.Errorf("%d: webhook alone: allowed=%v %q", i, resp.Allowed, resp.Result.Message)
		}
	}
	ok := mkSubnet("b02-ok", "192.168.50.0/24", "192.168.50.254", nil)
	create(t, ok)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), ok) })
}

// B05: every malformed cidrBlock is refused with a message about the CIDR,
// by the API (CEL) and by the webhook on its own.
func TestB05_MalformedCIDRRefused(t *testing.T) {
	needEnv(t)
	for _, tc := range []struct{ cidr, protocol string }{
		{"10.20.0.0/33", ""}, {"10.20.0/24", ""}, {"10.20.0.0", ""}, {"fd00::/129", ""}, {"", ""},
		{"10.20.0.0/24,10.21.0.0/24", "IPv4"}, {"10.20.0.0/24,10.21.0.0/24", ""}, {"10.20.0.5/24", ""},
	} {
		sn := mkSubnet("b05-bad", tc.cidr, "", nil)
		sn.Spec.Protocol = tc.protocol
		err := createErr(sn)
		refusedBy(t, err, "", "cidrBlock")
		resp := direct.Subnet(context.Background(), review(t, admissionv1.Create, "Subnet", sn, nil))
		if resp.Allowed || !strings.Contains(strings.ToLower(resp.Result.Message), "cidr") {
			t.Errorf("cidrBlock %q: webhook alone: allowed=%v %q", tc.cidr, resp.Allowed, resp.Result.Message)
		}
	}
}

// B04: a second subnet of the same VPC overlapping the first (same CIDR or
// part of it) is refused, and so is a namespace bound twice; the same CIDR
// in another VPC is allowed.
func TestB04_OverlapAndNamespaceBoundTwice(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	s1 := mkSubnet("b04-s1", "10.66.0.0/16", "10.66.0.1", []string{"b04-ns-a"}, "10.66.0.1..10.66.0.10")
	create(t, s1)
	t.Cleanup(func() { _ = k8s.Delete(ctx, s1) })

	s2 := mkSubnet("b04-s2", "10.66.0.0/16", "10.66.0.1", []string{"b04-ns-a"}, "10.66.0.1..10.66.0.10")
	refusedBy(t, createErr(s2), hookSubnet, "overlaps", "b04-s1")
	partial := mkSubnet("b04-s2", "10.66.128.0/17", "", nil)
	refusedBy(t, createErr(partial), hookSubnet, "10.66.128.0/17 overlaps 10.66.0.0/16")
	explicit := mkSubnet("b04-s2", "10.66.0.0/24", "", nil)
	explicit.Spec.Vpc = "ovn-cluster" // the default VPC named explicitly is the same VPC
	refusedBy(t, createErr(explicit), hookSubnet, "overlaps")
	bound := mkSubnet("b04-s3", "10.67.0.0/16", "", []string{"b04-ns-a"})
	refusedBy(t, createErr(bound), hookSubnet, `namespace "b04-ns-a" is already bound to subnet "b04-s1"`)

	other := mkSubnet("b04-other-vpc", "10.66.0.0/16", "10.66.0.1", nil)
	other.Spec.Vpc = "b04-vpc"
	create(t, other)
	t.Cleanup(func() { _ = k8s.Delete(ctx, other) })

	// Updates: binding an existing subnet to a taken namespace is refused;
	// edits that change nothing checked are allowed.
	s4 := mkSubnet("b04-s4", "10.68.0.0/16", "", nil)
	create(t, s4)
	t.Cleanup(func() { _ = k8s.Delete(ctx, s4) })
	cur := &kubeovnv1.Subnet{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(s4), cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.Namespaces = []string{"b04-ns-b", "b04-ns-a"}
	refusedBy(t, k8s.Update(ctx, cur), hookSubnet, "b04-ns-a")
	cur.Spec.Namespaces = []string{"b04-ns-b"}
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatalf("binding a free namespace: %v", err)
	}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(s1), cur); err != nil {
		t.Fatal(err)
	}
	cur.Labels = map[string]string{"edited": "yes"}
	cur.Spec.NatOutgoing = true
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatalf("unrelated edit of s1 refused: %v", err)
	}

	// A conflict stored before the webhook existed does not block an
	// update that leaves the spec alone (finalizers, labels).
	stored := mkSubnet("b04-stored", "10.66.0.0/16", "", []string{"b04-ns-a"})
	resp := direct.Subnet(ctx, review(t, admissionv1.Update, "Subnet", stored, stored))
	if !resp.Allowed {
		t.Errorf("spec-unchanged update refused: %s", resp.Result.Message)
	}
	changed := stored.DeepCopy()
	changed.Spec.NatOutgoing = true
	if resp := direct.Subnet(ctx, review(t, admissionv1.Update, "Subnet", changed, stored)); !resp.Allowed {
		t.Errorf("update not touching CIDR or namespaces refused: %s", resp.Result.Message)
	}
}

// B06a: excludeIps ranges are inclusive "a..b" with a <= b, one family,
// inside the CIDR. CEL checks family and containment; the order needs the
// webhook.
func TestB06a_ExcludeRangeSyntax(t *testing.T) {
	needEnv(t)
	for _, tc := range []struct{ excl, hook, want string }{
		{"10.0.6.30..10.0.6.20", hookSubnet, "start is after end"},
		{"10.0.6.250..10.0.7.3", "", "excludeIps"},
		{"10.0.6.1..fd00::1", "", "excludeIps"},
		{"10.0.6.x", "", "excludeIps"},
		{"10.0.6.1..10.0.6.5..10.0.6.9", "", "excludeIps"},
	} {
		sn := mkSubnet("b06a", "10.0.6.0/24", "", nil, tc.excl)
		refusedBy(t, createErr(sn), tc.hook, tc.want)
		if resp := direct.Subnet(context.Background(), review(t, admissionv1.Create, "Subnet", sn, nil)); resp.Allowed {
			t.Errorf("excludeIps %q: webhook alone allowed it", tc.excl)
		}
	}
}

// A new gateway may not be an address someone holds.
func TestGatewayMovedOntoAnAddressInUse(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	sn := mkSubnet("gw-move", "10.17.0.0/24", "10.17.0.1", nil)
	create(t, sn)
	t.Cleanup(func() { _ = k8s.Delete(ctx, sn) })
	ip := mkIP("holder.gw-ns", "gw-move", "gw-ns", "holder", "", "10.17.0.9", "", "")
	create(t, ip)
	t.Cleanup(func() { _ = k8s.Delete(ctx, ip) })
	cur := &kubeovnv1.Subnet{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(sn), cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.Gateway = "10.17.0.9"
	refusedBy(t, k8s.Update(ctx, cur), hookSubnet, "gateway 10.17.0.9 is in use by pod gw-ns/holder")
	cur.Spec.Gateway = "10.17.0.10"
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatalf("moving the gateway to a free address: %v", err)
	}
}

func TestIPPoolRules(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	sn := mkSubnet("pool-sn", "10.14.0.0/24", "", []string{"pool-ns-a"})
	create(t, sn)
	t.Cleanup(func() { _ = k8s.Delete(ctx, sn) })
	first := &kubeovnv1.IPPool{}
	first.Name = "pool-1"
	first.Spec = kubeovnv1.IPPoolSpec{Subnet: "pool-sn", IPs: []string{"10.14.0.10..10.14.0.19"}, Namespaces: []string{"pool-ns-a"}}
	create(t, first)
	t.Cleanup(func() { _ = k8s.Delete(ctx, first) })

	for _, tc := range []struct {
		ips  []string
		ns   string
		want string
	}{
		{[]string{"10.14.1.5"}, "", "not inside"},
		{[]string{"10.14.0.30..10.14.0.20"}, "", "start is after end"},
		{[]string{"10.14.0.15..10.14.0.25"}, "", `overlaps IP pool "pool-1"`},
		{[]string{"10.14.0.40"}, "pool-ns-b", `namespace "pool-ns-b" is not in the subnet's namespaces`},
	} {
		p := &kubeovnv1.IPPool{}
		p.Name = "pool-2"
		p.Spec = kubeovnv1.IPPoolSpec{Subnet: "pool-sn", IPs: tc.ips}
		if tc.ns != "" {
			p.Spec.Namespaces = []string{tc.ns}
		}
		refusedBy(t, createErr(p), hookIPPool, tc.want)
	}
	// A pool of a subnet that does not exist yet (applied from one manifest
	// in any order) is admitted with a warning.
	early := &kubeovnv1.IPPool{}
	early.Name = "pool-early"
	early.Spec = kubeovnv1.IPPoolSpec{Subnet: "pool-sn-later", IPs: []string{"10.15.0.10"}}
	w := warningsOf(func() {
		if err := createErr(early); err != nil {
			t.Fatalf("pool of a future subnet refused: %v", err)
		}
	})
	t.Cleanup(func() { _ = k8s.Delete(ctx, early) })
	if len(w) == 0 || !strings.Contains(w[0], "does not exist") {
		t.Errorf("no warning about the missing subnet: %q", w)
	}
}

// liveCounter counts the live reads a validator makes.
type liveCounter struct {
	client.Reader
	lists, gets int
}

func (c *liveCounter) List(ctx context.Context, l client.ObjectList, opts ...client.ListOption) error {
	c.lists++
	return c.Reader.List(ctx, l, opts...)
}

func (c *liveCounter) Get(ctx context.Context, k client.ObjectKey, o client.Object, opts ...client.GetOption) error {
	c.gets++
	return c.Reader.Get(ctx, k, o, opts...)
}

// Subnet admission reads the cache, never a live list of every subnet
// (with 1000 subnets those lists dominated the API server's work): the
// controller writing a subnet's derived defaults (protocol, gateway, vpc,
// provider) is admitted without any check across subnets, and a CIDR
// change onto another subnet's is refused after one live read confirms
// the cached conflict.
func TestSubnetAdmissionReadsTheCache(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	taken := mkSubnet("lst-taken", "192.168.80.0/24", "", nil)
	create(t, taken)
	t.Cleanup(func() { _ = k8s.Delete(ctx, taken) })
	waitCached(t, taken)
	counter := &liveCounter{Reader: direct.APIReader}
	v := *direct
	v.APIReader = counter

	old := mkSubnet("lst-mine", "192.168.81.0/24", "", nil)
	defaulted := old.DeepCopy()
	defaulted.Spec.Protocol, defaulted.Spec.Gateway, defaulted.Spec.Vpc, defaulted.Spec.Provider = "IPv4", "192.168.81.1", "ovn-cluster", "ovn"
	if resp := v.Subnet(ctx, review(t, admissionv1.Update, "Subnet", defaulted, old)); !resp.Allowed {
		t.Fatalf("defaults refused: %s", resp.Result.Message)
	}
	if counter.lists+counter.gets != 0 {
		t.Errorf("writing defaults read live %d times, want 0", counter.lists+counter.gets)
	}

	moved := defaulted.DeepCopy()
	moved.Spec.CIDRBlock, moved.Spec.Gateway = "192.168.80.0/24", "192.168.80.1"
	if resp := v.Subnet(ctx, review(t, admissionv1.Update, "Subnet", moved, defaulted)); resp.Allowed || !strings.Contains(resp.Result.Message, "lst-taken") {
		t.Errorf("moving onto lst-taken's CIDR: allowed=%v %q", resp.Allowed, resp.Result.Message)
	}
	if counter.lists != 0 || counter.gets != 1 {
		t.Errorf("refusal read live %d lists and %d gets, want 0 and 1", counter.lists, counter.gets)
	}
}

// Two overlapping subnets admitted milliseconds apart (one manifest): the
// second is refused though neither the cache nor the API server holds the
// first yet, because the webhook remembers what it admitted. A subnet the
// cache still shows but that is gone from the API server refuses nothing.
func TestSubnetAdmissionSeesWhatItJustAdmitted(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	v := *direct
	v.Recent = &kvwebhook.RecentSubnets{}
	first := mkSubnet("rec-first", "192.168.82.0/24", "", nil)
	if resp := v.Subnet(ctx, review(t, admissionv1.Create, "Subnet", first, nil)); !resp.Allowed {
		t.Fatalf("first refused: %s", resp.Result.Message)
	}
	second := mkSubnet("rec-second", "192.168.82.128/25", "", nil)
	if resp := v.Subnet(ctx, review(t, admissionv1.Create, "Subnet", second, nil)); resp.Allowed || !strings.Contains(resp.Result.Message, "rec-first") {
		t.Errorf("second, overlapping the just-admitted first: allowed=%v %q", resp.Allowed, resp.Result.Message)
	}
	without := *direct
	without.Recent = nil
	if resp := without.Subnet(ctx, review(t, admissionv1.Create, "Subnet", second, nil)); !resp.Allowed {
		t.Errorf("without the memory the unstored first must not count: %q", resp.Result.Message)
	}

	gone := mkSubnet("rec-gone", "192.168.83.0/24", "", nil)
	create(t, gone)
	waitCached(t, gone)
	stale := &staleCache{Reader: direct.Client, extra: gone}
	if err := k8s.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	v2 := *direct
	v2.Client = stale // the cache has not seen the deletion yet
	again := mkSubnet("rec-again", "192.168.83.0/24", "", nil)
	if resp := v2.Subnet(ctx, review(t, admissionv1.Create, "Subnet", again, nil)); !resp.Allowed {
		t.Errorf("refused because of a subnet deleted a moment ago: %q", resp.Result.Message)
	}
}

// staleCache is a cache that still lists extra.
type staleCache struct {
	client.Reader
	extra *kubeovnv1.Subnet
}

func (c *staleCache) List(ctx context.Context, l client.ObjectList, opts ...client.ListOption) error {
	if err := c.Reader.List(ctx, l, opts...); err != nil {
		return err
	}
	if sl, ok := l.(*kubeovnv1.SubnetList); ok && !slices.ContainsFunc(sl.Items, func(s kubeovnv1.Subnet) bool { return s.Name == c.extra.Name }) {
		sl.Items = append(sl.Items, *c.extra.DeepCopy())
	}
	return nil
}
