package addressing

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/annotations"
	"github.com/kvnet/kvnet/internal/ipam"
	"github.com/kvnet/kvnet/internal/validation"
)

// ProviderOVN is the provider of the primary network.
const ProviderOVN = "ovn"

// Key returns the annotation key of base (an ovn.kubernetes.io/ key) for provider.
func Key(provider, base string) string {
	if provider == ProviderOVN {
		return base
	}
	return provider + ".kubernetes.io/" + strings.TrimPrefix(base, annotations.Prefix)
}

// Inputs are the cluster objects Plan reads.
type Inputs struct {
	Subnets       []kubeovnv1.Subnet
	Pools         []kubeovnv1.IPPool
	DefaultSubnet string
	JoinSubnet    string

	// Vpcs bind namespaces to VPCs and limit the namespaces a VPC serves.
	Vpcs []kubeovnv1.Vpc
}

// NIC is one interface of a pod.
type NIC struct {
	Provider string
	Port     string // port, IP object and IPAM owner name
	Subnet   *kubeovnv1.Subnet
	Network  validation.Network
	Request  ipam.Request
	// HasPort is false for IPAM-only attachments (no OVN port).
	HasPort bool
	// MACOnlyPortSecurity: the port checks the MAC only, not the IPs (the
	// pod forwards traffic for others, e.g. a VPC route's next hop).
	MACOnlyPortSecurity bool
}

// Plan works out a pod's NICs: the primary one and each attachment a kvnet
// subnet serves. It reads only its arguments.
func Plan(pod *corev1.Pod, port string, in Inputs) ([]NIC, error) {
	primary, err := planNIC(pod, ProviderOVN, port, in)
	if err != nil {
		return nil, err
	}
	nics := []NIC{primary}
	refs, err := parseNetworks(pod.Annotations[annotations.MultusNetworks], pod.Namespace)
	if err != nil {
		return nil, Errorf("InvalidNetworks", false, "annotation %s: %v", annotations.MultusNetworks, err)
	}
	for _, ref := range refs {
		for _, provider := range []string{ref.Name + "." + ref.Namespace + "." + ProviderOVN, ref.Name + "." + ref.Namespace} {
			if !servesProvider(in.Subnets, provider) && pod.Annotations[Key(provider, annotations.LogicalSwitch)] == "" {
				continue
			}
			nic, err := planNIC(pod, provider, AttachmentPortName(port, provider), in)
			if err != nil {
				return nil, err
			}
			nics = append(nics, nic)
			break
		}
	}
	return nics, nil
}

func planNIC(pod *corev1.Pod, provider, port string, in Inputs) (NIC, error) {
	ann := pod.Annotations
	sn, err := pickSubnet(pod, provider, in)
	if err != nil {
		return NIC{}, err
	}
	if sn.Name == in.JoinSubnet {
		return NIC{}, Errorf("SubnetNotAllowed", false, "subnet %q is reserved for node ports", sn.Name)
	}
	if err := validation.NamespaceMayUse(&sn.Spec, pod.Namespace); err != nil {
		return NIC{}, Errorf("SubnetNotAllowed", false, "subnet %q: %w", sn.Name, err)
	}
	if err := validation.NamespaceMayUseVpc(in.Vpcs, sn.Spec.Vpc, pod.Namespace); err != nil {
		return NIC{}, Errorf("SubnetNotAllowed", false, "subnet %q: %w", sn.Name, err)
	}
	network, err := validation.ParseNetwork(&sn.Spec)
	if err != nil {
		return NIC{}, Errorf("SubnetNotReady", true, "subnet %q is invalid: %w", sn.Name, err)
	}
	req := ipam.Request{Subnet: sn.Name, Owner: port, MAC: strings.TrimSpace(ann[Key(provider, annotations.MACAddress)])}
	if ip := strings.TrimSpace(ann[Key(provider, annotations.IPAddress)]); ip != "" {
		req.IPs = []string{ip}
	}
	if err := applyPool(pod, provider, sn.Name, in.Pools, &req); err != nil {
		return NIC{}, err
	}
	hasPort := provider == ProviderOVN || strings.HasSuffix(provider, "."+ProviderOVN)
	return NIC{Provider: provider, Port: port, Subnet: sn, Network: network, Request: req, HasPort: hasPort,
		MACOnlyPortSecurity: annotations.PortSecurityOff(ann[Key(provider, annotations.PortSecurity)])}, nil
}

