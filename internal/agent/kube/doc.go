// Package kube connects the agent to the Kubernetes API: an informer on the
// pods bound to this node (cniserver.Pods, with per-pod change notification
// so a waiting CNI ADD wakes as soon as the controller annotates its pod),
// and an informer on this Node plus a dynamic informer on kubeovn.io/v1
// Subnets (node.Source and cniserver.GatewayPolicy). Caches hold only the
// metadata and fields the agent reads.
package kube
