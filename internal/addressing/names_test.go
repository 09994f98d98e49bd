package addressing

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

// TestRowNamesNeverCollide builds every NB port name kvnet derives, from
// names users really choose (dashes and dots in VPCs, subnets, pods and
// nodes, swapped VPC and subnet names, FQDN nodes), and fails on any name
// two different holders would share, except the pairs Kube-OVN's public
// names make ambiguous, which the reconcilers refuse at run time
// (NameConflict) and which this test lists so that none goes unseen.
func TestRowNamesNeverCollide(t *testing.T) {
	vpcs := []string{"ovn-cluster", "team-a", "team", "prod", "prod-db", "a", "b", "web.ns"}
	subnets := []string{"ovn-default", "join", "web", "a-web", "db", "a", "b", "web.ns", "team-a-web"}
	namespaces := []string{"default", "ns", "ns-a", "team-a", "kube-system", "a", "b"}
	pods := []string{"web", "web-0", "db", "node-w1", "web.ns", "a", "virt-launcher-web-x7k2p"}
	vms := []string{"web", "db", "vm-1", "a"}
	nodes := []string{"node-1", "w1", "w1.ns", "ip-10-0-0-1.ec2.internal", "a"}
	providers := []string{"net1.ns.ovn", "net1.ns", "ext.team-a.ovn"}

	type claim struct{ kind, holder string }
	seen := map[string]claim{}
	var public []string // Kube-OVN's own ambiguities, refused at run time
	add := func(name string, c claim) {
		t.Helper()
		if prev, ok := seen[name]; ok && prev != c {
			if isPublic(prev.kind) && isPublic(c.kind) {
				public = append(public, fmt.Sprintf("%q: %v / %v", name, prev, c))
				return
			}
			t.Errorf("port name %q of %s %s collides with %s %s", name, c.kind, c.holder, prev.kind, prev.holder)
		}
		seen[name] = c
	}
	for _, v := range vpcs {
		for _, s := range subnets {
			add(RouterPortName(v, s), claim{"router port", v + "/" + s})
			add(SwitchRouterPortName(v, s), claim{"switch router port", v + "/" + s})
		}
	}
	for _, ns := range namespaces {
		for _, p := range pods {
			port := PodPortName(p, ns)
			add(port, claim{"pod", ns + "/" + p})
			for _, pr := range providers {
				add(AttachmentPortName(port, pr), claim{"pod attachment", ns + "/" + p + "@" + pr})
			}
		}
		for _, v := range vms {
			port := VMPortName(v, ns)
			add(port, claim{"vm", ns + "/" + v})
			for _, pr := range providers {
				add(AttachmentPortName(port, pr), claim{"vm attachment", ns + "/" + v + "@" + pr})
			}
		}
	}
	for _, n := range nodes {
		add(NodePortName(n), claim{"node", n})
	}
	// The ambiguities this table must show, so the run-time check is known
	// to be needed: a pod and a VM of one name; a pod named like a node port.
	for _, want := range []string{`"web.ns"`, `"node-w1.ns"`} {
		found := false
		for _, p := range public {
			found = found || len(p) > len(want) && p[:len(want)] == want
		}
		if !found {
			t.Errorf("expected Kube-OVN ambiguity %s not seen; seen %v", want, public)
		}
	}
	// Names kvnet puts in label values (the IP object's subnet label)
	// must be valid label values: subnet names are limited to 63
	// characters by admission (validation.SubnetName).
	for _, s := range subnets {
		if errs := validation.IsValidLabelValue(s); len(errs) > 0 {
			t.Errorf("subnet %q is no label value: %v", s, errs)
		}
	}
}

func isPublic(kind string) bool {
	switch kind {
	case "pod", "vm", "pod attachment", "vm attachment", "node":
		return true
	}
	return false
}