// pickSubnet: the logical_switch annotation, else the named pool's subnet,
// else (primary NIC) the namespace's subnet or the default subnet, or
// (attachment) the subnet serving the provider.
func pickSubnet(pod *corev1.Pod, provider string, in Inputs) (*kubeovnv1.Subnet, error) {
	name := strings.TrimSpace(pod.Annotations[Key(provider, annotations.LogicalSwitch)])
	if name == "" {
		if p := findPool(in.Pools, pod.Annotations[Key(provider, annotations.IPPool)]); p != nil {
			name = p.Spec.Subnet
		}
	}
	if name != "" {
		if sn := findSubnet(in.Subnets, name); sn != nil {
			return sn, nil
		}
		return nil, Errorf("SubnetNotFound", true, "subnet %q does not exist", name)
	}
	if provider == ProviderOVN {
		// Namespace binding: Subnet.spec.namespaces, Vpc.spec.namespaces, defaults.
		sn, err := validation.SubnetForNamespace(in.Subnets, in.Vpcs, pod.Namespace, in.DefaultSubnet)
		if err != nil {
			return nil, Errorf("SubnetNotFound", true, "%w", err)
		}
		return sn, nil
	}
	var cands []*kubeovnv1.Subnet
	for i := range in.Subnets {
		if sn := &in.Subnets[i]; sn.Spec.Provider == provider {
			cands = append(cands, sn)
		}
	}
	if len(cands) == 0 {
		return nil, Errorf("SubnetNotFound", true, "no subnet for provider %q in namespace %q", provider, pod.Namespace)
	}
	// Oldest first: of two subnets claiming a namespace, the refused one is the younger (B04).
	slices.SortFunc(cands, func(a, b *kubeovnv1.Subnet) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return cands[0], nil
}

// applyPool adds the ip_pool annotation (a pool name or a list of
// addresses), or a pool bound to the pod's namespace, to the request.
func applyPool(pod *corev1.Pod, provider, subnet string, pools []kubeovnv1.IPPool, req *ipam.Request) error {
	v := strings.TrimSpace(pod.Annotations[Key(provider, annotations.IPPool)])
	if v == "" {
		for i := range pools {
			p := &pools[i]
			if p.Spec.Subnet == subnet && slices.Contains(p.Spec.Namespaces, pod.Namespace) {
				req.Pool = p.Name
				return nil
			}
		}
		return nil
	}
	if p := findPool(pools, v); p != nil {
		if p.Spec.Subnet != subnet {
			return Errorf("IPPoolMismatch", false, "IP pool %q belongs to subnet %q, not %q", p.Name, p.Spec.Subnet, subnet)
		}
		if len(p.Spec.Namespaces) > 0 && !slices.Contains(p.Spec.Namespaces, pod.Namespace) {
			return Errorf("IPPoolNotAllowed", false, "IP pool %q does not serve namespace %q", p.Name, pod.Namespace)
		}
		req.Pool = p.Name
		return nil
	}
	for _, c := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
		req.Candidates = append(req.Candidates, c)
	}
	if len(req.Candidates) > 0 && !strings.ContainsAny(v, ".:") {
		return Errorf("IPPoolNotReady", true, "IP pool %q does not exist", v)
	}
	return nil
}

func servesProvider(subnets []kubeovnv1.Subnet, provider string) bool {
	for i := range subnets {
		if subnets[i].Spec.Provider == provider {
			return true
		}
	}
	return false
}

func findSubnet(subnets []kubeovnv1.Subnet, name string) *kubeovnv1.Subnet {
	for i := range subnets {
		if subnets[i].Name == name {
			return &subnets[i]
		}
	}
	return nil
}

func findPool(pools []kubeovnv1.IPPool, name string) *kubeovnv1.IPPool {
	name = strings.TrimSpace(name)
	for i := range pools {
		if pools[i].Name == name {
			return &pools[i]
		}
	}
	return nil
}

type netRef struct{ Namespace, Name string }

// parseNetworks reads the Multus networks annotation: "name", "ns/name",
// "ns/name@iface" comma-separated, or a JSON list of {name, namespace}.
func parseNetworks(v, podNS string) ([]netRef, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	var refs []netRef
	if strings.HasPrefix(v, "[") {
		var sel []struct{ Name, Namespace string }
		if err := json.Unmarshal([]byte(v), &sel); err != nil {
			return nil, err
		}
		for _, s := range sel {
			refs = append(refs, netRef{Namespace: s.Namespace, Name: s.Name})
		}
	} else {
		for _, e := range strings.Split(v, ",") {
			e, _, _ = strings.Cut(strings.TrimSpace(e), "@")
			ns, name, ok := strings.Cut(e, "/")
			if !ok {
				ns, name = "", ns
			}
			refs = append(refs, netRef{Namespace: ns, Name: name})
		}
	}
	for i := range refs {
		if refs[i].Namespace == "" {
			refs[i].Namespace = podNS
		}
		if refs[i].Name == "" {
			return nil, errors.New("network without a name")
		}
	}
	return refs, nil
}
