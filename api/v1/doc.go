// Package v1 holds kvnet's API types in group kubeovn.io, version v1.
//
// The kinds and field names follow Kube-OVN's public API so that existing
// manifests apply unchanged; schemas, validation rules and status handling are
// kvnet's own. Every kind is cluster-scoped.
//
// Validation is layered: the OpenAPI schema and CEL rules (x-kubernetes-validations)
// generated from the markers in this package refuse malformed single objects at
// admission; rules CEL cannot express (excludeIps ranges against the CIDR,
// overlap between objects) live in internal/validation and surface as status
// conditions and events.
//
// +kubebuilder:object:generate=true
// +groupName=kubeovn.io
package v1
