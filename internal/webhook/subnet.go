package webhook

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/ipam"
	"github.com/kvnet/kvnet/internal/validation"
)

// Validator holds the handlers' dependencies.
type Validator struct {
	// Client reads what pod admission needs (subnets, pools, IP objects,
	// pods) from the manager's cache: pods are created all the time.
	Client client.Reader
	// APIReader reads live what IPPool admission needs (rare, and
	// exactness matters there), confirms subnet conflicts found in the
	// cache, and reads KubeVirt VMs (not cached).
	APIReader client.Reader
	Decoder   admission.Decoder
	Options   Options
	// Recent remembers admitted subnets the cache may not show yet (nil:
	// none, the cache alone).
	Recent *RecentSubnets
}

// Subnet admits a Subnet create or update.
func (v *Validator) Subnet(ctx context.Context, req admission.Request) admission.Response {
	sn, old := &kubeovnv1.Subnet{}, (*kubeovnv1.Subnet)(nil)
	if err := v.Decoder.Decode(req, sn); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if req.Operation == admissionv1.Update {
		old = &kubeovnv1.Subnet{}
		if err := v.Decoder.DecodeRaw(req.OldObject, old); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		if equality.Semantic.DeepEqual(old.Spec, sn.Spec) {
			return admission.Allowed("spec unchanged")
		}
	}
	if err := validation.Subnet(&sn.Spec); err != nil {
		return admission.Denied(fmt.Sprintf("subnet %s: %v", sn.Name, err))
	}
	if old == nil || changesConflicts(sn, old, v.Options.DefaultVpc) {
		// An update that changes neither the VPC, the CIDR nor the
		// namespaces (the controller writing derived defaults) skips this.
		if msg, err := v.subnetConflict(ctx, sn, old); err != nil {
			return admission.Errored(http.StatusInternalServerError, err)
		} else if msg != "" {
			return admission.Denied(fmt.Sprintf("subnet %s: %s", sn.Name, msg))
		}
	}
	if old != nil && effectiveGateway(&old.Spec) != effectiveGateway(&sn.Spec) {
		if msg, err := v.gatewayInUse(ctx, sn); err != nil {
			return admission.Errored(http.StatusInternalServerError, err)
		} else if msg != "" {
			return admission.Denied(fmt.Sprintf("subnet %s: %s", sn.Name, msg))
		}
	}
	v.Recent.Add(sn)
	return admission.Allowed("")
}

// subnetConflict checks the cross-subnet rules for sn against the cached
// subnets plus those this webhook admitted that the cache does not show
// yet (two subnets from one manifest arrive milliseconds apart). A conflict
// with a cached subnet is confirmed with a live read first: the cache may
// still hold a subnet deleted or changed a moment ago. With 1000 subnets
// this costs one cache list, not a live list of 1000 objects per create.
// It returns the refusal message, empty when sn is admitted.
func (v *Validator) subnetConflict(ctx context.Context, sn, old *kubeovnv1.Subnet) (string, error) {
	var cached kubeovnv1.SubnetList
	if err := v.Client.List(ctx, &cached); err != nil {
		return "", fmt.Errorf("list subnets: %w", err)
	}
	others, remembered := v.Recent.Merge(cached.Items)
	for range len(others) + 1 {
		other, err := firstSubnetConflict(sn, old, others, v.Options.DefaultVpc)
		if err == nil {
			return "", nil
		}
		if remembered[other] {
			return err.Error(), nil
		}
		live := &kubeovnv1.Subnet{}
		gerr := v.APIReader.Get(ctx, client.ObjectKey{Name: other}, live)
		if gerr != nil && !apierrors.IsNotFound(gerr) {
			return "", fmt.Errorf("get subnet %q: %w", other, gerr)
		}
		i := slices.IndexFunc(others, func(o kubeovnv1.Subnet) bool { return o.Name == other })
		switch {
		case apierrors.IsNotFound(gerr):
			others = slices.Delete(slices.Clone(others), i, i+1)
		case equality.Semantic.DeepEqual(live.Spec, others[i].Spec):
			return err.Error(), nil
		default:
			others = slices.Clone(others)
			others[i] = *live
		}
	}
	return "", fmt.Errorf("subnet conflicts did not settle")
}

