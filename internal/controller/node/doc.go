// Package node reconciles Nodes into join-network ports: each node gets an
// address on the join subnet (IP object "node-<name>"), a logical switch
// port "node-<name>" for its ovn0 interface, and the same allocation
// annotations as pods, which the node agent reads. A deleted node's
// address, IP object and port are removed.
package node
