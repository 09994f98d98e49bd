package addressing

import (
	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/ipam"
)

// PodPortName is Kube-OVN's name of an ordinary pod's primary port and IP
// object: "<pod>.<namespace>". Users create IP objects of this name to
// reserve an address, so it stays as they know it.
func PodPortName(pod, namespace string) string { return pod + "." + namespace }

// VMPortName is the name of a KubeVirt VM's primary port and IP object:
// "<vm>.<namespace>", as Kube-OVN names it. Every launcher pod of the VM
// binds this one port.
func VMPortName(vm, namespace string) string { return vm + "." + namespace }

// AttachmentPortName is the port (and IP object) of an attachment:
// "<primary port>.<provider>".
func AttachmentPortName(primary, provider string) string { return primary + "." + provider }

// NodePortName is the name of a node's join port: "node-<node>".
func NodePortName(node string) string { return "node-" + node }

// PodKey is "<namespace>/<name>": the owner key of a pod's NB rows, and
// the key its holdings are tracked and locked under.
func PodKey(namespace, name string) string { return namespace + "/" + name }

// VMOwnerKey is "<namespace>/<vm>": the owner key of a VM's NB rows.
func VMOwnerKey(namespace, name string) string { return namespace + "/" + name }

// VMKey is the key a VM's holdings are tracked and locked under; the
// "vm:" prefix keeps it apart from a pod of the same name.
func VMKey(namespace, name string) string { return "vm:" + namespace + "/" + name }

// TrackKey is the key an IP object's holding is tracked under: PodKey for
// a pod's, VMKey for a VM's, "" for other owners (nodes, reservations).
func TrackKey(ip *kubeovnv1.IP) string {
	if ip.Spec.Namespace == "" || ip.Spec.PodName == "" {
		return ""
	}
	switch ip.Spec.PodType {
	case "":
		return PodKey(ip.Spec.Namespace, ip.Spec.PodName)
	case kubeovnv1.PodTypeVM:
		return VMKey(ip.Spec.Namespace, ip.Spec.PodName)
	}
	return ""
}

// IndexIPByPod and IndexIPByVM are the cache field indexes of IP objects
// by their holder, "<namespace>/<name>" (IPPodKey, IPVMKey).
const (
	IndexIPByPod = "kvnet.io/ip-pod"
	IndexIPByVM  = "kvnet.io/ip-vm"
)

// IPPodKey is the IndexIPByPod value of an IP object ("" for non-pod holders).
func IPPodKey(ip *kubeovnv1.IP) string {
	if ip.Spec.PodType != "" || ip.Spec.Namespace == "" || ip.Spec.PodName == "" {
		return ""
	}
	return PodKey(ip.Spec.Namespace, ip.Spec.PodName)
}

// IPVMKey is the IndexIPByVM value of an IP object ("" for other holders).
func IPVMKey(ip *kubeovnv1.IP) string {
	if ip.Spec.PodType != kubeovnv1.PodTypeVM || ip.Spec.Namespace == "" || ip.Spec.PodName == "" {
		return ""
	}
	return VMOwnerKey(ip.Spec.Namespace, ip.Spec.PodName)
}

// SubnetConfig maps a Subnet to the IPAM's view of it.
func SubnetConfig(sn *kubeovnv1.Subnet) ipam.SubnetConfig {
	return ipam.SubnetConfig{Name: sn.Name, CIDRBlock: sn.Spec.CIDRBlock, Gateway: sn.Spec.Gateway, ExcludeIPs: sn.Spec.ExcludeIPs}
}

// IPRequest maps a persisted IP object to the request that restores it.
func IPRequest(ip *kubeovnv1.IP) ipam.Request {
	req := ipam.Request{Subnet: ip.Spec.Subnet, Owner: ip.Name, MAC: ip.Spec.MacAddress}
	if ip.Spec.IPAddress != "" {
		req.IPs = []string{ip.Spec.IPAddress}
	} else {
		for _, a := range []string{ip.Spec.V4IPAddress, ip.Spec.V6IPAddress} {
			if a != "" {
				req.IPs = append(req.IPs, a)
			}
		}
	}
	return req
}
