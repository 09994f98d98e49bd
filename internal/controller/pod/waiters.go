package pod

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// waiters are the pods whose last reconcile waited for a subnet or an IP
// pool (SubnetNotFound, SubnetNotReady, IPPoolNotReady). Any Subnet or
// IPPool event re-queues them, so a pod applied in the same manifest as its
// subnet is addressed as soon as the subnet is, not at the next timed retry.
// Safe for concurrent use; the zero value is ready.
type waiters struct {
	mu sync.Mutex
	m  map[types.NamespacedName]struct{}
}

// waitReasons are the plan failures a subnet or pool event can end.

func (w *waiters) add(k types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[types.NamespacedName]struct{}{}
	}
	w.m[k] = struct{}{}
}

func (w *waiters) remove(k types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, k)
}

// wake maps a Subnet or IPPool event to the waiting pods.
func (w *waiters) wake(context.Context, client.Object) []reconcile.Request {
	w.mu.Lock()
	defer w.mu.Unlock()
	reqs := make([]reconcile.Request, 0, len(w.m))
	for k := range w.m {
		reqs = append(reqs, reconcile.Request{NamespacedName: k})
	}
	return reqs
}
