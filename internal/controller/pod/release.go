package pod

import (
	"context"
	"fmt"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/client"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/controller/metrics"
	"github.com/kvnet/kvnet/internal/controller/state"
	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

// Release removes what the holder of kind (ops.OwnerKindPod or
// ops.OwnerKindVM) namespace/name holds: its ports first (so no port
// carries an address being reused), then its IPAM holdings, then its IP
// objects. Every step is idempotent. It reports whether anything was held.
// The caller of a VM's release holds the VM's lock (Store.Lock) and has
// decided it is gone; a pod's release takes the pod's lock itself.
func Release(ctx context.Context, c client.Client, nb libovsdb.Client, st *state.Store, kind, namespace, name string) (bool, error) {
	key, index := addressing.PodKey(namespace, name), addressing.IndexIPByPod
	if kind == ops.OwnerKindVM {
		key, index = addressing.VMKey(namespace, name), addressing.IndexIPByVM
	} else {
		defer st.Lock(key)()
	}
	owner := ops.Owner{Kind: kind, Key: namespace + "/" + name}
	var ips kubeovnv1.IPList
	if err := c.List(ctx, &ips, client.MatchingFields{index: owner.Key}); err != nil {
		return false, fmt.Errorf("list ips of %s %s: %w", kind, owner.Key, err)
	}
	ports, err := ops.OwnedBy[nbdb.LogicalSwitchPort](nb, owner)
	if err != nil {
		return false, err
	}
	names := make([]string, 0, len(ports))
	holdings := map[string]string{} // IPAM owner -> subnet
	for _, p := range ports {
		names = append(names, p.Name)
		holdings[p.Name] = p.ExternalIDs[ops.KeySubnet]
	}
	for i := range ips.Items {
		holdings[ips.Items[i].Name] = ips.Items[i].Spec.Subnet
	}
	if len(holdings) == 0 && len(st.Tracked(key)) == 0 {
		return false, nil
	}
	if len(names) > 0 {
		del, err := ops.DeleteLogicalSwitchPorts(nb, names...)
		if err != nil {
			return false, err
		}
		start := time.Now()
		err = ops.Transact(ctx, nb, del)
		metrics.ObserveNB(kind, start, err)
		if err != nil {
			return false, fmt.Errorf("delete ports of %s %s: %w", kind, owner.Key, err)
		}
	}
	freed := st.ReleaseAll(key, holdings)
	for i := range ips.Items {
		if err := client.IgnoreNotFound(c.Delete(ctx, &ips.Items[i])); err != nil {
			return true, fmt.Errorf("delete ip %q: %w", ips.Items[i].Name, err)
		}
	}
	addrs := make([]string, len(freed))
	for i, a := range freed {
		addrs[i] = a.IPString()
	}
	log.FromContext(ctx).Info(kind+" released", kind, owner.Key, "ports", names, "addresses", addrs, "ips", len(ips.Items))
	return true, nil
}
