package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/addressing"
	"github.com/kvnet/kvnet/internal/annotations"
	"github.com/kvnet/kvnet/internal/ipam"
	"github.com/kvnet/kvnet/internal/kubevirt"
)

// workload is what asks for addresses: a pod, or a VM/VMI standing for the
// launcher pods it will get.
type workload struct {
	kind string // "pod", "VirtualMachine", "VirtualMachineInstance"
	pod  *corev1.Pod
	port string // the primary NIC's port / IP object name
	vm   string // the VM a launcher pod, VM or VMI belongs to ("" for others)
}

func (w *workload) String() string { return w.kind + " " + w.pod.Namespace + "/" + w.pod.Name }

// Pod admits a pod create.
func (v *Validator) Pod(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create {
		return admission.Allowed("")
	}
	p := &corev1.Pod{}
	if err := v.Decoder.Decode(req, p); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if p.Namespace == "" {
		p.Namespace = req.Namespace
	}
	if p.Spec.HostNetwork {
		return admission.Allowed("host network")
	}
	if kubevirt.IsMigrationTarget(p) {
		// The target launcher pod of a live migration shares its VM's
		// addresses with the source pod (B19).
		return admission.Allowed("KubeVirt migration target")
	}
	w := &workload{kind: "pod", pod: p, port: addressing.PodPortName(p.Name, p.Namespace)}
	if w.vm = kubevirt.VMName(p); w.vm != "" {
		w.port = addressing.VMPortName(w.vm, p.Namespace)
	}
	return v.check(ctx, w)
}

// VM admits a KubeVirt VirtualMachine create or update, or the create of a
// VirtualMachineInstance that no VM owns (kubevirt.io/v1 or v1alpha3). A
// VM's template annotations become its VMIs' and launcher pods' annotations.
func (v *Validator) VM(ctx context.Context, req admission.Request) admission.Response {
	obj, err := decodeUnstructured(req.Object.Raw)
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	meta := func(u *unstructured.Unstructured) (anns, labels map[string]string, err error) {
		if req.Kind.Kind != "VirtualMachine" {
			return u.GetAnnotations(), u.GetLabels(), nil
		}
		anns, _, err = unstructured.NestedStringMap(u.Object, "spec", "template", "metadata", "annotations")
		if err != nil {
			return nil, nil, fmt.Errorf("spec.template.metadata.annotations: %w", err)
		}
		labels, _, err = unstructured.NestedStringMap(u.Object, "spec", "template", "metadata", "labels")
		if err != nil {
			return nil, nil, fmt.Errorf("spec.template.metadata.labels: %w", err)
		}
		return anns, labels, nil
	}
	if req.Kind.Kind == "VirtualMachineInstance" {
		for _, o := range obj.GetOwnerReferences() {
			if o.Kind == "VirtualMachine" {
				// virt-controller starting a VM that was admitted with these
				// annotations; a conflict that arose since is the pod
				// controller's to report (on the launcher pod and the VM).
				return admission.Allowed("VMI of a VirtualMachine")
			}
		}
	}
	anns, labels, err := meta(obj)
	if err != nil {
		return admission.Denied(fmt.Sprintf("%s %s/%s: %v", req.Kind.Kind, req.Namespace, obj.GetName(), err))
	}
	if req.Operation == admissionv1.Update {
		old, err := decodeUnstructured(req.OldObject.Raw)
		if err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		if oldAnns, _, err := meta(old); err == nil && maps.EqualFunc(networkAnnotations(oldAnns), networkAnnotations(anns), func(a, b string) bool { return a == b }) {
			return admission.Allowed("network annotations unchanged")
		}
	}
	ns, name := req.Namespace, obj.GetName()
	if ns == "" {
		ns = obj.GetNamespace()
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, Annotations: maps.Clone(anns)}}
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations[annotations.KubeVirtDomain] = name
	return v.check(ctx, &workload{kind: req.Kind.Kind, pod: p, port: addressing.VMPortName(name, ns), vm: name})
}

func decodeUnstructured(raw []byte) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(raw, &u.Object); err != nil {
		return nil, err
	}
	return u, nil
}

