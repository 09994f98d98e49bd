// Package annotations holds the pod and node annotation keys kvnet reads and
// writes, and the naming rules that the controller and the node agent must
// agree on. The keys are Kube-OVN's public annotation contract
// (ovn.kubernetes.io/*), so existing manifests apply unchanged.
package annotations

import (
	"strings"
)

// Annotation keys. Values are strings; lists (dual-stack) are comma-separated
// with the IPv4 part first.
const (
	// Prefix is the annotation prefix of the default (OVN) provider.
	Prefix = "ovn.kubernetes.io/"

	// IPAddress: requested (user) or allocated (controller) addresses, e.g. "10.16.0.5" or "10.16.0.5,fd00::5".
	IPAddress = Prefix + "ip_address"
	// MACAddress: requested or allocated MAC, "aa:bb:cc:dd:ee:ff".
	MACAddress = Prefix + "mac_address"
	// IPPool: requested pool, either an IPPool name or a comma/semicolon separated list of addresses.
	IPPool = Prefix + "ip_pool"
	// LogicalSwitch: requested or allocated subnet (= logical switch) name.
	LogicalSwitch = Prefix + "logical_switch"
	// Allocated is "true" once the controller has written the allocation annotations.
	Allocated = Prefix + "allocated"
	// CIDR: the subnet's CIDR(s), comma-separated for dual-stack.
	CIDR = Prefix + "cidr"
	// Gateway: the subnet's gateway(s), comma-separated for dual-stack.
	Gateway = Prefix + "gateway"
	// Routed is "true" once the pod's logical switch port exists in OVN NB, so
	// the node agent may plug the interface.
	Routed = Prefix + "routed"
	// PortName: the OVN logical switch port the pod's interface binds to
	// (OVS Interface external_ids:iface-id). Set by the controller on pods and nodes.
	PortName = Prefix + "port_name"
)

// KubeVirt labels and annotations kvnet reads (kubevirt.io/api, virt-controller).
const (
	// KubeVirtDomain is the virt-launcher pod annotation naming its VMI (== VM name).
	KubeVirtDomain = "kubevirt.io/domain"
	// KubeVirtLauncherLabel is "kubevirt.io" with value "virt-launcher" on launcher pods.
	KubeVirtLauncherLabel = "kubevirt.io"
	// KubeVirtMigrationJobUID labels a migration target launcher pod.
	KubeVirtMigrationJobUID = "kubevirt.io/migrationJobUID"
)

// PortSecurity "false" makes a NIC's port check only the source MAC, not
// the IP addresses, so that the pod may forward traffic for others (a VPC
// static route or reroute policy pointing at it). kvnet checks MAC and IPs
// by default (Kube-OVN checks nothing unless this is "true").
const PortSecurity = Prefix + "port_security"

// PortSecurityOff reports whether a port_security annotation value turns
// the IP check off.
func PortSecurityOff(v string) bool { return strings.EqualFold(strings.TrimSpace(v), "false") }

// SkipOVNInstalled "true" on a migration target pod tells the node agent
// not to wait for ovn-installed: the controller keeps the port on the
// source chassis until the migration ends (the benchmark-only naive
// hand-over, kvnet-controller --migration-mode=naive). The agent honours
// it only on migration target pods.
const SkipOVNInstalled = "kvnet.io/skip-ovn-installed"

// Multus: the pod annotation listing a pod's attachment networks
// ("ns/name", "name@if", comma-separated, or a JSON list of selections).
const MultusNetworks = "k8s.v1.cni.cncf.io/networks"
