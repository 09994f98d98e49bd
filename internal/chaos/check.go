package chaos

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kvnetv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/kubevirt"
	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
	"github.com/kvnet/kvnet/internal/sandbox"
)

// Check is the invariant check's counts. Violations lists each finding.
type Check struct {
	LivePods   int `json:"livePods"`   // Running pods in the namespace (not the prober, not launchers)
	VMs        int `json:"vms"`        // VirtualMachines in the namespace
	RunningVMs int `json:"runningVMs"` // of them with a running VMI
	IPObjects  int `json:"ipObjects"`  // all IP objects
	NBPorts    int `json:"nbPorts"`    // all logical switch ports kvnet owns
	Probed     int `json:"probed"`     // addresses pinged from the prober

	DuplicateAddresses int `json:"duplicateAddresses"`
	IPsWithoutOwner    int `json:"ipsWithoutOwner"`
	PortsWithoutOwner  int `json:"portsWithoutOwner"`
	Unreachable        int `json:"unreachable"`
	NotSettled         int `json:"notSettled"`

	Violations []string `json:"violations,omitempty"`
}

// OK reports a clean check.
func (c Check) OK() bool {
	return c.DuplicateAddresses+c.IPsWithoutOwner+c.PortsWithoutOwner+c.Unreachable+c.NotSettled == 0
}

func (c Check) String() string {
	return fmt.Sprintf("live pods %d, VMs %d (running %d), IP objects %d, NB ports %d, probed %d; "+
		"duplicate addresses %d, IP objects without owner %d, NB ports without owner %d, unreachable %d, not settled %d",
		c.LivePods, c.VMs, c.RunningVMs, c.IPObjects, c.NBPorts, c.Probed,
		c.DuplicateAddresses, c.IPsWithoutOwner, c.PortsWithoutOwner, c.Unreachable, c.NotSettled)
}

// settle waits until the namespace has settled and the check is clean, or
// Settle has passed; it returns the last check.
func (r *run) settle(ctx context.Context) Check {
	deadline := time.Now().Add(r.cfg.Settle)
	var last Check
	for {
		last = r.check(ctx)
		if last.OK() || time.Now().After(deadline) || ctx.Err() != nil {
			return last
		}
		r.cfg.Log("not yet: %s; first: %s", last, strings.Join(last.Violations[:min(3, len(last.Violations))], "; "))
		select {
		case <-ctx.Done():
			return last
		case <-time.After(5 * time.Second):
		}
	}
}

// CheckNow runs the invariant check once against the sandbox (namespace ns
// holds the prober).
func CheckNow(ctx context.Context, sb sandbox.Config, ns string) (Check, error) {
	c, err := NewClient(sb)
	if err != nil {
		return Check{}, err
	}
	r := &run{cfg: Config{Sandbox: sb, Namespace: ns}, c: c}
	r.cfg.defaults()
	return r.check(ctx), nil
}

type owners map[string]map[string]bool // address key -> owner names

func (o owners) add(addr, owner string) {
	if o[addr] == nil {
		o[addr] = map[string]bool{}
	}
	o[addr][owner] = true
}

func (o owners) duplicates(what string, ch *Check) {
	var keys []string
	for k, v := range o {
		if len(v) > 1 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		var names []string
		for n := range o[k] {
			names = append(names, n)
		}
		sort.Strings(names)
		ch.DuplicateAddresses++
		ch.Violations = append(ch.Violations, fmt.Sprintf("%s: %s has owners %s", what, k, strings.Join(names, ", ")))
	}
}