// networkAnnotations are the annotations kvnet reads for addressing: the
// ovn.kubernetes.io/* keys, their "<provider>.kubernetes.io/" forms, and
// Multus' networks.
func networkAnnotations(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, val := range m {
		if strings.Contains(k, "kubernetes.io/") || k == annotations.MultusNetworks {
			out[k] = val
		}
	}
	return out
}

// check plans w's NICs as the pod controller will, then refuses what the
// controller would refuse for good: a malformed or forbidden request, and
// an address or MAC held by a live owner other than w.
func (v *Validator) check(ctx context.Context, w *workload) admission.Response {
	var subnets kubeovnv1.SubnetList
	if err := v.Client.List(ctx, &subnets); err != nil {
		return failOpen(w, fmt.Errorf("list subnets: %w", err))
	}
	var pools kubeovnv1.IPPoolList
	if err := v.Client.List(ctx, &pools); err != nil {
		return failOpen(w, fmt.Errorf("list ip pools: %w", err))
	}
	var vpcs kubeovnv1.VpcList
	if err := v.Client.List(ctx, &vpcs); err != nil {
		return failOpen(w, fmt.Errorf("list vpcs: %w", err))
	}
	nics, err := addressing.Plan(w.pod, w.port, addressing.Inputs{Subnets: subnets.Items, Pools: pools.Items,
		DefaultSubnet: v.Options.DefaultSubnet, JoinSubnet: v.Options.JoinSubnet, Vpcs: vpcs.Items})
	if err != nil {
		if addressing.Transient(err) {
			// May resolve by itself (a subnet or pool created next): the
			// controller waits for it and reports it as an event meanwhile.
			return admission.Allowed("").WithWarnings(fmt.Sprintf("%s: %v", w, err))
		}
		return admission.Denied(fmt.Sprintf("%s: %v", w, err))
	}
	var warnings []string
	for i := range nics {
		if err := dryRun(&nics[i]); err != nil {
			return admission.Denied(fmt.Sprintf("%s: %v", w, err))
		}
		warns, err := v.conflicts(ctx, w, &nics[i])
		if err != nil {
			var c *conflictError
			if errors.As(err, &c) {
				return admission.Denied(fmt.Sprintf("%s: %v", w, err))
			}
			return failOpen(w, err)
		}
		warnings = append(warnings, warns...)
	}
	return admission.Allowed("").WithWarnings(warnings...)
}

// failOpen admits a pod or VM the webhook could not judge, as its
// failurePolicy Ignore would (an error response would refuse it): the
// controller checks the allocation itself and reports a conflict.
func failOpen(w *workload, err error) admission.Response {
	return admission.Allowed("").WithWarnings(fmt.Sprintf("%s: not checked (%v); the controller reports any conflict as an event", w, err))
}

// dryRun tries the NIC's static request (MAC, addresses, candidate list)
// against a throw-away IPAM that holds only the subnet, so each part is
// judged by the IPAM's own rules: syntax, inside the CIDR, not the gateway
// in any textual form (B01), not a reserved address, one address per
// family. Static addresses inside excludeIps are allowed (B06c).
func dryRun(nic *addressing.NIC) error {
	r := nic.Request
	if len(r.IPs) == 0 && r.MAC == "" && len(r.Candidates) == 0 {
		return nil
	}
	key := func(base string) string { return addressing.Key(nic.Provider, base) }
	try := func(annotation string, req ipam.Request) error {
		m := ipam.New()
		if _, err := m.AddOrUpdateSubnet(addressing.SubnetConfig(nic.Subnet)); err != nil {
			return nil // an invalid subnet is reported on the subnet and by the controller
		}
		req.Subnet, req.Owner = nic.Subnet.Name, "admission"
		if _, err := m.Allocate(req); err != nil && !errors.Is(err, ipam.ErrNoAvailable) {
			return fmt.Errorf("annotation %s: %w", annotation, err)
		}
		return nil
	}
	if r.MAC != "" {
		if err := try(key(annotations.MACAddress), ipam.Request{MAC: r.MAC}); err != nil {
			return err
		}
	}
	if len(r.IPs) > 0 {
		if err := try(key(annotations.IPAddress), ipam.Request{IPs: r.IPs}); err != nil {
			return err
		}
	}
	if len(r.Candidates) > 0 {
		if err := try(key(annotations.IPPool), ipam.Request{Candidates: r.Candidates}); err != nil {
			return err
		}
	}
	return nil
}

