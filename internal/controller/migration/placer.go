package migration

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	corev1 "k8s.io/api/core/v1"

	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/annotations"
	"github.com/kvnet/kvnet/internal/controller/metrics"
	"github.com/kvnet/kvnet/internal/kubevirt"
	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

// PendingRetry is how soon a VM whose migration target has no node yet
// is looked at again (the target pod's own events usually come first).
const PendingRetry = time.Second

// DefaultSettle is how long a port keeps both chassis after a migration
// succeeded. QEMU announces at 0, 50, 200, 450 and 800 ms after the guest
// resumes; a second covers all but the last of them.
const DefaultSettle = time.Second

// Placer turns a Binding into the options written on a VM's ports. It is
// shared by the reconcilers that write those ports, and holds the only
// state of this package: migration-driven changes waiting out Delay.
type Placer struct {
	NB   libovsdb.Client
	Mode Mode
	// Delay holds back migration-driven option changes (benchmark only).
	Delay time.Duration
	// Settle is how long the hand-over binding stays after a migration
	// succeeded (Binding.HandOver); 0 is DefaultSettle, negative none.
	Settle time.Duration
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time

	mu       sync.Mutex
	pending  map[string]pendingChange // VM key -> change waiting out Delay
	settling map[string]pendingChange // VM key -> hand-over kept since
}

type pendingChange struct {
	options map[string]string
	since   time.Time
}

// Options returns the options to write on the ports of the VM vmKey now
// (current are those the VM's ports have, nil when it has none yet) and
// how soon to look again: the desired ones, or, while a migration-driven
// change waits out Delay, the current ones.
func (p *Placer) Options(vmKey string, b Binding, current map[string]string) (map[string]string, time.Duration) {
	want := b.Options()
	var retry time.Duration
	if b.Pending {
		retry = PendingRetry
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	if left := p.settle(vmKey, b, current, now); left > 0 {
		return current, left
	}
	if p.Delay <= 0 || !b.MigrationDriven || current == nil || maps.Equal(want, current) {
		delete(p.pending, vmKey)
		return want, retry
	}
	pc, ok := p.pending[vmKey]
	if !ok || !maps.Equal(pc.options, want) {
		if p.pending == nil {
			p.pending = map[string]pendingChange{}
		}
		pc = pendingChange{options: want, since: now}
		p.pending[vmKey] = pc
	}
	if left := p.Delay - now.Sub(pc.since); left > 0 {
		return current, minPositive(retry, left)
	}
	delete(p.pending, vmKey)
	return want, retry
}

// settle returns how much longer the port must keep the hand-over binding
// of a migration that succeeded: while it still has it, for Settle from
// when this placer first saw the success. Once the port has moved on, a
// replay of the migration changes nothing.
func (p *Placer) settle(vmKey string, b Binding, current map[string]string, now time.Time) time.Duration {
	grace := p.Settle
	if grace == 0 {
		grace = DefaultSettle
	}
	if grace < 0 || b.HandOver == nil || current == nil || !maps.Equal(current, b.HandOver.Options()) {
		delete(p.settling, vmKey)
		return 0
	}
	want := b.Options()
	pc, ok := p.settling[vmKey]
	if !ok || !maps.Equal(pc.options, want) {
		if p.settling == nil {
			p.settling = map[string]pendingChange{}
		}
		pc = pendingChange{options: want, since: now}
		p.settling[vmKey] = pc
	}
	if left := grace - now.Sub(pc.since); left > 0 {
		return left
	}
	delete(p.settling, vmKey)
	return 0
}

// Forget drops what the placer remembers of a VM (it is gone).
func (p *Placer) Forget(vmKey string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.pending, vmKey)
	delete(p.settling, vmKey)
}

// CurrentOptions returns the options of the VM's primary port, or of any
// of its ports, and nil when it has none.
func (p *Placer) CurrentOptions(primary string, ports []nbdb.LogicalSwitchPort) map[string]string {
	for i := range ports {
		if ports[i].Name == primary {
			return nonNil(ports[i].Options)
		}
	}
	if len(ports) > 0 {
		return nonNil(ports[0].Options)
	}
	return nil
}

