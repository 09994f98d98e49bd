package validation

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/ipam"
)

// Sentinel errors of the VPC rules; test with errors.Is.
var (
	// ErrInvalidRoute: a static or policy route of a Vpc cannot be programmed.
	ErrInvalidRoute = errors.New("invalid route")
	// ErrVpcNamespaceBound: a namespace of the Vpc is bound to an older Vpc.
	ErrVpcNamespaceBound = errors.New("namespace already bound to another VPC")
	// ErrVpcNamespaceNotAllowed: the subnet's VPC serves only the namespaces it lists.
	ErrVpcNamespaceNotAllowed = errors.New("namespace may not use this VPC")
	// ErrNoSubnet: no subnet serves the namespace.
	ErrNoSubnet = errors.New("no subnet for the namespace")
)

// Route policies as OVN spells them.
const (
	RoutePolicyDst = "dst-ip"
	RoutePolicySrc = "src-ip"
)

// StaticRoute is a parsed Vpc static route.
type StaticRoute struct {
	// Prefix is the destination (or, with Policy src-ip, the source) prefix, masked.
	Prefix netip.Prefix
	// NextHops are the next hops of Prefix's family, in the order given (ECMP when several).
	NextHops []netip.Addr
	// Policy is RoutePolicyDst or RoutePolicySrc.
	Policy     string
	RouteTable string
}

// ParseStaticRoute checks one static route. cidr may be a CIDR or a single
// address (a host route); nextHopIP holds one or two comma-separated
// addresses, and those of the cidr's family are the route's next hops.
func ParseStaticRoute(r *kubeovnv1.StaticRoute) (StaticRoute, error) {
	var out StaticRoute
	p, err := parsePrefixOrAddr(r.CIDR)
	if err != nil {
		return out, fmt.Errorf("static route %q: %w: %w", r.CIDR, err, ErrInvalidRoute)
	}
	out.Prefix = p
	hops, other, err := parseNextHops(r.NextHopIP, p.Addr().Is4())
	if err != nil {
		return out, fmt.Errorf("static route %s: %w", r.CIDR, err)
	}
	if len(hops) == 0 {
		return out, fmt.Errorf("static route %s: nextHopIP %q has no address of the cidr's family (%s): %w",
			r.CIDR, r.NextHopIP, strings.Join(other, ","), ErrInvalidRoute)
	}
	out.NextHops = hops
	switch r.Policy {
	case "", kubeovnv1.PolicyDst:
		out.Policy = RoutePolicyDst
	case kubeovnv1.PolicySrc:
		out.Policy = RoutePolicySrc
	default:
		return out, fmt.Errorf("static route %s: policy %q is neither %s nor %s: %w", r.CIDR, r.Policy, kubeovnv1.PolicyDst, kubeovnv1.PolicySrc, ErrInvalidRoute)
	}
	out.RouteTable = strings.TrimSpace(r.RouteTable)
	return out, nil
}

func parsePrefixOrAddr(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := ipam.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return ipam.ParseCIDR(s)
}

// parseNextHops splits a comma-separated address list into the addresses of
// the wanted family (v4 or not) and the others, without duplicates.
func parseNextHops(s string, v4 bool) (hops []netip.Addr, other []string, err error) {
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		a, err := ipam.ParseAddr(f)
		if err != nil {
			return nil, nil, fmt.Errorf("nextHopIP: %w: %w", err, ErrInvalidRoute)
		}
		if a.Is4() != v4 {
			other = append(other, a.String())
			continue
		}
		if !slices.Contains(hops, a) {
			hops = append(hops, a)
		}
	}
	return hops, other, nil
}

// PolicyRoute is a parsed Vpc policy route.
type PolicyRoute struct {
	Priority int
	Match    string
	Action   string
	// NextHops are set for reroute only.
	NextHops []netip.Addr
}

