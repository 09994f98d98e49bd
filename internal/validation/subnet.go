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

// Sentinel errors of the rules spanning objects; test with errors.Is.
var (
	// ErrCIDROverlap: the subnet's CIDR overlaps an older subnet of the same VPC (B04).
	ErrCIDROverlap = errors.New("CIDR overlaps another subnet in the same VPC")
	// ErrNamespaceBound: a namespace of the subnet is bound to an older subnet (B04).
	ErrNamespaceBound = errors.New("namespace already bound to another subnet")
	// ErrNamespaceNotAllowed: a pod's namespace may not use the subnet (B06d).
	ErrNamespaceNotAllowed = errors.New("namespace may not use this subnet")
)

// Subnet checks one Subnet's spec on its own: address syntax and
// consistency through the IPAM's parsers (B01 forms, B02, B05, B06a), and
// names in namespaces. The error names the first problem found.
func Subnet(spec *kubeovnv1.SubnetSpec) error {
	if err := ipam.ValidateSubnet(spec.CIDRBlock, spec.Gateway, spec.ExcludeIPs, spec.Protocol); err != nil {
		return err
	}
	for _, ns := range spec.Namespaces {
		if strings.TrimSpace(ns) == "" {
			return fmt.Errorf("namespaces holds an empty name: %w", ipam.ErrInvalid)
		}
	}
	return nil
}

// Network is the parsed address part of a valid Subnet, IPv4 first.
type Network struct {
	CIDRs    []netip.Prefix
	Gateways []netip.Addr
}

// CIDRString is the cidr annotation value: the CIDRs comma-separated, IPv4 first.
func (n Network) CIDRString() string { return join(n.CIDRs) }

// GatewayString is the gateway annotation value, IPv4 first.
func (n Network) GatewayString() string { return join(n.Gateways) }

// Protocol is IPv4, IPv6 or Dual.
func (n Network) Protocol() string {
	switch {
	case len(n.CIDRs) == 2:
		return kubeovnv1.ProtocolDual
	case n.CIDRs[0].Addr().Is6():
		return kubeovnv1.ProtocolIPv6
	}
	return kubeovnv1.ProtocolIPv4
}

// ParseNetwork validates spec (see Subnet) and returns its CIDRs and
// effective gateways (the IPAM's default gateway where none is given).
func ParseNetwork(spec *kubeovnv1.SubnetSpec) (Network, error) {
	if err := Subnet(spec); err != nil {
		return Network{}, err
	}
	cidrs, err := ipam.ParseCIDRBlock(spec.CIDRBlock)
	if err != nil {
		return Network{}, err
	}
	n := Network{CIDRs: cidrs, Gateways: make([]netip.Addr, len(cidrs))}
	for i, p := range cidrs {
		n.Gateways[i] = ipam.DefaultGateway(p)
	}
	if strings.TrimSpace(spec.Gateway) != "" {
		for _, g := range strings.Split(spec.Gateway, ",") {
			a, err := ipam.ParseAddr(g)
			if err != nil {
				return Network{}, err
			}
			for i, p := range cidrs {
				if p.Contains(a) {
					n.Gateways[i] = a
				}
			}
		}
	}
	return n, nil
}

// SubnetConflicts checks s against the other subnets: its CIDRs must not
// overlap those of an older subnet in the same VPC, and its namespaces must
// not be bound to an older subnet (B04). "Older" is by creation time, then
// name, so exactly one of two conflicting subnets is refused and the one
// already in use keeps working. Subnets that fail Subnet are ignored, as
// they hold nothing. defaultVpc is the VPC of subnets that name none.
func SubnetConflicts(s *kubeovnv1.Subnet, others []kubeovnv1.Subnet, defaultVpc string) error {
	mine, err := ipam.ParseCIDRBlock(s.Spec.CIDRBlock)
	if err != nil {
		return err
	}
	vpc := VpcOf(&s.Spec, defaultVpc)
	for i := range others {
		o := &others[i]
		if o.Name == s.Name || !olderThan(o, s) || Subnet(&o.Spec) != nil {
			continue
		}
		if VpcOf(&o.Spec, defaultVpc) == vpc {
			theirs, _ := ipam.ParseCIDRBlock(o.Spec.CIDRBlock)
			for _, a := range mine {
				for _, b := range theirs {
					if a.Overlaps(b) {
						return fmt.Errorf("%s overlaps %s of subnet %q in VPC %q: %w", a, b, o.Name, vpc, ErrCIDROverlap)
					}
				}
			}
		}
		for _, ns := range s.Spec.Namespaces {
			if slices.Contains(o.Spec.Namespaces, ns) {
				return fmt.Errorf("namespace %q is bound to subnet %q: %w", ns, o.Name, ErrNamespaceBound)
			}
		}
	}
	return nil
}

// VpcOf returns the subnet's VPC, defaultVpc when it names none.
func VpcOf(spec *kubeovnv1.SubnetSpec, defaultVpc string) string {
	if spec.Vpc == "" {
		return defaultVpc
	}
	return spec.Vpc
}

func olderThan(a, b *kubeovnv1.Subnet) bool {
	ta, tb := a.CreationTimestamp, b.CreationTimestamp
	if !ta.Equal(&tb) {
		return ta.Before(&tb)
	}
	return a.Name < b.Name
}

// NamespaceMayUse reports whether pods of namespace ns may take addresses
// from the subnet: a subnet bound to namespaces serves only those (B06d).
func NamespaceMayUse(spec *kubeovnv1.SubnetSpec, ns string) error {
	if len(spec.Namespaces) == 0 || slices.Contains(spec.Namespaces, ns) {
		return nil
	}
	return fmt.Errorf("namespace %q is not in the subnet's namespaces %v: %w", ns, spec.Namespaces, ErrNamespaceNotAllowed)
}

func join[T fmt.Stringer](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = x.String()
	}
	return strings.Join(s, ",")
}
