package kubevirt

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	kubevirtv1 "kubevirt.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/kvnet/kvnet/internal/sandbox"
)

// KubeVirt's launcher-pod labels and annotations (virt-controller's
// template service).
const (
	labelApp          = "kubevirt.io"
	labelCreatedBy    = "kubevirt.io/created-by"
	labelVMName       = "vm.kubevirt.io/name"
	labelMigrationJob = "kubevirt.io/migrationJobUID"
	annoDomain        = "kubevirt.io/domain"
	annoMultus        = "k8s.v1.cni.cncf.io/networks"
	launcherApp       = "virt-launcher"
)

// vmiReconciler gives each VMI its launcher pod and mirrors the pod into the
// VMI's status.
type vmiReconciler struct {
	client.Client
	// reader reads pods from the API, not the cache, so a pod created by the
	// previous pass is never mistaken for a vanished one.
	reader   client.Reader
	recorder record.EventRecorder
	sb       sandbox.Config
}

func (r *vmiReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	vmi := &kubevirtv1.VirtualMachineInstance{}
	if err := r.Get(ctx, req.NamespacedName, vmi); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if vmi.DeletionTimestamp != nil || finished(vmi) {
		return ctrl.Result{}, nil
	}
	pods, err := r.launcherPods(ctx, vmi)
	if err != nil {
		return ctrl.Result{}, err
	}
	pod := currentPod(vmi, pods)
	st := vmi.Status.DeepCopy()
	switch {
	case pod == nil && (st.Phase == "" || st.Phase == kubevirtv1.Pending):
		if err := r.createPod(ctx, vmi); err != nil {
			return ctrl.Result{}, err
		}
		st.Phase = kubevirtv1.Scheduling
	case pod == nil || pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodFailed:
		// The launcher is gone or failed: so is the guest.
		st.Phase = kubevirtv1.Failed
		r.recorder.Eventf(vmi, corev1.EventTypeWarning, "Stopped", "The virt-launcher pod of this VMI is gone or failed")
	case pod.Status.Phase == corev1.PodSucceeded:
		st.Phase = kubevirtv1.Succeeded
	case pod.Status.Phase == corev1.PodRunning && pod.Status.PodIP != "":
		st.Phase = kubevirtv1.Running
		st.NodeName = pod.Spec.NodeName
		st.Interfaces = guestInterfaces(vmi, pod, podNetnsPath(r.sb, pod))
	case pod.Spec.NodeName != "":
		st.Phase = kubevirtv1.Scheduled
		st.NodeName = pod.Spec.NodeName
	default:
		st.Phase = kubevirtv1.Scheduling
	}
	if equalJSON(st, &vmi.Status) {
		return ctrl.Result{}, nil
	}
	vmi.Status = *st
	return ctrl.Result{}, client.IgnoreNotFound(r.Status().Update(ctx, vmi))
}

// launcherPods lists the pods KubeVirt would count as this VMI's launchers.
func (r *vmiReconciler) launcherPods(ctx context.Context, vmi *kubevirtv1.VirtualMachineInstance) ([]corev1.Pod, error) {
	list := &corev1.PodList{}
	if err := r.reader.List(ctx, list, client.InNamespace(vmi.Namespace), client.MatchingLabels{labelCreatedBy: string(vmi.UID)}); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// currentPod is the pod the guest runs in: the one on the VMI's node (after
// a migration, the target), else the oldest that is not a migration target.
func currentPod(vmi *kubevirtv1.VirtualMachineInstance, pods []corev1.Pod) *corev1.Pod {
	sort.Slice(pods, func(i, j int) bool { return pods[i].CreationTimestamp.Before(&pods[j].CreationTimestamp) })
	if vmi.Status.NodeName != "" {
		for i := range pods {
			if pods[i].Spec.NodeName == vmi.Status.NodeName && pods[i].Status.Phase != corev1.PodFailed {
				return &pods[i]
			}
		}
		return nil
	}
	for i := range pods {
		if _, target := pods[i].Labels[labelMigrationJob]; !target {
			return &pods[i]
		}
	}
	return nil
}

// LauncherPod builds the virt-launcher pod of vmi as virt-controller does,
// as far as the network sees it. extraLabels are added (migration targets).
func LauncherPod(vmi *kubevirtv1.VirtualMachineInstance, extraLabels map[string]string) *corev1.Pod {
	labels := copyMap(vmi.Labels)
	labels[labelApp] = launcherApp
	labels[labelCreatedBy] = string(vmi.UID)
	labels[labelVMName] = vmi.Name
	for k, v := range extraLabels {
		labels[k] = v
	}
	annotations := copyMap(vmi.Annotations)
	delete(annotations, corev1.LastAppliedConfigAnnotation)
	annotations[annoDomain] = vmi.Name
	annotations["kubectl.kubernetes.io/default-container"] = "compute"
	if nets := multusNetworks(vmi); nets != "" {
		annotations[annoMultus] = nets
	}
	grace := int64(0)
	if vmi.Spec.TerminationGracePeriodSeconds != nil {
		grace = *vmi.Spec.TerminationGracePeriodSeconds
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "virt-launcher-" + vmi.Name + "-" + suffix(5), Namespace: vmi.Namespace,
			Labels: labels, Annotations: annotations,
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			NodeSelector:                  vmi.Spec.NodeSelector,
			Affinity:                      vmi.Spec.Affinity,
			Tolerations:                   vmi.Spec.Tolerations,
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name: "compute", Image: "virt-launcher",
				Resources: corev1.ResourceRequirements{Requests: vmi.Spec.Domain.Resources.Requests, Limits: vmi.Spec.Domain.Resources.Limits},
			}},
		},
	}
}

