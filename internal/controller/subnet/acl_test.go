package subnet

import (
	"strconv"
	"strings"
	"testing"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/ovn/ops"
	"github.com/kvnet/kvnet/internal/validation"
)

func TestPrivateSubnetACLs(t *testing.T) {
	spec := &kubeovnv1.SubnetSpec{CIDRBlock: "10.0.1.0/24,fd00:1::/120", Private: true,
		AllowSubnets: []string{"10.0.2.0/24", "fd00:2::/120", " 10.0.3.5/24"}}
	n, err := validation.ParseNetwork(spec)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range ACLs("s1", n, spec) {
		got = append(got, a.Direction+" "+strconv.Itoa(a.Priority)+" "+a.Match+" "+a.Action)
		if o, ok := ops.OwnerOf(a.ExternalIDs); !ok || o.Kind != ops.OwnerKindSubnet || o.Key != "s1" {
			t.Errorf("acl %q external_ids = %v", a.Match, a.ExternalIDs)
		}
	}
	want := []string{
		"to-lport 3000 ip4.src == 10.0.1.0/24 allow-related",
		"to-lport 3000 ip4.src == 10.0.2.0/24 allow-related",
		"to-lport 3000 ip4.src == 10.0.3.0/24 allow-related",
		"to-lport 2900 ip4.dst == 10.0.1.0/24 drop",
		"to-lport 3000 ip6.src == fd00:1::/120 allow-related",
		"to-lport 3000 ip6.src == fd00:2::/120 allow-related",
		"to-lport 2900 ip6.dst == fd00:1::/120 drop",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("acls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	spec.Private = false
	if acls := ACLs("s1", n, spec); len(acls) != 0 {
		t.Errorf("a subnet that is not private got %d ACLs", len(acls))
	}
	if RouterPortOptions(&kubeovnv1.SubnetSpec{RouteTable: "rtb1"})["route_table"] != "rtb1" || RouterPortOptions(spec) != nil {
		t.Error("route_table option wrong")
	}
}