// ParsePolicyRoute checks one policy route. nextHopIP is required for, and
// used only by, reroute; its addresses must be of one family.
func ParsePolicyRoute(r *kubeovnv1.PolicyRoute) (PolicyRoute, error) {
	out := PolicyRoute{Priority: int(r.Priority), Match: strings.TrimSpace(r.Match), Action: r.Action}
	name := fmt.Sprintf("policy route %d %q", r.Priority, out.Match)
	switch {
	case r.Priority < 0 || r.Priority > 32767:
		return out, fmt.Errorf("%s: priority must be 0..32767: %w", name, ErrInvalidRoute)
	case out.Match == "":
		return out, fmt.Errorf("%s: match is empty: %w", name, ErrInvalidRoute)
	}
	switch r.Action {
	case "allow", "drop":
		return out, nil
	case "reroute":
	default:
		return out, fmt.Errorf("%s: action %q is not allow, drop or reroute: %w", name, r.Action, ErrInvalidRoute)
	}
	var v4, v6 []netip.Addr
	for _, v := range []bool{true, false} {
		hops, _, err := parseNextHops(r.NextHopIP, v)
		if err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		if v {
			v4 = hops
		} else {
			v6 = hops
		}
	}
	switch {
	case len(v4) == 0 && len(v6) == 0:
		return out, fmt.Errorf("%s: reroute needs nextHopIP: %w", name, ErrInvalidRoute)
	case len(v4) > 0 && len(v6) > 0:
		return out, fmt.Errorf("%s: nextHopIP %q mixes IPv4 and IPv6: %w", name, r.NextHopIP, ErrInvalidRoute)
	}
	out.NextHops = append(v4, v6...)
	return out, nil
}

