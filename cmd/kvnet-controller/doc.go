// Command kvnet-controller is kvnet's cluster controller: IPAM, Subnet/IP/
// IPPool/Vpc reconciliation and the OVN northbound programming for pods and
// nodes. It runs leader-elected; see internal/controller for the parts.
package main
