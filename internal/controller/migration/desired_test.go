package migration

import (
	"maps"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

var t0 = time.Unix(1_800_000_000, 0)

func vmi(node string, ms *kubevirtv1.VirtualMachineInstanceMigrationState) *kubevirtv1.VirtualMachineInstance {
	return &kubevirtv1.VirtualMachineInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "vm-a", UID: "vmi-1"},
		Status:     kubevirtv1.VirtualMachineInstanceStatus{Phase: kubevirtv1.Running, NodeName: node, MigrationState: ms},
	}
}

// launcher is a launcher pod of vm-a created for VMI vmiUID at second age.
func launcher(name, node string, age int, vmiUID, migrationUID string, phase corev1.PodPhase) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("uid-" + name),
		CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(age) * time.Second)),
		Labels:            map[string]string{kubevirtv1.AppLabel: "virt-launcher", kubevirtv1.CreatedByLabel: vmiUID},
		Annotations:       map[string]string{kubevirtv1.DomainAnnotation: "vm-a"}},
		Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: phase}}
	if migrationUID != "" {
		p.Labels[kubevirtv1.MigrationJobLabel] = migrationUID
	}
	return p
}

func vmim(uid string, age int, phase kubevirtv1.VirtualMachineInstanceMigrationPhase) kubevirtv1.VirtualMachineInstanceMigration {
	return kubevirtv1.VirtualMachineInstanceMigration{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "m-" + uid, UID: types.UID(uid),
			CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(age) * time.Second))},
		Spec:   kubevirtv1.VirtualMachineInstanceMigrationSpec{VMIName: "vm-a"},
		Status: kubevirtv1.VirtualMachineInstanceMigrationStatus{Phase: phase},
	}
}

func mstate(uid, src, dst string, completed, failed bool) *kubevirtv1.VirtualMachineInstanceMigrationState {
	return &kubevirtv1.VirtualMachineInstanceMigrationState{MigrationUID: types.UID(uid), SourceNode: src, TargetNode: dst,
		Completed: completed, Failed: failed}
}

