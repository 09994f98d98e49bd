package ipam

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the package returns wraps exactly one of them
// (test with errors.Is) and adds the subnet, address or owner concerned; the
// text is meant to be shown to users in Kubernetes events.
var (
	// ErrInvalid: malformed input (address, CIDR, range, MAC, owner, subnet config).
	ErrInvalid = errors.New("invalid")
	// ErrOutOfRange: an address or range is not inside the subnet's CIDR of its family,
	// or the subnet has no CIDR of that family.
	ErrOutOfRange = errors.New("out of range")
	// ErrGateway: a requested address is the subnet's gateway (case B01).
	ErrGateway = errors.New("address is the subnet gateway")
	// ErrReserved: a requested address is the network or (IPv4) broadcast address.
	ErrReserved = errors.New("address is reserved")
	// ErrConflict: a requested address is held by another owner, or the owner
	// already holds a different address than the one requested.
	ErrConflict = errors.New("address conflict")
	// ErrMACConflict: a requested MAC is held by another owner in the subnet,
	// or the owner already holds a different MAC.
	ErrMACConflict = errors.New("MAC address conflict")
	// ErrNoAvailable: no free address is left for a dynamic request.
	ErrNoAvailable = errors.New("no available address")
	// ErrNoSuchSubnet: the subnet is unknown to the IPAM.
	ErrNoSuchSubnet = errors.New("no such subnet")
	// ErrNoSuchPool: the named IP pool is unknown in the subnet.
	ErrNoSuchPool = errors.New("no such IP pool")
)

// errorf formats a message and wraps sentinel at its end: "<message>: <sentinel>".
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, sentinel)...)
}
