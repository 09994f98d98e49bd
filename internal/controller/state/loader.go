package state

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/validation"
)

// Loader is a manager Runnable (leader-elected, like the reconcilers) that
// rebuilds the IPAM from the API and then opens the store's gate.
type Loader struct {
	Store  *Store
	Reader client.Reader
	// WaitForCacheSync, when set, is called before reading (the manager's cache).
	WaitForCacheSync func(context.Context) bool
	Log              logr.Logger
}

// NeedLeaderElection makes the loader run only on the leader, right before
// its reconcilers could allocate.
func (l *Loader) NeedLeaderElection() bool { return true }

// Start rebuilds the IPAM and opens the gate. It returns when done.
func (l *Loader) Start(ctx context.Context) error {
	if l.WaitForCacheSync != nil && !l.WaitForCacheSync(ctx) {
		return fmt.Errorf("ipam rebuild: cache did not sync")
	}
	start := time.Now()
	n, err := Rebuild(ctx, l.Store, l.Reader, l.Log)
	if err != nil {
		return err
	}
	l.Log.Info("ipam rebuilt from persisted objects", "ips", n, "duration", time.Since(start))
	l.Store.MarkReady()
	return nil
}

// Rebuild loads every valid Subnet, every IPPool and every IP object into
// the store's IPAM and returns the number of IP objects restored. Records
// that cannot be restored (invalid subnet, two records claiming one address)
// are logged and skipped: the repair pass and the reconcilers report them.
// IP objects whose owner is gone are restored too, so their addresses count
// as used until the repair pass removes them (B08).
func Rebuild(ctx context.Context, st *Store, r client.Reader, log logr.Logger) (int, error) {
	var subnets kubeovnv1.SubnetList
	if err := r.List(ctx, &subnets); err != nil {
		return 0, fmt.Errorf("list subnets: %w", err)
	}
	for i := range subnets.Items {
		sn := &subnets.Items[i]
		if err := validation.Subnet(&sn.Spec); err != nil {
			log.Info("skipping invalid subnet", "subnet", sn.Name, "error", err.Error())
			continue
		}
		if _, err := st.IPAM.AddOrUpdateSubnet(addressing.SubnetConfig(sn)); err != nil {
			log.Info("skipping subnet the ipam refuses", "subnet", sn.Name, "error", err.Error())
		}
	}
	var pools kubeovnv1.IPPoolList
	if err := r.List(ctx, &pools); err != nil {
		return 0, fmt.Errorf("list ip pools: %w", err)
	}
	for i := range pools.Items {
		p := &pools.Items[i]
		if err := st.IPAM.AddOrUpdatePool(p.Spec.Subnet, p.Name, p.Spec.IPs); err != nil {
			log.Info("skipping ip pool", "ippool", p.Name, "error", err.Error())
			continue
		}
		st.SetPoolSubnet(p.Name, p.Spec.Subnet)
	}
	var ips kubeovnv1.IPList
	if err := r.List(ctx, &ips); err != nil {
		return 0, fmt.Errorf("list ips: %w", err)
	}
	restored := 0
	for i := range ips.Items {
		ip := &ips.Items[i]
		if _, err := st.IPAM.Allocate(addressing.IPRequest(ip)); err != nil {
			log.Info("cannot restore ip record", "ip", ip.Name, "error", err.Error())
			continue
		}
		if key := addressing.TrackKey(ip); key != "" {
			st.Track(key, ip.Name, ip.Spec.Subnet)
		}
		restored++
	}
	return restored, nil
}