// Vpc checks a Vpc's spec on its own and returns every problem found
// (errors.Join), so that a user sees all bad entries at once. The same
// policy (priority and match) twice is an error: OVN identifies a policy by
// those two.
func Vpc(spec *kubeovnv1.VpcSpec) error {
	var errs []error
	for _, ns := range spec.Namespaces {
		if strings.TrimSpace(ns) == "" {
			errs = append(errs, fmt.Errorf("namespaces holds an empty name: %w", ipam.ErrInvalid))
		}
	}
	for i := range spec.StaticRoutes {
		if _, err := ParseStaticRoute(&spec.StaticRoutes[i]); err != nil {
			errs = append(errs, err)
		}
	}
	seen := map[string]bool{}
	for i := range spec.PolicyRoutes {
		p, err := ParsePolicyRoute(&spec.PolicyRoutes[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		k := fmt.Sprintf("%d|%s", p.Priority, p.Match)
		if seen[k] {
			errs = append(errs, fmt.Errorf("policy route %d %q is listed twice: %w", p.Priority, p.Match, ErrInvalidRoute))
		}
		seen[k] = true
	}
	return errors.Join(errs...)
}

// VpcOfNamespace returns the Vpc whose spec.namespaces lists ns (the oldest
// when several do; the younger ones are refused by VpcConflicts), or nil.
func VpcOfNamespace(vpcs []kubeovnv1.Vpc, ns string) *kubeovnv1.Vpc {
	var found *kubeovnv1.Vpc
	for i := range vpcs {
		v := &vpcs[i]
		if v.DeletionTimestamp == nil && slices.Contains(v.Spec.Namespaces, ns) && (found == nil || vpcOlder(v, found)) {
			found = v
		}
	}
	return found
}

// VpcConflicts checks v's namespaces against the other Vpcs: a namespace may
// be bound to one VPC only, the oldest that lists it.
func VpcConflicts(v *kubeovnv1.Vpc, others []kubeovnv1.Vpc) error {
	for i := range others {
		o := &others[i]
		if o.Name == v.Name || !vpcOlder(o, v) {
			continue
		}
		for _, ns := range v.Spec.Namespaces {
			if slices.Contains(o.Spec.Namespaces, ns) {
				return fmt.Errorf("namespace %q is bound to VPC %q: %w", ns, o.Name, ErrVpcNamespaceBound)
			}
		}
	}
	return nil
}

func vpcOlder(a, b *kubeovnv1.Vpc) bool {
	ta, tb := a.CreationTimestamp, b.CreationTimestamp
	if !ta.Equal(&tb) {
		return ta.Before(&tb)
	}
	return a.Name < b.Name
}

// NamespaceMayUseVpc reports whether pods of namespace ns may use subnets of
// the VPC named vpc: a VPC that lists namespaces serves only those
// (Kube-OVN's rule). The default VPC (status.default) serves every
// namespace, so that listing a namespace there never locks the others out.
func NamespaceMayUseVpc(vpcs []kubeovnv1.Vpc, vpc, ns string) error {
	for i := range vpcs {
		v := &vpcs[i]
		if v.Name != vpc || v.Status.Default || len(v.Spec.Namespaces) == 0 {
			continue
		}
		if !slices.Contains(v.Spec.Namespaces, ns) {
			return fmt.Errorf("VPC %q serves namespaces %v, not %q: %w", vpc, v.Spec.Namespaces, ns, ErrVpcNamespaceNotAllowed)
		}
	}
	return nil
}

// SubnetForNamespace picks the primary subnet (provider "" or "ovn") for a
// pod of namespace ns that names none:
//
//   - ns bound to a custom VPC V (V.spec.namespaces lists it): V's subnet
//     whose spec.namespaces lists ns; else V's default subnet
//     (spec.default); else V's subnet open to every namespace (no
//     spec.namespaces). Subnets of other VPCs are never picked.
//   - otherwise: the subnet whose spec.namespaces lists ns (any VPC); else a
//     default subnet of the default VPC; else defaultSubnet.
//
// Of several candidates the oldest wins (B04: the younger is refused). The
// default VPC is the VPC of defaultSubnet. The error wraps ErrNoSubnet.
func SubnetForNamespace(subnets []kubeovnv1.Subnet, vpcs []kubeovnv1.Vpc, ns, defaultSubnet string) (*kubeovnv1.Subnet, error) {
	defVpc := ""
	if d := findSubnet(subnets, defaultSubnet); d != nil {
		defVpc = d.Spec.Vpc
	}
	pick := func(ok func(*kubeovnv1.Subnet) bool) *kubeovnv1.Subnet {
		var best *kubeovnv1.Subnet
		for i := range subnets {
			s := &subnets[i]
			if (s.Spec.Provider == "" || s.Spec.Provider == "ovn") && ok(s) &&
				(best == nil || olderThan(s, best)) {
				best = s
			}
		}
		return best
	}
	inVpc := func(s *kubeovnv1.Subnet, vpc string) bool { return VpcOf(&s.Spec, defVpc) == vpc }
	lists := func(s *kubeovnv1.Subnet) bool { return slices.Contains(s.Spec.Namespaces, ns) }
	if v := VpcOfNamespace(vpcs, ns); v != nil && v.Name != defVpc && !v.Status.Default {
		for _, ok := range []func(*kubeovnv1.Subnet) bool{
			lists,
			func(s *kubeovnv1.Subnet) bool { return s.Spec.Default },
			func(s *kubeovnv1.Subnet) bool { return len(s.Spec.Namespaces) == 0 },
		} {
			if s := pick(func(s *kubeovnv1.Subnet) bool { return inVpc(s, v.Name) && ok(s) }); s != nil {
				return s, nil
			}
		}
		return nil, fmt.Errorf("namespace %q is bound to VPC %q, which has no subnet for it: %w", ns, v.Name, ErrNoSubnet)
	}
	if s := pick(lists); s != nil {
		return s, nil
	}
	if s := pick(func(s *kubeovnv1.Subnet) bool { return s.Spec.Default && inVpc(s, defVpc) }); s != nil {
		return s, nil
	}
	if s := findSubnet(subnets, defaultSubnet); s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("namespace %q: no subnet binds it and the default subnet %q does not exist: %w", ns, defaultSubnet, ErrNoSubnet)
}

func findSubnet(subnets []kubeovnv1.Subnet, name string) *kubeovnv1.Subnet {
	for i := range subnets {
		if subnets[i].Name == name {
			return &subnets[i]
		}
	}
	return nil
}
