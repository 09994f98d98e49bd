// Package bootstrap creates, when missing, the objects a Kube-OVN user
// expects in every cluster: the default VPC, the default subnet and the join
// subnet (which gives each node its ovn0 address). Existing objects are
// never modified, so a user's changes survive restarts.
package bootstrap