// conflictError is an address or MAC held by another live owner.
type conflictError struct{ msg string }

func (e *conflictError) Error() string { return e.msg }
func (e *conflictError) Unwrap() error { return ipam.ErrConflict }

// conflicts looks up the holders of the NIC's static addresses and MAC.
// It returns warnings for holders on their way out, and a *conflictError
// for a live one.
func (v *Validator) conflicts(ctx context.Context, w *workload, nic *addressing.NIC) ([]string, error) {
	type want struct{ what, key string }
	var wants []want
	for _, e := range nic.Request.IPs {
		for _, part := range strings.Split(e, ",") {
			if a, err := ipam.ParseAddr(part); err == nil {
				wants = append(wants, want{"address " + a.String(), addrKey(nic.Subnet.Name, a.String())})
			}
		}
	}
	if m, err := ipam.ParseMAC(nic.Request.MAC); err == nil && nic.Request.MAC != "" {
		wants = append(wants, want{"MAC " + m, macKey(nic.Subnet.Name, m)})
	}
	var warnings []string
	for _, x := range wants {
		var ips kubeovnv1.IPList
		if err := v.Client.List(ctx, &ips, client.MatchingFields{IndexIPByAddress: x.key}); err != nil {
			return nil, fmt.Errorf("list ips: %w", err)
		}
		for i := range ips.Items {
			h := &ips.Items[i]
			live, why, err := v.liveHolder(ctx, w, nic, h)
			if err != nil {
				return nil, err
			}
			if live {
				return nil, &conflictError{fmt.Sprintf("%s in subnet %q is already in use by %s (IP %s): %v", x.what, nic.Subnet.Name, holderName(h), h.Name, ipam.ErrConflict)}
			}
			if why != "" {
				warnings = append(warnings, fmt.Sprintf("%s in subnet %q is still held by %s (IP %s), %s: it is handed over once released", x.what, nic.Subnet.Name, holderName(h), h.Name, why))
			}
		}
	}
	return warnings, nil
}

// liveHolder reports whether IP object h, holding an address or MAC the
// NIC asks for, belongs to a live owner other than w. why explains a
// holder that is not a conflict because it is on its way out.
func (v *Validator) liveHolder(ctx context.Context, w *workload, nic *addressing.NIC, h *kubeovnv1.IP) (live bool, why string, err error) {
	if h.Name == nic.Port {
		return false, "", nil // w itself (a pod re-created under its name)
	}
	ns := w.pod.Namespace
	if w.vm != "" && h.Spec.Namespace == ns {
		vmPort := addressing.VMPortName(w.vm, ns)
		if h.Name == vmPort || strings.HasPrefix(h.Name, vmPort+".") || (h.Spec.PodType == kubeovnv1.PodTypeVM && h.Spec.PodName == w.vm) {
			return false, "", nil // the VM's own kept address
		}
		if h.Spec.PodType == "" && h.Spec.PodName != "" {
			holder := &corev1.Pod{}
			err := v.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: h.Spec.PodName}, holder)
			if err == nil && kubevirt.VMName(holder) == w.vm {
				return false, "", nil // an earlier launcher pod of the same VM
			}
		}
	}
	switch h.Spec.PodType {
	case "", kubeovnv1.PodTypeVM:
		if h.Spec.PodName == "" || h.Spec.Namespace == "" {
			return true, "", nil // a reservation: it holds for good
		}
		got, err := v.liveness().IPHolder(ctx, h)
		if err != nil {
			return false, "", err
		}
		return got.State == kubevirt.HolderAlive, got.Why, nil
	}
	return true, "", nil // nodes and kinds this webhook does not know hold for good
}

// liveness is the one rule of who holds addresses (kubevirt.Liveness),
// reading the API server: a cache that lags a deletion would refuse a
// request for an address that is free (the controller, which reads its
// cache, never releases on a lagging "alive", only fails to).
func (v *Validator) liveness() *kubevirt.Liveness {
	return &kubevirt.Liveness{Cache: v.APIReader, KeepVMIP: v.Options.KeepVMIP}
}