// Ports lists the NB ports the VM namespace/name owns (owner index), by name.
func (p *Placer) Ports(namespace, name string) ([]nbdb.LogicalSwitchPort, error) {
	out, err := ops.OwnedBy[nbdb.LogicalSwitchPort](p.NB, ops.Owner{Kind: ops.OwnerKindVM, Key: addressing.VMOwnerKey(namespace, name)})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b nbdb.LogicalSwitchPort) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Apply writes the binding of the VM namespace/name (objs as read) on the
// ports it already has, in one transaction, and returns the binding and
// how soon to look again. A VM without ports is left to the pod reconciler.
func (p *Placer) Apply(ctx context.Context, namespace, name string, objs *kubevirt.Objects) (Binding, time.Duration, error) {
	b := Desired(Inputs{VMI: objs.VMI, Migrations: objs.Migrations, Pods: objs.Pods, Mode: p.Mode})
	ports, err := p.Ports(namespace, name)
	if err != nil || len(ports) == 0 {
		return b, 0, err
	}
	opts, retry := p.Options(addressing.VMKey(namespace, name), b, p.CurrentOptions(addressing.VMPortName(name, namespace), ports))
	var batch []ovsdb.Operation
	for i := range ports {
		o, err := ops.SetLogicalSwitchPortOptions(p.NB, ports[i].Name, opts)
		if err != nil {
			return b, 0, err
		}
		batch = append(batch, o...)
	}
	if len(batch) == 0 {
		return b, retry, nil
	}
	start := time.Now()
	err = ops.Transact(ctx, p.NB, batch)
	metrics.ObserveNB("migration", start, err)
	if err != nil {
		return b, 0, fmt.Errorf("place ports of vm %s/%s: %w", namespace, name, err)
	}
	return b, retry, nil
}

// unplacedRetry is how soon a scheduled launcher pod whose port is not
// placed on its node yet is looked at again (the migration object may lag
// in the cache, or a benchmark delay holds the change back).
const unplacedRetry = 200 * time.Millisecond

// Placement is where a launcher pod's VM ports are to be bound and whether
// the pod may use them.
type Placement struct {
	// Options are the ports' options (requested-chassis, activation-strategy).
	Options map[string]string
	// Route: the pod may be routed (its port is requested on its node, so
	// the agent's wait for ovn-installed succeeds there).
	Route bool
	// Annotations are added to the pod with the routed ones.
	Annotations map[string]string
	// RequeueAfter asks for another look (0: none).
	RequeueAfter time.Duration
}

// PlaceLauncher computes the binding of the VM's ports for launcher pod p
// (vm: the VM's objects, p among its Pods), as the migration reconciler
// does, and lets p be routed only once its port is requested on p's node.
func (p *Placer) PlaceLauncher(pod *corev1.Pod, vm *kubevirt.Objects) (Placement, error) {
	ns, name := pod.Namespace, vm.VMI.Name
	b := Desired(Inputs{VMI: vm.VMI, Migrations: vm.Migrations, Pods: vm.Pods, Mode: p.Mode})
	ports, err := p.Ports(ns, name)
	if err != nil {
		return Placement{}, err
	}
	opts, retry := p.Options(addressing.VMKey(ns, name), b, p.CurrentOptions(addressing.VMPortName(name, ns), ports))
	node := pod.Spec.NodeName
	pl := Placement{Options: opts, Route: node != "" && slices.Contains(ChassisOf(opts), node), RequeueAfter: retry}
	if p.Mode == Naive && node != "" && b.Migration != "" && kubevirt.MigrationUID(pod) == b.Migration && b.Target == node {
		// Naive hand-over: the port stays on the source until the
		// migration succeeds, so the target never sees ovn-installed.
		pl.Route, pl.Annotations = true, map[string]string{annotations.SkipOVNInstalled: "true"}
	}
	if !pl.Route && node != "" && (pl.RequeueAfter == 0 || pl.RequeueAfter > unplacedRetry) {
		pl.RequeueAfter = unplacedRetry
	}
	return pl, nil
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func minPositive(a, b time.Duration) time.Duration {
	if a <= 0 || (b > 0 && b < a) {
		return b
	}
	return a
}