func TestDesired(t *testing.T) {
	running := corev1.PodRunning
	src := launcher("src", "node-1", 0, "vmi-1", "", running)
	unscheduled := launcher("tgt", "", 10, "vmi-1", "m1", corev1.PodPending)
	scheduled := launcher("tgt", "node-2", 10, "vmi-1", "m1", corev1.PodPending)
	deleting := scheduled
	deleting.DeletionTimestamp = &metav1.Time{Time: t0}
	abortedM1 := vmim("m1", 5, kubevirtv1.MigrationScheduling)
	abortedM1.DeletionTimestamp = &metav1.Time{Time: t0}
	handOver := Binding{Chassis: []string{"node-1", "node-2"}, Activation: ActivationRARP}
	multi := func(chassis ...string) Binding {
		return Binding{Chassis: chassis, Activation: ActivationRARP, Migration: "m1", Target: chassis[1], MigrationDriven: true}
	}
	cases := []struct {
		name string
		in   Inputs
		want Binding
	}{
		{"stopped", Inputs{}, Binding{}},
		{"no migration", Inputs{VMI: vmi("node-1", nil), Pods: []corev1.Pod{src}}, Binding{Chassis: []string{"node-1"}}},
		{"starting: no node in the VMI yet, the launcher's node",
			Inputs{VMI: vmi("", nil), Pods: []corev1.Pod{launcher("p", "node-3", 0, "vmi-1", "", corev1.PodPending)}},
			Binding{Chassis: []string{"node-3"}}},
		{"starting: a launcher of an earlier VMI does not count",
			Inputs{VMI: vmi("", nil), Pods: []corev1.Pod{launcher("old", "node-1", 0, "vmi-0", "", running)}}, Binding{}},
		{"pending with unknown target: source kept, requeue",
			Inputs{VMI: vmi("node-1", nil), Migrations: []kubevirtv1.VirtualMachineInstanceMigration{vmim("m1", 5, kubevirtv1.MigrationPending)},
				Pods: []corev1.Pod{src, unscheduled}},
			Binding{Chassis: []string{"node-1"}, Migration: "m1", MigrationDriven: true, Pending: true}},
		{"no target pod yet (phase unset)",
			Inputs{VMI: vmi("node-1", nil), Migrations: []kubevirtv1.VirtualMachineInstanceMigration{vmim("m1", 5, "")}, Pods: []corev1.Pod{src}},
			Binding{Chassis: []string{"node-1"}, Migration: "m1", MigrationDriven: true, Pending: true}},
		{"B20: target scheduled while the migration is still Pending",
			Inputs{VMI: vmi("node-1", nil), Migrations: []kubevirtv1.VirtualMachineInstanceMigration{vmim("m1", 5, kubevirtv1.MigrationPending)},
				Pods: []corev1.Pod{src, scheduled}},
			multi("node-1", "node-2")},
		{"scheduled target",
			Inputs{VMI: vmi("node-1", mstate("m1", "node-1", "node-2", false, false)),
				Migrations: []kubevirtv1.VirtualMachineInstanceMigration{vmim("m1", 5, kubevirtv1.MigrationScheduled)}, Pods: []corev1.Pod{src, scheduled}},
			multi("node-1", "node-2")},
		{"running: source from the migration state",
			Inputs{VMI: vmi("node-1", mstate("m1", "node-1", "node-2", false, false)),
				Migrations: []kubevirtv1.VirtualMachineInstanceMigration{vmim("m1", 5, kubevirtv1.MigrationRunning)}, Pods: []corev1.Pod{src, scheduled}},
			multi("node-1", "node-2")},
		{"VMI already moved, migration object not updated yet: target only",
			Inputs{VMI: vmi("node-2", mstate("m1", "node-1", "node-2", true, false)),
				Migrations: []kubevirtv1.VirtualMachineInstanceMigration{vmim("m1", 5, kubevirtv1.MigrationRunning)}, Pods: []corev1.Pod{src, scheduled}},
			Binding{Chassis: []string{"node-2"}, MigrationDriven: true, HandOver: &handOver}},
		{"succeeded: target only",
			Inputs{VMI: vmi("node-2", mstate("m1", "node-1", "node-2", true, false)),
				Migrations: []kubevirtv1.VirtualMachineInstanceMigration{vmim("m1", 5, kubevirtv1.MigrationSucceeded)}, Pods: []corev1.Pod{scheduled}},
			Binding{Chassis: []string{"node-2"}, MigrationDriven: true, HandOver: &handOver}},
		{"failed: source only",
			Inputs{VMI: vmi("node-1", mstate("m1", "node-1", "node-2", false, true)),
				Migrations: []kubevirtv1.VirtualMachineInstanceMigration{vmim("m1", 5, kubevirtv1.MigrationFailed)}, Pods: []corev1.Pod{src, deleting}},
			Binding{Chassis: []string{"node-1"}, MigrationDriven: true}},
		{"failing: target pod being deleted, source only",
			Inputs{VMI: vmi("node-1", mstate("m1", "node-1", "node-2", false, false)),
				Migrations: []kubevirtv1.VirtualMachineInstanceMigration{vmim("m1", 5, kubevirtv1.MigrationTargetReady)}, Pods: []corev1.Pod{src, deleting}},
			Binding{Chassis: []string{"node-1"}, Migration: "m1", MigrationDriven: true, Pending: true}},
		{"aborted (migration object deleted): ignored",
			Inputs{VMI: vmi("node-1", nil), Migrations: []kubevirtv1.VirtualMachineInstanceMigration{abortedM1}, Pods: []corev1.Pod{src, scheduled}},
			Binding{Chassis: []string{"node-1"}}},
		{"two migrations, one final: only the running one counts",
			Inputs{VMI: vmi("node-2", mstate("m0", "node-1", "node-2", true, false)),
				Migrations: []kubevirtv1.VirtualMachineInstanceMigration{vmim("m0", 1, kubevirtv1.MigrationSucceeded), vmim("m1", 5, kubevirtv1.MigrationScheduling)},
				Pods:       []corev1.Pod{launcher("first-target", "node-2", 2, "vmi-1", "m0", running), launcher("tgt", "node-3", 10, "vmi-1", "m1", corev1.PodPending)}},
			multi("node-2", "node-3")},
		{"replaying a finished migration changes nothing",
			Inputs{VMI: vmi("node-2", mstate("m1", "node-1", "node-2", true, false)),
				Migrations: []kubevirtv1.VirtualMachineInstanceMigration{vmim("m0", 1, kubevirtv1.MigrationSucceeded), vmim("m1", 5, kubevirtv1.MigrationSucceeded)},
				Pods:       []corev1.Pod{launcher("first-target", "node-3", 2, "vmi-1", "m0", corev1.PodSucceeded), scheduled}},
			Binding{Chassis: []string{"node-2"}, MigrationDriven: true, HandOver: &handOver}},
		{"naive: one chassis, the source, while it runs",
			Inputs{Mode: Naive, VMI: vmi("node-1", mstate("m1", "node-1", "node-2", false, false)),
				Migrations: []kubevirtv1.VirtualMachineInstanceMigration{vmim("m1", 5, kubevirtv1.MigrationRunning)}, Pods: []corev1.Pod{src, scheduled}},
			Binding{Chassis: []string{"node-1"}, Migration: "m1", Target: "node-2", MigrationDriven: true}},
		{"naive: the target once it succeeded",
			Inputs{Mode: Naive, VMI: vmi("node-2", mstate("m1", "node-1", "node-2", true, false)),
				Migrations: []kubevirtv1.VirtualMachineInstanceMigration{vmim("m1", 5, kubevirtv1.MigrationSucceeded)}, Pods: []corev1.Pod{scheduled}},
			Binding{Chassis: []string{"node-2"}, MigrationDriven: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Desired(c.in)
			if !equal(got, c.want) {
				t.Errorf("Desired = %+v, want %+v", got, c.want)
			}
			// A restarted controller reads the same objects in another order.
			rev := c.in
			rev.Pods, rev.Migrations = slices.Clone(c.in.Pods), slices.Clone(c.in.Migrations)
			slices.Reverse(rev.Pods)
			slices.Reverse(rev.Migrations)
			if again := Desired(rev); !equal(again, got) {
				t.Errorf("same objects in another order: %+v, first %+v", again, got)
			}
		})
	}
}

