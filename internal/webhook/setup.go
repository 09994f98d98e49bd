package webhook

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/sets"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/ipam"
)

// Options are the controller settings the rules depend on.
type Options struct {
	// DefaultVpc is the VPC of subnets that name none.
	DefaultVpc string
	// DefaultSubnet serves pods of namespaces bound to no subnet.
	DefaultSubnet string
	// JoinSubnet holds node addresses; pods may not use it.
	JoinSubnet string
	// KeepVMIP is the controller's --keep-vm-ip: whether a stopped VM
	// still holds its addresses (kubevirt.Liveness).
	KeepVMIP bool
}

// IndexIPByAddress indexes IP objects by "<subnet>/<address>" (canonical
// form, every family) and "<subnet>/mac/<mac>", so a conflict check reads
// the holders of one address from the cache instead of every IP object.
const IndexIPByAddress = "kvnet.io/webhook-ip-address"

// Setup registers the IP index with the manager's cache and every handler
// with srv. Pod and VM admission reads from the manager's cache (subnets,
// pools, IP objects, pods: all of which the controllers watch anyway);
// Subnet and IPPool admission, and the rare look-up of a KubeVirt VM, read
// live through the API reader.
func Setup(ctx context.Context, mgr ctrl.Manager, srv webhook.Server, opt Options) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &kubeovnv1.IP{}, IndexIPByAddress, func(o client.Object) []string {
		return AddressKeys(o.(*kubeovnv1.IP))
	}); err != nil {
		return fmt.Errorf("index ips by address: %w", err)
	}
	v := &Validator{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Decoder:   admission.NewDecoder(mgr.GetScheme()),
		Options:   opt,
		Recent:    &RecentSubnets{},
	}
	srv.Register(PathSubnet, &admission.Webhook{Handler: admission.HandlerFunc(v.Subnet)})
	srv.Register(PathIPPool, &admission.Webhook{Handler: admission.HandlerFunc(v.IPPool)})
	srv.Register(PathPod, &admission.Webhook{Handler: admission.HandlerFunc(v.Pod)})
	srv.Register(PathVM, &admission.Webhook{Handler: admission.HandlerFunc(v.VM)})
	return nil
}

// AddressKeys are the IndexIPByAddress values of an IP object.
func AddressKeys(ip *kubeovnv1.IP) []string {
	keys := sets.New[string]()
	for _, s := range []string{ip.Spec.IPAddress, ip.Spec.V4IPAddress, ip.Spec.V6IPAddress} {
		for _, part := range strings.Split(s, ",") {
			if a, err := ipam.ParseAddr(part); err == nil {
				keys.Insert(addrKey(ip.Spec.Subnet, a.String()))
			}
		}
	}
	if m, err := ipam.ParseMAC(ip.Spec.MacAddress); err == nil {
		keys.Insert(macKey(ip.Spec.Subnet, m))
	}
	return sets.List(keys)
}

func addrKey(subnet, canonical string) string { return subnet + "/" + canonical }
func macKey(subnet, canonical string) string  { return subnet + "/mac/" + canonical }
