package repair

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"
	libovsdb "github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/controller/metrics"
	"github.com/kvnet/kvnet/internal/controller/node"
	"github.com/kvnet/kvnet/internal/controller/pod"
	"github.com/kvnet/kvnet/internal/controller/state"
	"github.com/kvnet/kvnet/internal/controller/vm"
	"github.com/kvnet/kvnet/internal/kubevirt"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

// Repairer is a manager Runnable (leader only).
type Repairer struct {
	// Client reads from the cache; APIReader confirms owners are gone.
	Client    client.Client
	APIReader client.Reader
	NB        libovsdb.Client
	Store     *state.Store
	Interval  time.Duration
	Log       logr.Logger
	// Liveness judges the holders IP objects name.
	Liveness *kubevirt.Liveness
	// VMs releases VM-owned IP objects and ports once the VM is gone,
	// whatever phase its launcher pods are in (B09, B14); nil leaves them
	// alone (KubeVirt not installed).
	VMs *vm.Releaser
}

// NeedLeaderElection: only the leader deletes.
func (r *Repairer) NeedLeaderElection() bool { return true }

// Start runs a pass as soon as the IPAM is ready, then every Interval.
func (r *Repairer) Start(ctx context.Context) error {
	if err := r.Store.WaitReady(ctx); err != nil {
		return nil
	}
	interval := r.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := r.Pass(ctx); err != nil && ctx.Err() == nil {
			r.Log.Error(err, "repair pass failed")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Pass runs one repair pass.
func (r *Repairer) Pass(ctx context.Context) error {
	if err := r.collectIPs(ctx); err != nil {
		return err
	}
	if err := r.collectNB(ctx); err != nil {
		return err
	}
	metrics.RepairPasses.Inc()
	return nil
}

// collectIPs releases the holders of IP objects that are gone (pods,
// nodes and VMs, by kubevirt.Liveness): ports, addresses and records,
// through the same path as a deletion seen live (pod.Release,
// node.Release, vm.Releaser).
func (r *Repairer) collectIPs(ctx context.Context) error {
	var ips kubeovnv1.IPList
	if err := r.Client.List(ctx, &ips); err != nil {
		return fmt.Errorf("list ips: %w", err)
	}
	done := map[string]bool{}
	for i := range ips.Items {
		ip := &ips.Items[i]
		s := &ip.Spec
		id := s.PodType + "/" + s.Namespace + "/" + s.PodName
		if s.PodName == "" || done[id] {
			continue // names no holder (a reservation), or handled
		}
		done[id] = true
		if s.PodType == kubeovnv1.PodTypeVM {
			if err := r.releaseVM(ctx, s.Namespace+"/"+s.PodName); err != nil {
				return err
			}
			continue
		}
		if s.PodType != "" && s.PodType != kubeovnv1.PodTypeNode {
			continue // a kind this pass does not know
		}
		h, err := r.Liveness.IPHolder(ctx, ip)
		if err != nil {
			return err
		}
		if h.State != kubevirt.HolderGone {
			continue
		}
		if s.PodType == kubeovnv1.PodTypeNode {
			err = node.Release(ctx, r.Client, r.NB, r.Store, s.Subnet, s.PodName)
		} else {
			_, err = pod.Release(ctx, r.Client, r.NB, r.Store, ops.OwnerKindPod, s.Namespace, s.PodName)
		}
		if err != nil {
			return err
		}
		metrics.RepairDeletions.WithLabelValues("ip").Inc()
		r.Log.Info("released addresses of a vanished owner", "ip", ip.Name, "holder", id, "address", s.IPAddress, "why", h.Why)
	}
	return nil
}

// releaseVM releases the VM key "<namespace>/<vm>" if it is gone.
func (r *Repairer) releaseVM(ctx context.Context, key string) error {
	ns, name, ok := strings.Cut(key, "/")
	if !ok || r.VMs == nil {
		return nil
	}
	released, err := r.VMs.ReleaseIfGone(ctx, ns, name)
	if released {
		metrics.RepairDeletions.WithLabelValues("ip").Inc()
		r.Log.Info("released the addresses of a deleted VM", "vm", key)
	}
	return err
}

// collectNB deletes, in one transaction, kvnet rows whose owner is gone.
func (r *Repairer) collectNB(ctx context.Context) error {
	var batch []ovsdb.Operation
	lsps, err := ops.OwnedLogicalSwitchPorts(r.NB, "")
	if err != nil {
		return err
	}
	var portNames []string
	vms := map[string]bool{}
	for _, p := range lsps {
		if o, _ := ops.OwnerOf(p.ExternalIDs); o.Kind == ops.OwnerKindVM {
			vms[o.Key] = true // released with the VM's addresses, below
			continue
		}
		if gone, err := r.rowOrphaned(ctx, p.ExternalIDs); err != nil {
			return err
		} else if gone {
			portNames = append(portNames, p.Name)
		}
	}
	o, err := ops.DeleteLogicalSwitchPorts(r.NB, portNames...)
	if err != nil {
		return err
	}
	batch = append(batch, o...)
	lrps, err := ops.OwnedLogicalRouterPorts(r.NB, "")
	if err != nil {
		return err
	}
	var lrpNames []string
	for _, p := range lrps {
		if gone, err := r.rowOrphaned(ctx, p.ExternalIDs); err != nil {
			return err
		} else if gone {
			lrpNames = append(lrpNames, p.Name)
		}
	}
	if o, err = ops.DeleteLogicalRouterPorts(r.NB, lrpNames...); err != nil {
		return err
	}
	batch = append(batch, o...)
	more, n, err := r.orphanSwitchesAndRouters(ctx)
	if err != nil {
		return err
	}
	batch = append(batch, more...)
	if err := ops.Transact(ctx, r.NB, batch); err != nil {
		return fmt.Errorf("delete orphan nb rows: %w", err)
	}
	for key := range vms {
		if err := r.releaseVM(ctx, key); err != nil {
			return err
		}
	}
	if total := len(portNames) + len(lrpNames) + n; total > 0 {
		metrics.RepairDeletions.WithLabelValues("nb-row").Add(float64(total))
		r.Log.Info("deleted orphan nb rows", "switchPorts", portNames, "routerPorts", lrpNames, "switchesAndRouters", n)
	}
	return nil
}

func (r *Repairer) orphanSwitchesAndRouters(ctx context.Context) ([]ovsdb.Operation, int, error) {
	var batch []ovsdb.Operation
	n := 0
	lss, err := ops.OwnedLogicalSwitches(r.NB, "")
	if err != nil {
		return nil, 0, err
	}
	for _, ls := range lss {
		gone, err := r.rowOrphaned(ctx, ls.ExternalIDs)
		if err != nil {
			return nil, 0, err
		}
		if gone {
			o, err := ops.DeleteLogicalSwitch(r.NB, ls.UUID)
			if err != nil {
				return nil, 0, err
			}
			batch, n = append(batch, o...), n+1
		}
	}
	lrs, err := ops.OwnedLogicalRouters(r.NB, "")
	if err != nil {
		return nil, 0, err
	}
	for _, lr := range lrs {
		gone, err := r.rowOrphaned(ctx, lr.ExternalIDs)
		if err != nil {
			return nil, 0, err
		}
		if gone {
			o, err := ops.DeleteLogicalRouter(r.NB, lr.UUID)
			if err != nil {
				return nil, 0, err
			}
			batch, n = append(batch, o...), n+1
		}
	}
	return batch, n, nil
}

// rowOrphaned reports whether a kvnet row's owner is gone. Owner kinds
// this pass does not know are left alone.
func (r *Repairer) rowOrphaned(ctx context.Context, ids map[string]string) (bool, error) {
	o, ok := ops.OwnerOf(ids)
	if !ok {
		return false, nil
	}
	return r.ownerGone(ctx, o.Kind, o.Key)
}

func (r *Repairer) ownerGone(ctx context.Context, kind, key string) (bool, error) {
	var obj client.Object
	k := client.ObjectKey{Name: key}
	switch kind {
	case ops.OwnerKindPod:
		ns, name, ok := strings.Cut(key, "/")
		if !ok {
			return false, nil
		}
		obj, k = &corev1.Pod{}, client.ObjectKey{Namespace: ns, Name: name}
	case ops.OwnerKindNode:
		obj = &corev1.Node{}
	case ops.OwnerKindSubnet:
		obj = &kubeovnv1.Subnet{}
	case ops.OwnerKindVpc:
		obj = &kubeovnv1.Vpc{}
	default:
		return false, nil
	}
	// The cache answers for live owners; only a miss costs an API call.
	if err := r.Client.Get(ctx, k, obj); err == nil {
		return false, nil
	}
	err := r.APIReader.Get(ctx, k, obj)
	switch {
	case apierrors.IsNotFound(err):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("check owner %s %s: %w", kind, key, err)
	}
	return false, nil
}