func (r *run) check(ctx context.Context) Check {
	var ch Check
	fail := func(f string, a ...any) Check {
		ch.NotSettled++
		ch.Violations = append(ch.Violations, fmt.Sprintf(f, a...))
		return ch
	}
	var pods corev1.PodList
	var vms kubevirtv1.VirtualMachineList
	var vmis kubevirtv1.VirtualMachineInstanceList
	var migs kubevirtv1.VirtualMachineInstanceMigrationList
	var nodes corev1.NodeList
	var ips kvnetv1.IPList
	for _, l := range []client.ObjectList{&pods, &vms, &vmis, &migs, &nodes, &ips} {
		if err := r.c.List(ctx, l); err != nil {
			return fail("list: %v", err)
		}
	}
	ns := r.cfg.Namespace
	podSet, vmSet, nodeSet := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, n := range nodes.Items {
		nodeSet[n.Name] = true
	}
	for _, v := range vms.Items {
		vmSet[v.Namespace+"/"+v.Name] = true
		if v.Namespace == ns {
			ch.VMs++
		}
	}
	vmiByKey := map[string]*kubevirtv1.VirtualMachineInstance{}
	for i := range vmis.Items {
		v := &vmis.Items[i]
		vmiByKey[v.Namespace+"/"+v.Name] = v
	}
	// Settled: no migration in flight, every VM as its strategy says,
	// every pod of the namespace Running with an address.
	for _, m := range migs.Items {
		if m.Namespace == ns && !m.IsFinal() {
			ch.NotSettled++
			ch.Violations = append(ch.Violations, "migration in flight: "+m.Name)
		}
	}
	for _, v := range vms.Items {
		if v.Namespace != ns {
			continue
		}
		vmi := vmiByKey[v.Namespace+"/"+v.Name]
		running := vmi != nil && vmi.Status.Phase == kubevirtv1.Running && len(vmi.Status.Interfaces) > 0 && vmi.Status.Interfaces[0].IP != ""
		halted := v.Spec.RunStrategy != nil && *v.Spec.RunStrategy == kubevirtv1.RunStrategyHalted
		switch {
		case running && !halted:
			ch.RunningVMs++
		case halted && vmi == nil:
		default:
			ch.NotSettled++
			ch.Violations = append(ch.Violations, fmt.Sprintf("VM %s: runStrategy %v, VMI running %v", v.Name, ptrStr(v.Spec.RunStrategy), running))
		}
	}
	live := owners{}
	var targets []string
	for _, p := range pods.Items {
		podSet[p.Namespace+"/"+p.Name] = true
		if p.Spec.HostNetwork {
			continue
		}
		owner := "pod " + p.Namespace + "/" + p.Name
		if vmName := kubevirt.VMName(&p); vmName != "" {
			owner = "vm " + p.Namespace + "/" + vmName
		}
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
			for _, a := range p.Status.PodIPs {
				live.add(a.IP, owner)
			}
		}
		if p.Namespace != ns {
			continue
		}
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			ch.NotSettled++
			ch.Violations = append(ch.Violations, fmt.Sprintf("pod %s: phase %s, deleting %v", p.Name, p.Status.Phase, p.DeletionTimestamp != nil))
			continue
		}
		if p.Name == ProberName {
			continue
		}
		if kubevirt.VMName(&p) == "" {
			ch.LivePods++
		}
		targets = append(targets, p.Status.PodIP)
	}
	live.duplicates("live pods", &ch)

	// IP objects: one owner per address, and an owner that exists.
	ch.IPObjects = len(ips.Items)
	book := owners{}
	for _, ip := range ips.Items {
		key, exists := ip.Spec.Namespace+"/"+ip.Spec.PodName, false
		owner := "pod " + key
		switch ip.Spec.PodType {
		case "":
			exists = podSet[key]
		case "VirtualMachine":
			owner, exists = "vm "+key, vmSet[key]
		case "Node":
			owner, exists = "node "+ip.Spec.PodName, nodeSet[ip.Spec.PodName]
		default:
			exists = true // a kind this check does not know
		}
		if !exists {
			ch.IPsWithoutOwner++
			ch.Violations = append(ch.Violations, fmt.Sprintf("IP %s (%s %s) has no owner: %s", ip.Name, ip.Spec.Subnet, ip.Spec.IPAddress, owner))
		}
		for _, a := range strings.Split(ip.Spec.IPAddress, ",") {
			if a != "" {
				book.add(ip.Spec.Subnet+" "+a, "IP "+ip.Name+" ("+owner+")")
			}
		}
	}
	book.duplicates("IP objects", &ch)

	if err := r.checkNB(ctx, &ch, podSet, vmSet, nodeSet); err != nil {
		return fail("NB: %v", err)
	}
	if ch.NotSettled == 0 {
		r.probe(ctx, &ch, targets)
	}
	return ch
}

func ptrStr[T any](p *T) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprint(*p)
}

// checkNB finds switch addresses with two ports and kvnet ports whose owner is gone.
func (r *run) checkNB(ctx context.Context, ch *Check, podSet, vmSet, nodeSet map[string]bool) error {
	nb, err := ops.NewNBClient("unix:"+r.cfg.Sandbox.NBSocket(), logr.Discard())
	if err != nil {
		return err
	}
	defer nb.Close()
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := ops.ConnectNB(cctx, nb); err != nil {
		return err
	}
	var switches []nbdb.LogicalSwitch
	var ports []nbdb.LogicalSwitchPort
	if err := nb.List(cctx, &switches); err != nil {
		return err
	}
	if err := nb.List(cctx, &ports); err != nil {
		return err
	}
	switchOf := map[string]string{}
	for _, s := range switches {
		for _, p := range s.Ports {
			switchOf[p] = s.Name
		}
	}
	addrs := owners{}
	for _, p := range ports {
		o, mine := ops.OwnerOf(p.ExternalIDs)
		if mine {
			ch.NBPorts++
			exists := true
			switch o.Kind {
			case ops.OwnerKindPod:
				exists = podSet[o.Key]
			case ops.OwnerKindVM:
				exists = vmSet[o.Key]
			case ops.OwnerKindNode:
				exists = nodeSet[o.Key]
			}
			if !exists {
				ch.PortsWithoutOwner++
				ch.Violations = append(ch.Violations, fmt.Sprintf("NB port %s has no owner: %s %s", p.Name, o.Kind, o.Key))
			}
		}
		if p.Type == "router" {
			continue
		}
		for _, set := range p.Addresses {
			for _, tok := range strings.Fields(set) {
				if a, err := netip.ParseAddr(tok); err == nil {
					addrs.add(switchOf[p.UUID]+" "+a.String(), "port "+p.Name)
				}
			}
		}
	}
	addrs.duplicates("NB switch ports", ch)
	return nil
}

// probe pings every target from the prober pod, 8 at a time.
func (r *run) probe(ctx context.Context, ch *Check, targets []string) {
	netns, err := sandbox.PodExecNetns(ctx, r.cfg.Sandbox, r.cfg.Namespace, ProberName)
	if err != nil {
		ch.Unreachable += len(targets)
		ch.Violations = append(ch.Violations, "prober: "+err.Error())
		return
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			out, err := exec.CommandContext(pctx, "ip", "netns", "exec", netns, "ping", "-c", "1", "-i", "0.2", "-w", "5", t).CombinedOutput()
			mu.Lock()
			defer mu.Unlock()
			ch.Probed++
			if err != nil {
				ch.Unreachable++
				ch.Violations = append(ch.Violations, fmt.Sprintf("%s unreachable from the prober: %v: %s", t, err, lastLine(string(out))))
			}
		}()
	}
	wg.Wait()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
