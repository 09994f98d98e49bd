package migration

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/kvnet/kvnet/internal/kubevirt"
)

// Port options kvnet derives for a VM's ports (OVN Logical_Switch_Port options).
const (
	OptRequestedChassis   = "requested-chassis"
	OptActivationStrategy = "activation-strategy"
	ActivationRARP        = "rarp"
)

// Mode is how a port is handed over during a live migration.
type Mode string

const (
	// MultiChassis binds the port on source and target and lets the
	// guest's RARP activate the target (OVN >= 22.09).
	MultiChassis Mode = "multichassis"
	// Naive keeps one chassis and moves it when the migration succeeds
	// (benchmark comparison only).
	Naive Mode = "naive"
)

// ParseMode parses a --migration-mode value ("" is MultiChassis).
func ParseMode(s string) (Mode, bool) {
	switch Mode(s) {
	case "", MultiChassis:
		return MultiChassis, true
	case Naive:
		return Naive, true
	}
	return "", false
}

// Inputs are what the placement of a VM's ports depends on.
type Inputs struct {
	// VMI is the VM's instance (nil: stopped).
	VMI *kubevirtv1.VirtualMachineInstance
	// Migrations of the VMI, any phase (final ones are ignored).
	Migrations []kubevirtv1.VirtualMachineInstanceMigration
	// Pods are the VM's launcher pods, of any VMI and phase.
	Pods []corev1.Pod
	Mode Mode
}

// Binding is where a VM's ports are to be bound.
type Binding struct {
	// Chassis is requested-chassis, source first; empty when the VM runs nowhere.
	Chassis []string
	// Activation is activation-strategy ("" for none).
	Activation string
	// Migration is the UID of the running migration that shapes this
	// binding ("" when none runs).
	Migration string
	// Target is that migration's target node ("" until known).
	Target string
	// MigrationDriven: a migration (running, or the VMI's last one having
	// ended) decided the binding; such changes get --migration-event-delay.
	MigrationDriven bool
	// Pending: a migration runs but its target node is not known yet; the
	// caller must look again (B20).
	Pending bool
	// HandOver, after a multi-chassis migration succeeded, is the binding
	// it ran with (source and target, RARP activation). The port keeps it
	// for a short grace (Placer.Settle) when it still has it, so that the
	// target has handled the guest's RARP before it becomes the only
	// chassis: the VMI may report the move before ovn-controller on the
	// target has processed the first announcement, and moving the main
	// binding to a target that is not active yet drops traffic (~100 ms).
	HandOver *Binding
}

// Options are the port options of b.
func (b Binding) Options() map[string]string {
	opts := map[string]string{}
	if len(b.Chassis) > 0 {
		opts[OptRequestedChassis] = strings.Join(b.Chassis, ",")
	}
	if b.Activation != "" {
		opts[OptActivationStrategy] = b.Activation
	}
	return opts
}

// ChassisOf returns the chassis a port's options request.
func ChassisOf(opts map[string]string) []string {
	v := strings.TrimSpace(opts[OptRequestedChassis])
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// Desired computes the binding of a VM's ports. It reads only its inputs.
func Desired(in Inputs) Binding {
	vmi := in.VMI
	if vmi == nil {
		return Binding{}
	}
	pods := livePods(vmi, in.Pods)
	node := vmi.Status.NodeName
	if node == "" {
		node = launcherNode(pods)
	}
	b := Binding{}
	ms := vmi.Status.MigrationState
	if ms != nil && ms.MigrationUID != "" && (ms.Completed || ms.Failed) {
		b.MigrationDriven = true // the node comes from the migration's end
	}
	m := current(vmi, in.Migrations, pods)
	if m == nil {
		if node != "" {
			b.Chassis = []string{node}
		}
		if in.Mode != Naive && ms != nil && ms.Completed && !ms.Failed && ms.SourceNode != "" &&
			ms.TargetNode == node && ms.SourceNode != node {
			b.HandOver = &Binding{Chassis: []string{ms.SourceNode, node}, Activation: ActivationRARP}
		}
		return b
	}
	b.MigrationDriven, b.Migration = true, string(m.UID)
	source := node
	for _, ms := range []*kubevirtv1.VirtualMachineInstanceMigrationState{vmi.Status.MigrationState, m.Status.MigrationState} {
		if ms != nil && ms.MigrationUID == m.UID && ms.SourceNode != "" {
			source = ms.SourceNode
			break
		}
	}
	if t := targetPod(m, pods); t != nil {
		b.Target = t.Spec.NodeName
	}
	switch {
	case source == "":
		b.Pending = true
		return b
	case b.Target == "" || b.Target == source:
		b.Chassis, b.Pending = []string{source}, b.Target == ""
	case in.Mode == Naive:
		b.Chassis = []string{source}
	default:
		b.Chassis, b.Activation = []string{source, b.Target}, ActivationRARP
	}
	return b
}

// livePods are the pods of vmi that may run its guest.
func livePods(vmi *kubevirtv1.VirtualMachineInstance, pods []corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range pods {
		if kubevirt.Live(&pods[i]) && kubevirt.BelongsTo(&pods[i], vmi) {
			out = append(out, &pods[i])
		}
	}
	slices.SortStableFunc(out, func(a, b *corev1.Pod) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// launcherNode is the node of the oldest live pod that was not created as
// a migration target (a VMI that has just started and has no node yet).
func launcherNode(pods []*corev1.Pod) string {
	for _, p := range pods {
		if kubevirt.MigrationUID(p) == "" && p.Spec.NodeName != "" {
			return p.Spec.NodeName
		}
	}
	return ""
}

// current picks the migration that runs for vmi: not final, not already
// recorded as ended in the VMI's status. KubeVirt runs one at a time; if
// several look alive, the one the VMI names wins, then one with a target
// pod, then the oldest.
func current(vmi *kubevirtv1.VirtualMachineInstance, ms []kubevirtv1.VirtualMachineInstanceMigration, pods []*corev1.Pod) *kubevirtv1.VirtualMachineInstanceMigration {
	var best *kubevirtv1.VirtualMachineInstanceMigration
	rank := func(m *kubevirtv1.VirtualMachineInstanceMigration) int {
		if st := vmi.Status.MigrationState; st != nil && st.MigrationUID == m.UID {
			return 2
		}
		if targetPod(m, pods) != nil {
			return 1
		}
		return 0
	}
	for i := range ms {
		m := &ms[i]
		if m.Spec.VMIName != vmi.Name || kubevirt.Final(m) || endedInVMI(vmi, m) {
			continue
		}
		if best == nil || rank(m) > rank(best) ||
			rank(m) == rank(best) && m.CreationTimestamp.Before(&best.CreationTimestamp) {
			best = m
		}
	}
	return best
}

// endedInVMI: the VMI already records m as completed or failed (KubeVirt
// updates the VMI before the migration object).
func endedInVMI(vmi *kubevirtv1.VirtualMachineInstance, m *kubevirtv1.VirtualMachineInstanceMigration) bool {
	st := vmi.Status.MigrationState
	return st != nil && st.MigrationUID == m.UID && (st.Completed || st.Failed)
}

func targetPod(m *kubevirtv1.VirtualMachineInstanceMigration, pods []*corev1.Pod) *corev1.Pod {
	for _, p := range pods {
		if kubevirt.MigrationUID(p) == string(m.UID) {
			return p
		}
	}
	return nil
}