// TestRestartMidMigrationConverges walks a migration through its phases as
// the objects are seen at each step by a controller started afresh (nothing
// remembered): the options follow the phases and never go back.
func TestRestartMidMigrationConverges(t *testing.T) {
	src := launcher("src", "node-1", 0, "vmi-1", "", corev1.PodRunning)
	tgt := launcher("tgt", "", 10, "vmi-1", "m1", corev1.PodPending)
	m := vmim("m1", 5, "")
	v := vmi("node-1", nil)
	step := func() string {
		in := Inputs{VMI: v.DeepCopy(), Migrations: []kubevirtv1.VirtualMachineInstanceMigration{*m.DeepCopy()}, Pods: []corev1.Pod{*src.DeepCopy(), *tgt.DeepCopy()}}
		o := Desired(in).Options()
		return o[OptRequestedChassis] + "|" + o[OptActivationStrategy]
	}
	var got []string
	got = append(got, step())
	m.Status.Phase = kubevirtv1.MigrationScheduling
	got = append(got, step())
	tgt.Spec.NodeName = "node-3"
	got = append(got, step())
	m.Status.Phase = kubevirtv1.MigrationScheduled
	v.Status.MigrationState = mstate("m1", "node-1", "node-3", false, false)
	got = append(got, step())
	m.Status.Phase = kubevirtv1.MigrationRunning
	tgt.Status.Phase = corev1.PodRunning
	got = append(got, step())
	v.Status.NodeName, v.Status.MigrationState.Completed = "node-3", true // VMI first
	got = append(got, step())
	m.Status.Phase = kubevirtv1.MigrationSucceeded
	src.DeletionTimestamp = &metav1.Time{Time: t0}
	got = append(got, step())
	want := []string{"node-1|", "node-1|", "node-1,node-3|rarp", "node-1,node-3|rarp", "node-1,node-3|rarp", "node-3|", "node-3|"}
	if !slices.Equal(got, want) {
		t.Errorf("options per step:\n got %q\nwant %q", got, want)
	}
}

