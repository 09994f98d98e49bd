package chaos

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kvnet/kvnet/internal/sandbox"
)

// churn does one random action every 100-600 ms until ctx ends.
func (r *run) churn(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(100+r.rng.IntN(500)) * time.Millisecond):
		}
		// Each action gets its own bounded context: the churn's may end mid-call.
		actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r.step(actx)
		cancel()
	}
}

func (r *run) step(ctx context.Context) {
	ns := r.cfg.Namespace
	var pods corev1.PodList
	var vms kubevirtv1.VirtualMachineList
	if err := r.c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": "kvnet-chaos"}); err != nil {
		r.count("list", err)
		return
	}
	if err := r.c.List(ctx, &vms, client.InNamespace(ns)); err != nil {
		r.count("list", err)
		return
	}
	var mine []corev1.Pod
	for _, p := range pods.Items {
		if p.Name != ProberName && p.DeletionTimestamp == nil {
			mine = append(mine, p)
		}
	}
	r.seq++
	switch n := r.rng.IntN(100); {
	case n < 30 && len(mine) < r.cfg.MaxPods:
		node := sandbox.NodeName(1 + r.rng.IntN(r.cfg.Sandbox.Nodes))
		r.count("create-pod", r.c.Create(ctx, pod(ns, fmt.Sprintf("p%d", r.seq), node)))
	case n < 50 && len(mine) > 0:
		p := mine[r.rng.IntN(len(mine))]
		r.count("delete-pod", r.c.Delete(ctx, &p))
	case n < 62 && len(vms.Items) < r.cfg.MaxVMs:
		r.count("create-vm", r.c.Create(ctx, vm(ns, fmt.Sprintf("vm%d", r.seq))))
	case n < 67 && len(vms.Items) > 0:
		v := vms.Items[r.rng.IntN(len(vms.Items))]
		r.count("delete-vm", r.c.Delete(ctx, &v))
	case n < 82 && len(vms.Items) > 0:
		v := vms.Items[r.rng.IntN(len(vms.Items))]
		s, what := kubevirtv1.RunStrategyHalted, "stop-vm"
		if v.Spec.RunStrategy != nil && *v.Spec.RunStrategy == kubevirtv1.RunStrategyHalted {
			s, what = kubevirtv1.RunStrategyAlways, "start-vm"
		}
		patch := client.MergeFrom(v.DeepCopy())
		v.Spec.RunStrategy = ptr.To(s)
		r.count(what, r.c.Patch(ctx, &v, patch))
	case len(vms.Items) > 0:
		v := vms.Items[r.rng.IntN(len(vms.Items))]
		var vmi kubevirtv1.VirtualMachineInstance
		if err := r.c.Get(ctx, client.ObjectKeyFromObject(&v), &vmi); err != nil || vmi.Status.Phase != kubevirtv1.Running || vmi.Status.MigrationState != nil && !vmi.Status.MigrationState.Completed {
			return
		}
		m := &kubevirtv1.VirtualMachineInstanceMigration{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("mig%d", r.seq), Namespace: ns},
			Spec: kubevirtv1.VirtualMachineInstanceMigrationSpec{VMIName: v.Name}}
		r.count("migrate-vm", r.c.Create(ctx, m))
	}
}