// SubnetConflicts checks the rules spanning subnets for sn, a subnet being
// created (old nil) or updated from old, against the stored subnets (B04):
// its CIDRs must not overlap those of another subnet in the same VPC, and a
// namespace it adds must not be bound to another subnet. Unlike
// validation.SubnetConflicts, which picks the younger of two stored
// subnets, admission always refuses the object being written: the stored
// ones may already hold addresses. An update is checked only for what it
// changes (its VPC or CIDR, its added namespaces), so an unrelated edit
// never fails because of a conflict that was already stored. Stored
// subnets that fail validation.Subnet hold nothing and are ignored.
func SubnetConflicts(sn, old *kubeovnv1.Subnet, others []kubeovnv1.Subnet, defaultVpc string) error {
	_, err := firstSubnetConflict(sn, old, others, defaultVpc)
	return err
}

// firstSubnetConflict is SubnetConflicts, also naming the other subnet.
func firstSubnetConflict(sn, old *kubeovnv1.Subnet, others []kubeovnv1.Subnet, defaultVpc string) (string, error) {
	mine, err := ipam.ParseCIDRBlock(sn.Spec.CIDRBlock)
	if err != nil {
		return "", err
	}
	vpc := validation.VpcOf(&sn.Spec, defaultVpc)
	checkCIDR := old == nil || old.Spec.CIDRBlock != sn.Spec.CIDRBlock || validation.VpcOf(&old.Spec, defaultVpc) != vpc
	added := sn.Spec.Namespaces
	if old != nil {
		added = slices.DeleteFunc(slices.Clone(added), func(ns string) bool { return slices.Contains(old.Spec.Namespaces, ns) })
	}
	for i := range others {
		o := &others[i]
		if o.Name == sn.Name || validation.Subnet(&o.Spec) != nil {
			continue
		}
		if checkCIDR && validation.VpcOf(&o.Spec, defaultVpc) == vpc {
			theirs, _ := ipam.ParseCIDRBlock(o.Spec.CIDRBlock)
			for _, a := range mine {
				for _, b := range theirs {
					if a.Overlaps(b) {
						return o.Name, fmt.Errorf("cidrBlock %s overlaps %s of subnet %q in VPC %q: %w", a, b, o.Name, vpc, validation.ErrCIDROverlap)
					}
				}
			}
		}
		for _, ns := range added {
			if slices.Contains(o.Spec.Namespaces, ns) {
				return o.Name, fmt.Errorf("namespace %q is already bound to subnet %q: %w", ns, o.Name, validation.ErrNamespaceBound)
			}
		}
	}
	return "", nil
}

// changesConflicts reports whether an update from old to sn changes what
// SubnetConflicts checks: the CIDR, the VPC (empty is defaultVpc) or the
// namespaces, by adding one.
func changesConflicts(sn, old *kubeovnv1.Subnet, defaultVpc string) bool {
	return old.Spec.CIDRBlock != sn.Spec.CIDRBlock ||
		validation.VpcOf(&old.Spec, defaultVpc) != validation.VpcOf(&sn.Spec, defaultVpc) ||
		slices.ContainsFunc(sn.Spec.Namespaces, func(ns string) bool { return !slices.Contains(old.Spec.Namespaces, ns) })
}

// effectiveGateway is the subnet's gateway with the derived default (the
// first address) filled in, so writing the default changes nothing.
func effectiveGateway(s *kubeovnv1.SubnetSpec) string {
	n, err := validation.ParseNetwork(s)
	if err != nil {
		return s.Gateway
	}
	return n.GatewayString()
}

