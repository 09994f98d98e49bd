package vm

import (
	"context"
	"fmt"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/client"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/controller/metrics"
	"github.com/kvnet/kvnet/internal/controller/state"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

// IndexIPByVM indexes the IP objects of VMs by "<namespace>/<vm>".
const IndexIPByVM = "kvnet.io/ip-vm"

// IPVMKey is the IndexIPByVM value of an IP object ("" for other owners).
func IPVMKey(ip *kubeovnv1.IP) string {
	if ip.Spec.PodType != state.PodTypeVM || ip.Spec.Namespace == "" || ip.Spec.PodName == "" {
		return ""
	}
	return ip.Spec.Namespace + "/" + ip.Spec.PodName
}

// IndexIPs registers IndexIPByVM with the manager's cache.
func IndexIPs(ctx context.Context, mgr ctrl.Manager) error {
	return mgr.GetFieldIndexer().IndexField(ctx, &kubeovnv1.IP{}, IndexIPByVM, func(o client.Object) []string {
		if k := IPVMKey(o.(*kubeovnv1.IP)); k != "" {
			return []string{k}
		}
		return nil
	})
}

// Releaser releases what a VM holds once Liveness says it is gone.
type Releaser struct {
	Client   client.Client
	NB       libovsdb.Client
	Store    *state.Store
	Liveness *Liveness
	// Forget, if set, is told the VMs released (the placer's memory).
	Forget func(vmKey string)
}

// Alive is Liveness.Alive.
func (r *Releaser) Alive(ctx context.Context, namespace, name string) (bool, error) {
	return r.Liveness.Alive(ctx, namespace, name)
}

// ReleaseIfGone releases the VM namespace/name's ports, addresses and IP
// objects if it no longer keeps them, and reports whether it did. The
// check and the release run under the VM's lock, so a launcher pod being
// addressed at the same time is never half released; every holding is
// released once however many events and passes ask.
func (r *Releaser) ReleaseIfGone(ctx context.Context, namespace, name string) (bool, error) {
	key := state.VMKey(namespace, name)
	defer r.Store.Lock(key)()
	alive, err := r.Liveness.Alive(ctx, namespace, name)
	if err != nil || alive {
		return false, err
	}
	if r.Forget != nil {
		r.Forget(key)
	}
	return r.release(ctx, namespace, name)
}

// release removes the ports first (so no port carries an address being
// reused), then the holdings, then the IP objects.
func (r *Releaser) release(ctx context.Context, namespace, name string) (bool, error) {
	key := state.VMKey(namespace, name)
	owner := namespace + "/" + name
	var ips kubeovnv1.IPList
	if err := r.Client.List(ctx, &ips, client.MatchingFields{IndexIPByVM: owner}); err != nil {
		return false, fmt.Errorf("list ips of vm %s: %w", owner, err)
	}
	ports, err := ops.OwnedLogicalSwitchPorts(r.NB, ops.OwnerKindVM)
	if err != nil {
		return false, err
	}
	var names []string
	holdings := map[string]string{} // IPAM owner -> subnet
	for _, p := range ports {
		if p.ExternalIDs[ops.KeyOwner] == owner {
			names = append(names, p.Name)
			holdings[p.Name] = p.ExternalIDs[ops.KeySubnet]
		}
	}
	for i := range ips.Items {
		holdings[ips.Items[i].Name] = ips.Items[i].Spec.Subnet
	}
	for o, subnet := range r.Store.Tracked(key) {
		holdings[o] = subnet
	}
	if len(holdings) == 0 {
		return false, nil
	}
	del, err := ops.DeleteLogicalSwitchPorts(r.NB, names...)
	if err != nil {
		return false, err
	}
	start := time.Now()
	err = ops.Transact(ctx, r.NB, del)
	if len(del) > 0 {
		metrics.ObserveNB("vm", start, err)
	}
	if err != nil {
		return false, fmt.Errorf("delete ports of vm %s: %w", owner, err)
	}
	var released []string
	for o, subnet := range holdings {
		if a, held := r.Store.IPAM.Lookup(subnet, o); held {
			r.Store.IPAM.Release(subnet, o)
			metrics.Releases.WithLabelValues(subnet).Inc()
			r.Store.UsageChanged(subnet)
			released = append(released, a.IPString())
		}
	}
	r.Store.Untrack(key)
	for i := range ips.Items {
		if err := client.IgnoreNotFound(r.Client.Delete(ctx, &ips.Items[i])); err != nil {
			return true, fmt.Errorf("delete ip %q: %w", ips.Items[i].Name, err)
		}
	}
	log.FromContext(ctx).Info("vm released", "vm", owner, "ports", names, "addresses", released, "ips", len(ips.Items))
	return true, nil
}
