// Package subnet reconciles Subnet objects: validation (status condition and
// event, never a panic, case B05), conflicts with other subnets (B04), the
// subnet's place in the IPAM, and its OVN topology: a logical switch, a
// router port "<vpc>-<subnet>" on the VPC's router and the switch's peer
// port "<subnet>-<vpc>" of type router. The desired rows are computed by the
// pure Build; the reconciler applies the difference in one transaction.
package subnet
