// Package addressing is kvnet's addressing library: the pure code that
// decides what a pod's or a KubeVirt VM's NICs are, what they are called,
// and what rows and records describe them. It reads only its arguments
// (no API server, no OVN), so the reconcilers and the admission webhook
// judge a request by exactly the same rules.
//
//   - Plan works out a workload's NICs: the primary one on the "ovn"
//     provider and one per Multus attachment a kvnet subnet serves, each
//     with its subnet and IPAM request, from the ovn.kubernetes.io/
//     {logical_switch,ip_address,mac_address,ip_pool} annotations (or their
//     "<provider>.kubernetes.io/" forms), IP pools, and the namespace's
//     subnet or VPC binding. Reason and Transient classify its failures.
//   - Keys: the names Kube-OVN users know (port and IP object
//     "<pod>.<namespace>", "<vm>.<namespace>", attachments
//     "<port>.<provider>", node ports "node-<node>") and the keys kvnet
//     tracks and locks holdings under.
//   - Holder says who holds a NIC's addresses (the pod itself, or the VM
//     a launcher pod runs) as plain data, and builds the logical switch
//     port, the IP object and the pod annotations of each NIC.
//   - Reconcile rules for what a holder already holds (HeldPolicy).
package addressing
