package v1

// Condition types shared by the kinds of this package.
const (
	// ConditionReady is True when the object is fully programmed in OVN.
	ConditionReady = "Ready"
	// ConditionValidated is True when the spec passed the controller's
	// validation (rules beyond the CRD schema, and rules that span objects).
	ConditionValidated = "Validated"
	// ConditionError is True while the last reconcile failed; its message
	// carries the error.
	ConditionError = "Error"
)

// Protocol values of Subnet.spec.protocol.
const (
	ProtocolIPv4 = "IPv4"
	ProtocolIPv6 = "IPv6"
	ProtocolDual = "Dual"
)
