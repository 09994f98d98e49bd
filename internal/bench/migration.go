package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kvnet/kvnet/internal/probe"
	"github.com/kvnet/kvnet/internal/sandbox"
	"github.com/kvnet/kvnet/internal/sandbox/kubevirt"
)

// MigrationOptions configure one mode of the migration benchmark.
type MigrationOptions struct {
	Mode     string        // label of the controller's mode (see MigrationResult.Mode)
	Count    int           // migrations
	Interval time.Duration // probe spacing
	// BackToBackEvery makes every n-th migration start the moment the
	// previous one succeeded (0: never); the others wait Pause first.
	BackToBackEvery int
	Pause           time.Duration
}

// Migration runs opt.Count live migrations of one VM, the first right after
// the VM started, while a prober pod on every node probes the VM every
// opt.Interval; each sample sums the probers' counts over one migration
// (from 300 ms before it starts to 1.5 s after it succeeds).
func Migration(ctx context.Context, sb sandbox.Config, opt MigrationOptions, progress func(string, ...any)) (MigrationResult, error) {
	res := MigrationResult{Mode: opt.Mode, IntervalMs: ms(opt.Interval)}
	c, err := kubevirtClient(sb)
	if err != nil {
		return res, err
	}
	cs, err := sandbox.Clientset(sb)
	if err != nil {
		return res, err
	}
	ns := fmt.Sprintf("bench-migration-%d", time.Now().UnixNano())
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return res, err
	}
	defer deleteNamespaces(cs, ns)
	var probers []string
	for i := 1; i <= sb.Nodes; i++ {
		p := benchPod(fmt.Sprintf("prober-%d", i), sandbox.NodeName(i))
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return res, err
		}
		probers = append(probers, p.Name)
	}
	vm := benchVM(ns)
	if err := c.Create(ctx, vm); err != nil {
		return res, err
	}
	for _, p := range probers {
		if err := waitPodRunning(ctx, cs, ns, p); err != nil {
			return res, err
		}
	}
	for i := 1; i <= opt.Count; i++ {
		vmi, err := waitVMIRunning(ctx, c, ns, vm.Name)
		if err != nil {
			return res, err
		}
		note := ""
		switch {
		case i == 1:
			note = "first after start"
		case opt.BackToBackEvery > 0 && i%opt.BackToBackEvery == 0:
			note = "back-to-back"
		default:
			time.Sleep(opt.Pause)
		}
		s, err := migrateOnce(ctx, sb, c, ns, vmi, probers, opt.Interval, i)
		if err != nil {
			return res, fmt.Errorf("migration %d: %w", i, err)
		}
		s.Index, s.Note = i, note
		res.Migrations = append(res.Migrations, s)
		progress("  %s migration %d/%d %s: sent %d lost %d dup %d longest gap %.1f ms", opt.Mode, i, opt.Count, note, s.Sent, s.Lost, s.Duplicates, s.MaxGapMs)
	}
	return res, nil
}

// migrateOnce probes the VM from every prober while one migration runs.
func migrateOnce(ctx context.Context, sb sandbox.Config, c client.Client, ns string, vmi *kubevirtv1.VirtualMachineInstance, probers []string, interval time.Duration, i int) (MigrationSample, error) {
	var s MigrationSample
	dst := vmi.Status.Interfaces[0].IP
	kvnetBin := filepath.Join(sb.RepoDir, "bin", "kvnet")
	type running struct {
		cmd *exec.Cmd
		out *bytes.Buffer
	}
	var rs []running
	for _, p := range probers {
		netns, err := sandbox.PodExecNetns(ctx, sb, ns, p)
		if err != nil {
			return s, err
		}
		out := &bytes.Buffer{}
		cmd := exec.Command("ip", "netns", "exec", netns, kvnetBin, "probe", "--dst", dst,
			"--interval", interval.String(), "--duration", "5m", "--linger", "300ms")
		cmd.Stdout = out
		if err := cmd.Start(); err != nil {
			return s, err
		}
		rs = append(rs, running{cmd, out})
	}
	stop := func() {
		for _, r := range rs {
			_ = r.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	time.Sleep(300 * time.Millisecond)
	m := &kubevirtv1.VirtualMachineInstanceMigration{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("m%d", i), Namespace: ns},
		Spec: kubevirtv1.VirtualMachineInstanceMigrationSpec{VMIName: vmi.Name}}
	if err := c.Create(ctx, m); err != nil {
		stop()
		return s, err
	}
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(m), m); err != nil {
			return false, nil
		}
		return m.IsFinal(), nil
	})
	if err == nil && m.Status.Phase != kubevirtv1.MigrationSucceeded {
		err = fmt.Errorf("phase %s", m.Status.Phase)
	}
	time.Sleep(1500 * time.Millisecond)
	stop()
	for _, r := range rs {
		_ = r.cmd.Wait()
		var pr probe.Result
		if jerr := json.Unmarshal(r.out.Bytes(), &pr); jerr != nil {
			return s, fmt.Errorf("prober output %q: %w", r.out.String(), jerr)
		}
		s.Sent += pr.Sent
		s.Lost += pr.Lost
		s.Duplicates += pr.Duplicates
		s.Probers = append(s.Probers, pr)
		if pr.MaxGapMs > s.MaxGapMs {
			s.MaxGapMs = pr.MaxGapMs
		}
	}
	return s, err
}

func benchVM(ns string) *kubevirtv1.VirtualMachine {
	return &kubevirtv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: "bench-vm", Namespace: ns},
		Spec: kubevirtv1.VirtualMachineSpec{
			RunStrategy: ptr.To(kubevirtv1.RunStrategyAlways),
			Template: &kubevirtv1.VirtualMachineInstanceTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{kubevirtv1.AllowPodBridgeNetworkLiveMigrationAnnotation: ""}},
				Spec: kubevirtv1.VirtualMachineInstanceSpec{
					Domain: kubevirtv1.DomainSpec{Resources: kubevirtv1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}},
					Networks: []kubevirtv1.Network{*kubevirtv1.DefaultPodNetwork()},
				},
			},
		},
	}
}

func kubevirtClient(sb sandbox.Config) (client.Client, error) {
	s, err := kubevirt.NewScheme()
	if err != nil {
		return nil, err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", sb.Kubeconfig())
	if err != nil {
		return nil, err
	}
	return client.New(rc, client.Options{Scheme: s})
}

func waitPodRunning(ctx context.Context, cs kubernetes.Interface, ns, name string) error {
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, nil
	})
}

func waitVMIRunning(ctx context.Context, c client.Client, ns, name string) (*kubevirtv1.VirtualMachineInstance, error) {
	vmi := &kubevirtv1.VirtualMachineInstance{}
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, vmi); err != nil {
			return false, nil
		}
		ms := vmi.Status.MigrationState
		settled := ms == nil || ms.Completed || ms.Failed
		return vmi.Status.Phase == kubevirtv1.Running && settled &&
			len(vmi.Status.Interfaces) > 0 && vmi.Status.Interfaces[0].IP != "", nil
	})
	if err != nil {
		return nil, fmt.Errorf("VMI %s/%s not running: phase %q", ns, name, vmi.Status.Phase)
	}
	return vmi, nil
}