func (r *vmiReconciler) createPod(ctx context.Context, vmi *kubevirtv1.VirtualMachineInstance) error {
	pod := LauncherPod(vmi, nil)
	if err := controllerutil.SetControllerReference(vmi, pod, r.Scheme()); err != nil {
		return err
	}
	if err := r.Create(ctx, pod); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create launcher pod for %s/%s: %w", vmi.Namespace, vmi.Name, err)
	}
	r.recorder.Eventf(vmi, corev1.EventTypeNormal, "SuccessfulCreate", "Created virtual machine pod %s", pod.Name)
	return nil
}

// multusNetworks renders the VMI's Multus networks (not the default one) as
// the k8s.v1.cni.cncf.io/networks annotation, interfaces named net1, net2, ...
func multusNetworks(vmi *kubevirtv1.VirtualMachineInstance) string {
	type sel struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
		Interface string `json:"interface"`
	}
	var out []sel
	for _, n := range vmi.Spec.Networks {
		if n.Multus == nil || n.Multus.Default {
			continue
		}
		ns, name, ok := strings.Cut(n.Multus.NetworkName, "/")
		if !ok {
			ns, name = vmi.Namespace, n.Multus.NetworkName
		}
		out = append(out, sel{Name: name, Namespace: ns, Interface: fmt.Sprintf("net%d", len(out)+1)})
	}
	if len(out) == 0 {
		return ""
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// guestInterfaces reports the VMI's default interface with the pod's IPs and
// the MAC read from the pod's eth0 (where a bridge-bound guest's MAC is).
func guestInterfaces(vmi *kubevirtv1.VirtualMachineInstance, pod *corev1.Pod, nsPath string) []kubevirtv1.VirtualMachineInstanceNetworkInterface {
	name := "default"
	for _, n := range vmi.Spec.Networks {
		if n.Pod != nil {
			name = n.Name
		}
	}
	iface := kubevirtv1.VirtualMachineInstanceNetworkInterface{Name: name, IP: pod.Status.PodIP, InterfaceName: "eth0", PodInterfaceName: "eth0", InfoSource: "domain"}
	for _, ip := range pod.Status.PodIPs {
		iface.IPs = append(iface.IPs, ip.IP)
	}
	iface.MAC = podMAC(nsPath)
	return []kubevirtv1.VirtualMachineInstanceNetworkInterface{iface}
}

func podMAC(nsPath string) string {
	h, err := netns.GetFromPath(nsPath)
	if err != nil {
		return ""
	}
	defer h.Close()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		return ""
	}
	defer nl.Close()
	link, err := nl.LinkByName("eth0")
	if err != nil {
		return ""
	}
	return link.Attrs().HardwareAddr.String()
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func suffix(n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, n)
	for i := range b {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[k.Int64()]
	}
	return string(b)
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return reflect.DeepEqual(ja, jb)
}
