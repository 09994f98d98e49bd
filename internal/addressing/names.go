package addressing

// Names of the NB rows kvnet derives from names users choose (VPC, subnet,
// namespace, pod, VM, node). They must not collide across the row kinds
// that share a namespace in OVN: logical switch ports and logical router
// ports share one (the SB Port_Binding's logical_port is unique across
// both), and pod, VM, attachment, node and router ports all live in it.
//
// The names Kube-OVN users know stay as they are: ports and IP objects
// "<pod>.<ns>", "<vm>.<ns>", "<port>.<provider>" and "node-<node>" (users
// create IP objects of those names to reserve addresses, and running pods'
// OVS iface-id points at them). Two holders that claim one of those names
// (a pod and a VM both called "web" in one namespace; a pod "node-a" in
// namespace "b" and a node "a.b") are told apart at run time: the second
// gets a NameConflict event and no port (pod.Reconciler). Every other
// name is built with ':', which no Kubernetes object name contains
// (DNS-1123), so it cannot collide with those nor with each other.

// LogicalSwitchName is the logical switch of a subnet: its name (subnet
// names are unique among subnets, and only subnets make switches).
func LogicalSwitchName(subnet string) string { return subnet }

// LogicalRouterName is the logical router of a VPC: its name.
func LogicalRouterName(vpc string) string { return vpc }

// RouterPortName is the logical router port of subnet on vpc's router:
// "lrp:<vpc>:<subnet>". (Kube-OVN's "<vpc>-<subnet>" is ambiguous: VPC
// "team-a" with subnet "web" and VPC "team" with subnet "a-web" both make
// "team-a-web".)
func RouterPortName(vpc, subnet string) string { return "lrp:" + vpc + ":" + subnet }

// SwitchRouterPortName is the logical switch port of type router that
// peers subnet's switch with RouterPortName: "lsp:<vpc>:<subnet>".
func SwitchRouterPortName(vpc, subnet string) string { return "lsp:" + vpc + ":" + subnet }
