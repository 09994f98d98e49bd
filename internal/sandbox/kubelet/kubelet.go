package kubelet

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/kvnet/kvnet/internal/sandbox"
)

// heartbeat is how often the Node status and Lease are renewed (the real
// kubelet's default nodeStatusUpdateFrequency and lease renew interval are 10 s).
const heartbeat = 10 * time.Second

// Kubelet is one node's stand-in.
type Kubelet struct {
	cfg      sandbox.Config
	node     string
	nodeIP   string
	cs       kubernetes.Interface
	recorder record.EventRecorder
	cni      *cniRuntime
	pods     *podWorker
}

// Run registers node and serves it until ctx ends.
func Run(ctx context.Context, cfg sandbox.Config, node string, index int) error {
	nsPath := filepath.Join("/run/netns", cfg.NodeNetns(node))
	if err := forwardIntoNetns(ctx, nsPath, fmt.Sprintf("127.0.0.1:%d", cfg.APIServerPort())); err != nil {
		return err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig())
	if err != nil {
		return err
	}
	rc.QPS, rc.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	bc := record.NewBroadcaster(record.WithContext(ctx))
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	defer bc.Shutdown()
	k := &Kubelet{
		cfg: cfg, node: node, nodeIP: sandbox.UnderlayAddr(index).String(), cs: cs,
		recorder: bc.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: node}),
		cni: &cniRuntime{
			nodeNetns: nsPath,
			confDir:   cfg.NodeCNIConfDir(node),
			binDirs:   []string{cfg.CNIBinDir()},
			cacheDir:  cfg.NodeDir(node, "cni", "cache"),
		},
	}
	if err := k.register(ctx); err != nil {
		return err
	}
	go k.heartbeatLoop(ctx)
	k.pods = newPodWorker(k)
	return k.pods.run(ctx)
}

func (k *Kubelet) nodeStatus() corev1.NodeStatus {
	now := metav1.Now()
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("16"),
		corev1.ResourceMemory: resource.MustParse("64Gi"),
		corev1.ResourcePods:   resource.MustParse("250"),
	}
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	return corev1.NodeStatus{
		Capacity: res, Allocatable: res,
		Conditions: []corev1.NodeCondition{
			cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kvnet sandbox kubelet stand-in is posting ready status"),
			cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "sandbox node"),
			cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "sandbox node"),
			cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "sandbox node"),
		},
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: k.nodeIP}, {Type: corev1.NodeHostName, Address: k.node}},
		NodeInfo: corev1.NodeSystemInfo{
			KubeletVersion: sandbox.KubernetesVersion, OperatingSystem: "linux", Architecture: "amd64",
			ContainerRuntimeVersion: "kvnet-sandbox://1", OSImage: "kvnet sandbox node",
		},
	}
}

// register creates the Node (or adopts an existing one) and posts its status.
func (k *Kubelet) register(ctx context.Context) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: k.node, Labels: map[string]string{
		"kubernetes.io/hostname": k.node, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
	}}}
	_, err := k.cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("register node %s: %w", k.node, err)
	}
	return k.postStatus(ctx)
}

// postStatus writes the node's status, retrying when another writer (the
// node controller, kvnet annotating the node) got there first.
func (k *Kubelet) postStatus(ctx context.Context) error {
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		n, err := k.cs.CoreV1().Nodes().Get(ctx, k.node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Status = k.nodeStatus()
		_, err = k.cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
}

func (k *Kubelet) renewLease(ctx context.Context) error {
	leases := k.cs.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	l, err := leases.Get(ctx, k.node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: k.node},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To(k.node), LeaseDurationSeconds: ptr.To(int32(40)), RenewTime: &now},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	l.Spec.RenewTime = &now
	l.Spec.HolderIdentity = ptr.To(k.node)
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return nil // renewed by the next heartbeat
	}
	return err
}

func (k *Kubelet) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		if err := k.renewLease(ctx); err != nil {
			klog.ErrorS(err, "renew node lease", "node", k.node)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := k.postStatus(ctx); err != nil {
			klog.ErrorS(err, "post node status", "node", k.node)
		}
	}
}
