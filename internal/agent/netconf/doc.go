// Package netconf configures kernel networking for the node agent through
// netlink and ioctls (no ip/ethtool binaries): the veth pair of a pod with
// its addresses, routes and MTU; the join interface of the node (ovn0) and
// its routes to pod subnets; and the checks run on a new pod (gateway reach).
//
// Host-side calls act in the network namespace the agent runs in (the
// node's); container-side calls enter the pod's namespace by path for the
// duration of the call, on a locked OS thread.
//
// On the userspace (netdev) datapath OVS reads veths with AF_PACKET and does
// not complete partial checksums nor split TSO frames, so TCP between pods
// fails unless tx checksum offload is off on every kernel-side end that
// transmits into OVS; DisableTxOffload does that with the ethtool ioctl.
package netconf
