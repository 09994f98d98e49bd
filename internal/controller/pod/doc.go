// Package pod reconciles pods into addresses and OVN ports.
//
// For each pod that is not host-networked, Plan (pure) works out its NICs:
// the primary one on the "ovn" provider and one per Multus attachment that
// a kvnet subnet serves, each with its subnet and IPAM request, honouring
// the ovn.kubernetes.io/{logical_switch,ip_address,mac_address,ip_pool}
// annotations (or their "<provider>.kubernetes.io/" forms), IP pools and the
// namespace's subnet binding. The reconciler then allocates every NIC at
// once (all or nothing, B12), persists one IP object per NIC, creates the
// logical switch ports in one transaction, and finally writes the pod
// annotations ending with routed=true, which the node agent waits for.
//
// A pod that is gone releases its addresses, IP objects and ports; the
// repair pass catches pods deleted while the controller was down (B08).
// Port, IP object and IPAM owner share one name. Who owns a pod's
// addresses is an Identity: the pod itself (named by the PortNamer), or,
// from the pluggable Identifier, its KubeVirt VM (package vm), which also
// decides the port's chassis and when the pod may be routed. Ports are
// requested on the pod's node (requested-chassis) once it is scheduled.
package pod
