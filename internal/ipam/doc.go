// Package ipam is kvnet's IP address manager: a pure, in-memory allocator of
// IPv4 and IPv6 addresses and MACs for the subnets (OVN logical switches) of
// the cluster. It knows nothing of Kubernetes: the controller feeds it the
// subnets and IP pools, restores holdings from the persisted IP records at
// start-up (Allocate is idempotent per owner), and maps its errors to events.
//
// # Model
//
// A subnet has one CIDR per family (IPv4, IPv6 or dual-stack), a gateway per
// family, excludeIps and named pools. Addresses are held by owners, keyed by
// a string such as "pod.namespace" or "vm.namespace"; an owner holds at most
// one address per family and one MAC in a subnet. A dual-stack request gets
// both families or nothing.
//
// Every address is a netip.Addr in canonical form: text is parsed at the
// boundary (ParseAddr), so "fd00:10::1", "FD00:10::1", "fd00:0010::0001" and
// "fd00:10:0:0:0:0:0:1" are one address (case B01), and IPv4-mapped IPv6
// addresses are unmapped.
//
// Never handed out, statically or dynamically: the gateway (ErrGateway), the
// network address and the IPv4 broadcast address (ErrReserved), except in
// point-to-point prefixes (IPv4 /31 and /32, IPv6 /127 and /128), which
// reserve nothing but the gateway (RFC 3021, RFC 6164).
//
// # Rule for excludeIps (case B06)
//
// Static requests inside excludeIps are ALLOWED. Exclusions only steer
// dynamic allocation, which never returns an excluded address; users exclude
// a range precisely to assign static addresses from it (Kube-OVN behaves the
// same). A held excluded address counts as using but never against the
// available count, and a subnet whose dynamic space is exhausted (available
// = 0) still accepts a static request for an excluded, unused address. The
// same holds for Request.Candidates. Whether a namespace may use a subnet
// at all (B06d) is the controller's check, not this package's.
//
// # End of the line
//
// A released address is not handed out again before the rest of the free
// space has been used, so stale ARP and conntrack entries of the old owner
// do not reach a new one. Each dynamic space (the subnet's, and each pool's)
// is a line in three parts, handed out in this order: the current round, the
// older releases waiting for the next round, and the 128 latest releases in
// strict release order (oldest first). The first round walks the free space
// from the lowest address. When the current round is empty the waiting
// releases become the next round, walked from the first of them that
// started waiting (so steady cyclic churn keeps its order); when the queue
// of latest releases overflows, its oldest entry starts waiting. Hence:
//   - addresses never used since start-up are handed out before any
//     released address;
//   - a released address is reused only after every address of the round
//     that was current at its release;
//   - while fewer than 128 releases followed it, it is reused only when every
//     other free address was released after it (strict FIFO; on a small or
//     nearly full subnet that is always the case).
//
// The order lives in memory: after a restart the line starts again from the
// lowest free address. Its memory is two range sets and at most 128 queued
// addresses per line.
//
// # Cost
//
// Address sets are ranges of 128-bit numbers (one arithmetic for both
// families), never one entry per address: an empty /8 retains about 500
// bytes and a /64 works like a /24. The sets that change on every
// allocation (a line's rounds, the held addresses) are treaps of ranges, so
// allocate and release cost O(log n) in the number of ranges n however
// fragmented the subnet; the rest are sorted range slices searched in
// O(log n). Each held address also costs one map entry (to name its holder).
//
// # MAC addresses
//
// A requested MAC must be a 6-byte unicast MAC not held by another owner of
// the subnet (ErrMACConflict). Otherwise a random locally administered
// unicast MAC is generated (46 random bits; first octet with the
// locally-administered bit set and the multicast bit clear), unique in the
// subnet. Kube-OVN's fixed 00:00:00 prefix is not used: it is a universally
// administered OUI and leaves only 24 random bits.
//
// # Multi-NIC atomicity (case B12)
//
// AllocateAll allocates one request per NIC across subnets, all or nothing.
// Callers that allocate NIC by NIC get the same guarantee from two facts:
// Allocate for an owner that already holds addresses returns them (a retry
// never takes a second address), and Release(subnet, owner) undoes a partial
// allocation.
//
// # Subnet updates
//
// AddOrUpdateSubnet keeps holdings that are still valid under the new
// configuration and reports, rather than silently drops, owners whose
// addresses became invalid.
//
// # Errors
//
// Errors wrap one sentinel (ErrInvalid, ErrOutOfRange, ErrGateway,
// ErrReserved, ErrConflict, ErrMACConflict, ErrNoAvailable, ErrNoSuchSubnet,
// ErrNoSuchPool) once, with the subnet, address and owner concerned; test
// with errors.Is. The validation helpers (ValidateSubnet, ParseCIDRBlock,
// ParseExclude, ParseRange, ParseAddr, ParseMAC) are shared with the
// admission webhook so that what the API accepts is what the IPAM accepts.
package ipam