// gatewayInUse reports a new gateway address that an IP object of the
// subnet holds: moving the gateway onto it would take it from its owner.
func (v *Validator) gatewayInUse(ctx context.Context, sn *kubeovnv1.Subnet) (string, error) {
	n, err := validation.ParseNetwork(&sn.Spec)
	if err != nil {
		return "", nil // validated above; nothing to compare
	}
	for _, gw := range n.Gateways {
		var ips kubeovnv1.IPList
		if err := v.Client.List(ctx, &ips, client.MatchingFields{IndexIPByAddress: addrKey(sn.Name, gw.String())}); err != nil {
			return "", fmt.Errorf("list ips: %w", err)
		}
		if len(ips.Items) > 0 {
			return fmt.Sprintf("gateway %s is in use by %s (IP %s): %v", gw, holderName(&ips.Items[0]), ips.Items[0].Name, ipam.ErrConflict), nil
		}
	}
	return "", nil
}

// IPPool admits an IPPool create or update.
func (v *Validator) IPPool(ctx context.Context, req admission.Request) admission.Response {
	p := &kubeovnv1.IPPool{}
	if err := v.Decoder.Decode(req, p); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if req.Operation == admissionv1.Update {
		old := &kubeovnv1.IPPool{}
		if err := v.Decoder.DecodeRaw(req.OldObject, old); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		if equality.Semantic.DeepEqual(old.Spec, p.Spec) {
			return admission.Allowed("spec unchanged")
		}
	}
	deny := func(err error) admission.Response {
		return admission.Denied(fmt.Sprintf("ippool %s: %v", p.Name, err))
	}
	for _, e := range p.Spec.IPs {
		if _, err := ipam.ParseRange(e); err != nil {
			return deny(err)
		}
	}
	sn := &kubeovnv1.Subnet{}
	if err := v.APIReader.Get(ctx, client.ObjectKey{Name: p.Spec.Subnet}, sn); apierrors.IsNotFound(err) {
		return admission.Allowed("").WithWarnings(fmt.Sprintf("subnet %q does not exist (yet): the pool is loaded once it does", p.Spec.Subnet))
	} else if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("get subnet: %w", err))
	}
	if err := validation.Subnet(&sn.Spec); err != nil {
		return admission.Allowed("").WithWarnings(fmt.Sprintf("subnet %q is invalid (%v): the pool is loaded once it is fixed", sn.Name, err))
	}
	for _, ns := range p.Spec.Namespaces {
		if err := validation.NamespaceMayUse(&sn.Spec, ns); err != nil {
			return deny(fmt.Errorf("subnet %q: %w", sn.Name, err))
		}
	}
	var pools kubeovnv1.IPPoolList
	if err := v.APIReader.List(ctx, &pools); err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("list ip pools: %w", err))
	}
	// The IPAM's own pool rules, against a throw-away IPAM holding the
	// subnet and its other pools: inside the CIDR, no overlap with a pool.
	m := ipam.New()
	if _, err := m.AddOrUpdateSubnet(addressing.SubnetConfig(sn)); err != nil {
		return admission.Allowed("").WithWarnings(fmt.Sprintf("subnet %q: %v", sn.Name, err))
	}
	for i := range pools.Items {
		if o := &pools.Items[i]; o.Name != p.Name && o.Spec.Subnet == sn.Name {
			_ = m.AddOrUpdatePool(sn.Name, o.Name, o.Spec.IPs) // a broken stored pool blocks nothing
		}
	}
	if err := m.AddOrUpdatePool(sn.Name, p.Name, p.Spec.IPs); err != nil {
		return deny(err)
	}
	return admission.Allowed("")
}

// holderName describes the owner an IP object records.
func holderName(ip *kubeovnv1.IP) string {
	kind := strings.ToLower(ip.Spec.PodType)
	if kind == "" {
		kind = "pod"
	}
	if ip.Spec.Namespace == "" {
		return kind + " " + ip.Spec.PodName
	}
	return kind + " " + ip.Spec.Namespace + "/" + ip.Spec.PodName
}
