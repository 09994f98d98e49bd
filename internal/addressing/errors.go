package addressing

import (
	"errors"
	"fmt"

	"github.com/kvnet/kvnet/internal/ipam"
)

// PlanError is a failure to plan a pod's NICs, with the event reason.
type PlanError struct {
	Reason string
	// Transient errors may resolve by themselves (a subnet not ready yet).
	Transient bool
	Err       error
}

func (e *PlanError) Error() string { return e.Err.Error() }
func (e *PlanError) Unwrap() error { return e.Err }

// Errorf returns a *PlanError with reason, transient and a formatted message.
func Errorf(reason string, transient bool, format string, args ...any) error {
	return &PlanError{Reason: reason, Transient: transient, Err: fmt.Errorf(format, args...)}
}

// WaitReasons are the plan failures that end when a subnet or an IP pool
// appears or becomes ready: the pod waits for one (its controller re-queues
// it on Subnet and IPPool events).
var WaitReasons = map[string]bool{"SubnetNotFound": true, "SubnetNotReady": true, "IPPoolNotReady": true}

// Reason maps an error from Plan or from the IPAM to an event reason.
func Reason(err error) string {
	var pe *PlanError
	switch {
	case errors.As(err, &pe):
		return pe.Reason
	case errors.Is(err, ipam.ErrGateway):
		return "IPIsGateway"
	case errors.Is(err, ipam.ErrMACConflict):
		return "MACConflict"
	case errors.Is(err, ipam.ErrConflict):
		return "IPConflict"
	case errors.Is(err, ipam.ErrReserved):
		return "IPReserved"
	case errors.Is(err, ipam.ErrOutOfRange):
		return "IPOutOfRange"
	case errors.Is(err, ipam.ErrNoAvailable):
		return "NoAvailableAddress"
	case errors.Is(err, ipam.ErrNoSuchSubnet):
		return "SubnetNotReady"
	case errors.Is(err, ipam.ErrNoSuchPool):
		return "IPPoolNotReady"
	case errors.Is(err, ipam.ErrInvalid):
		return "InvalidIPRequest"
	}
	return "AllocationFailed"
}

// Transient reports whether a failure may resolve without the pod
// changing: a holder going away (B08), addresses freed, a subnet or pool
// becoming ready. Malformed or forbidden requests are not retried.
func Transient(err error) bool {
	var pe *PlanError
	if errors.As(err, &pe) {
		return pe.Transient
	}
	return errors.Is(err, ipam.ErrConflict) || errors.Is(err, ipam.ErrMACConflict) ||
		errors.Is(err, ipam.ErrNoAvailable) || errors.Is(err, ipam.ErrNoSuchSubnet) ||
		errors.Is(err, ipam.ErrNoSuchPool)
}