func TestPlacerDelaysOnlyMigrationDrivenChanges(t *testing.T) {
	now := t0
	p := &Placer{Delay: time.Second, Now: func() time.Time { return now }}
	cur := map[string]string{OptRequestedChassis: "node-1"}
	both := Binding{Chassis: []string{"node-1", "node-2"}, Activation: ActivationRARP, MigrationDriven: true}
	if o, wait := p.Options("vm:ns/a", both, cur); !maps.Equal(o, cur) || wait != time.Second {
		t.Fatalf("first sight: %v after %v, want the current options for 1s", o, wait)
	}
	now = now.Add(600 * time.Millisecond)
	if o, wait := p.Options("vm:ns/a", both, cur); !maps.Equal(o, cur) || wait != 400*time.Millisecond {
		t.Fatalf("at 0.6s: %v after %v", o, wait)
	}
	now = now.Add(400 * time.Millisecond)
	if o, wait := p.Options("vm:ns/a", both, cur); !maps.Equal(o, both.Options()) || wait != 0 {
		t.Fatalf("at 1s: %v after %v, want %v", o, wait, both.Options())
	}
	moved := Binding{Chassis: []string{"node-3"}}
	if o, wait := p.Options("vm:ns/b", moved, cur); !maps.Equal(o, moved.Options()) || wait != 0 {
		t.Errorf("a restart elsewhere (no migration) was held back: %v %v", o, wait)
	}
	if o, _ := p.Options("vm:ns/c", both, nil); !maps.Equal(o, both.Options()) {
		t.Errorf("a new port was held back: %v", o)
	}
	pending := Binding{Chassis: []string{"node-1"}, MigrationDriven: true, Pending: true}
	if o, wait := p.Options("vm:ns/d", pending, cur); !maps.Equal(o, cur) || wait != PendingRetry {
		t.Errorf("pending target: %v after %v, want a retry after %v", o, wait, PendingRetry)
	}
	p.Delay = 0
	if o, wait := p.Options("vm:ns/e", both, cur); !maps.Equal(o, both.Options()) || wait != 0 {
		t.Errorf("no delay configured: %v %v", o, wait)
	}
}

func equal(a, b Binding) bool {
	if (a.HandOver == nil) != (b.HandOver == nil) || a.HandOver != nil && !equal(*a.HandOver, *b.HandOver) {
		return false
	}
	return slices.Equal(a.Chassis, b.Chassis) && a.Activation == b.Activation && a.Migration == b.Migration &&
		a.Target == b.Target && a.MigrationDriven == b.MigrationDriven && a.Pending == b.Pending
}

// TestPlacerSettlesTheHandOver: after a migration succeeded the port keeps
// source and target (RARP activation) for Settle, if it still has them, and
// then keeps the target only; a port that has already moved on never goes
// back (a replayed migration changes nothing).
func TestPlacerSettlesTheHandOver(t *testing.T) {
	now := t0
	p := &Placer{Settle: time.Second, Now: func() time.Time { return now }}
	handOver := Binding{Chassis: []string{"node-1", "node-2"}, Activation: ActivationRARP}
	done := Binding{Chassis: []string{"node-2"}, MigrationDriven: true, HandOver: &handOver}
	both := handOver.Options()
	if o, wait := p.Options("vm:ns/a", done, both); !maps.Equal(o, both) || wait != time.Second {
		t.Fatalf("right after success: %v for %v, want the hand-over for 1s", o, wait)
	}
	now = now.Add(700 * time.Millisecond)
	if o, wait := p.Options("vm:ns/a", done, both); !maps.Equal(o, both) || wait != 300*time.Millisecond {
		t.Fatalf("at 0.7s: %v for %v", o, wait)
	}
	now = now.Add(300 * time.Millisecond)
	if o, wait := p.Options("vm:ns/a", done, both); !maps.Equal(o, done.Options()) || wait != 0 {
		t.Fatalf("at 1s: %v after %v, want %v", o, wait, done.Options())
	}
	if o, _ := p.Options("vm:ns/a", done, done.Options()); !maps.Equal(o, done.Options()) {
		t.Fatalf("moved on, then: %v", o)
	}
	if o, _ := p.Options("vm:ns/b", done, map[string]string{OptRequestedChassis: "node-3"}); !maps.Equal(o, done.Options()) {
		t.Errorf("a port not on the hand-over binding was held: %v", o)
	}
	p.Settle = -1
	if o, _ := p.Options("vm:ns/c", done, both); !maps.Equal(o, done.Options()) {
		t.Errorf("settling off: %v", o)
	}
}
