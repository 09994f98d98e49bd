package pod

import (
	"context"
	"fmt"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/client"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/controller/metrics"
	"github.com/kvnet/kvnet/internal/controller/state"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

// IndexIPByPod indexes IP objects of pods by "<namespace>/<pod>".
const IndexIPByPod = "kvnet.io/ip-pod"

// IPPodKey is the IndexIPByPod value of an IP object ("" for non-pod owners).
func IPPodKey(ip *kubeovnv1.IP) string {
	if ip.Spec.PodType != "" || ip.Spec.Namespace == "" || ip.Spec.PodName == "" {
		return ""
	}
	return ip.Spec.Namespace + "/" + ip.Spec.PodName
}

// Release removes what the pod key ("<namespace>/<name>") owns: its ports
// first (so no port carries an address being reused), then its IPAM
// holdings, then its IP objects. Every step is idempotent.
func Release(ctx context.Context, c client.Client, nb libovsdb.Client, st *state.Store, key string) error {
	defer st.Lock(key)()
	var ips kubeovnv1.IPList
	if err := c.List(ctx, &ips, client.MatchingFields{IndexIPByPod: key}); err != nil {
		return fmt.Errorf("list ips of pod %s: %w", key, err)
	}
	ports, err := ops.OwnedLogicalSwitchPorts(nb, ops.OwnerKindPod)
	if err != nil {
		return err
	}
	var names []string
	holdings := map[string]string{} // owner -> subnet
	for _, p := range ports {
		if p.ExternalIDs[ops.KeyOwner] == key {
			names = append(names, p.Name)
			holdings[p.Name] = p.ExternalIDs[ops.KeySubnet]
		}
	}
	for i := range ips.Items {
		holdings[ips.Items[i].Name] = ips.Items[i].Spec.Subnet
	}
	for owner, subnet := range st.Tracked(key) {
		holdings[owner] = subnet
	}
	if len(holdings) == 0 {
		return nil
	}
	del, err := ops.DeleteLogicalSwitchPorts(nb, names...)
	if err != nil {
		return err
	}
	start := time.Now()
	err = ops.Transact(ctx, nb, del)
	metrics.ObserveNB("pod", start, err)
	if err != nil {
		return fmt.Errorf("delete ports of pod %s: %w", key, err)
	}
	for owner, subnet := range holdings {
		if _, held := st.IPAM.Lookup(subnet, owner); held {
			st.IPAM.Release(subnet, owner)
			metrics.Releases.WithLabelValues(subnet).Inc()
			st.UsageChanged(subnet)
		}
	}
	st.Untrack(key)
	for i := range ips.Items {
		if err := client.IgnoreNotFound(c.Delete(ctx, &ips.Items[i])); err != nil {
			return fmt.Errorf("delete ip %q: %w", ips.Items[i].Name, err)
		}
	}
	log.FromContext(ctx).Info("pod released", "pod", key, "ports", names, "ips", len(ips.Items))
	return nil
}
