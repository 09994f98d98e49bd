package vm

import (
	"context"

	libovsdb "github.com/ovn-kubernetes/libovsdb/client"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/controller/migration"
	"github.com/kvnet/kvnet/internal/controller/pod"
	"github.com/kvnet/kvnet/internal/controller/state"
	"github.com/kvnet/kvnet/internal/kubevirt"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

// Releaser releases what a VM holds once kubevirt.Liveness says it is gone.
type Releaser struct {
	Client   client.Client
	NB       libovsdb.Client
	Store    *state.Store
	Liveness *kubevirt.Liveness
	// Placer forgets what it remembers of a VM released.
	Placer *migration.Placer
}

// ReleaseIfGone releases the VM namespace/name's ports, addresses and IP
// objects if it no longer keeps them, and reports whether it did. The
// check and the release run under the VM's lock, so a launcher pod being
// addressed at the same time is never half released; every holding is
// released once however many events and passes ask.
func (r *Releaser) ReleaseIfGone(ctx context.Context, namespace, name string) (bool, error) {
	key := addressing.VMKey(namespace, name)
	defer r.Store.Lock(key)()
	alive, err := r.Liveness.VMAlive(ctx, namespace, name)
	if err != nil || alive {
		return false, err
	}
	r.Placer.Forget(key)
	return pod.Release(ctx, r.Client, r.NB, r.Store, ops.OwnerKindVM, namespace, name)
}
