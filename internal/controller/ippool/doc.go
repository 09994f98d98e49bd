// Package ippool reconciles IPPool objects into named pools of the IPAM and
// reports each pool's usage in its status.
package ippool
