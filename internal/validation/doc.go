// Package validation holds kvnet's validation rules as pure functions over
// API objects, so that the controller (status conditions and events) and the
// admission webhook (a later issue) apply exactly the same rules. Address
// syntax is the IPAM package's: what validation accepts is what the IPAM
// accepts.
//
// Rules here go beyond the CRD's OpenAPI/CEL schema: excludeIps ranges
// against the CIDR (ordering, family, containment), and rules spanning
// objects (CIDR overlap inside one VPC, a namespace bound to two subnets,
// which namespaces may use a subnet).
package validation
