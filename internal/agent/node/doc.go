// Package node bootstraps the node for OVN and keeps its join interface in
// shape. Bootstrap ensures br-int (fail_mode secure, the configured datapath
// type) and, when asked, the Open_vSwitch external_ids that point
// ovn-controller at the southbound database (ovn-remote, ovn-encap-ip,
// ovn-encap-type, system-id, ovn-bridge-datapath-type).
//
// Join reconciles, level-based, the node's port on the join logical switch:
// an OVS internal port ovn0 bound to the node's logical switch port, the
// node's MAC and join address on it, and one route per pod subnet CIDR of the
// default VPC via the join gateway, so the node reaches every pod. Routes are
// tagged with kvnet's route protocol, so stale ones are removed exactly.
package node
