package pod

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

// applyHeld reconciles the owner's existing holdings with the planned NICs
// according to id.Held: nothing to do for an ordinary pod; a VM that starts
// again gives up holdings its new request no longer matches (another static
// address, MAC or subnet, or a NIC it no longer has); another launcher pod
// of a running VM gets exactly what the VM holds.
func (r *Reconciler) applyHeld(ctx context.Context, pod *corev1.Pod, h *addressing.Holder, nics []addressing.NIC, in addressing.Inputs) ([]addressing.NIC, error) {
	if h.Held == addressing.HeldAsRequested {
		return nics, nil
	}
	tracked := r.Store.Tracked(h.Key)
	if h.Held == addressing.HeldReleased {
		if err := r.dropUnplanned(ctx, h, nics, tracked); err != nil {
			return nil, err
		}
	}
	for i := range nics {
		nic := &nics[i]
		subnet, ok := tracked[nic.Request.Owner]
		if !ok {
			continue
		}
		held, ok := r.Store.IPAM.Lookup(subnet, nic.Request.Owner)
		if !ok || addressing.Matches(nic, subnet, held) {
			continue
		}
		if h.Held == addressing.HeldPinned {
			pinned, err := addressing.Pin(*nic, subnet, held, in)
			if err != nil {
				return nil, err
			}
			*nic = pinned
			continue
		}
		if nic.Request.MAC == "" && subnet == nic.Subnet.Name {
			nic.Request.MAC = held.MAC // a new address for the same NIC, not a new NIC
		}
		r.Store.Release(h.Key, nic.Request.Owner, subnet)
		log.FromContext(ctx).Info("released the address the request no longer matches", "owner", nic.Request.Owner,
			"subnet", subnet, "address", held.IPString(), "mac", held.MAC, "wantSubnet", nic.Subnet.Name, "wantIPs", nic.Request.IPs)
		r.Recorder.Eventf(pod, nil, corev1.EventTypeNormal, "AddressChanged", "AllocateIP",
			"released %s (%s) in %s: the request changed", held.IPString(), held.MAC, subnet)
	}
	return nics, nil
}

// dropUnplanned releases the holdings, ports and IP objects of the
// owner's NICs that the plan no longer has (an attachment removed from a
// VM's template).
func (r *Reconciler) dropUnplanned(ctx context.Context, h *addressing.Holder, nics []addressing.NIC, tracked map[string]string) error {
	planned := map[string]bool{}
	for i := range nics {
		planned[nics[i].Request.Owner] = true
	}
	var gone []string
	for owner := range tracked {
		if !planned[owner] {
			gone = append(gone, owner)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	del, err := ops.DeleteLogicalSwitchPorts(r.NB, gone...)
	if err != nil {
		return err
	}
	if err := ops.Transact(ctx, r.NB, del); err != nil {
		return fmt.Errorf("delete ports of dropped NICs: %w", err)
	}
	for _, owner := range gone {
		r.Store.Release(h.Key, owner, tracked[owner])
		ip := &kubeovnv1.IP{}
		ip.Name = owner
		if err := client.IgnoreNotFound(r.Client.Delete(ctx, ip)); err != nil {
			return fmt.Errorf("delete ip %q: %w", owner, err)
		}
	}
	log.FromContext(ctx).Info("released NICs no longer planned", "owners", gone)
	return nil
}
