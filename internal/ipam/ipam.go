package ipam

import (
	"fmt"
	"maps"
	"slices"
	"sync"
)

// IPAM holds the address state of every subnet. It is safe for concurrent
// use (one mutex; every operation is short). The zero value is not usable:
// call New.
type IPAM struct {
	mu      sync.Mutex
	subnets map[string]*subnet
}

// New returns an empty IPAM.
func New() *IPAM { return &IPAM{subnets: map[string]*subnet{}} }

// SubnetConfig is the address part of a Subnet, in the API's textual forms.
type SubnetConfig struct {
	// Name is the subnet (logical switch) name.
	Name string
	// CIDRBlock is spec.cidrBlock: "10.16.0.0/16", "fd00::/112" or both
	// comma-separated (see ParseCIDRBlock).
	CIDRBlock string
	// Gateway is spec.gateway: one address per CIDR, comma-separated, or ""
	// for DefaultGateway of each CIDR.
	Gateway string
	// ExcludeIPs is spec.excludeIps (see ParseExclude): addresses that
	// dynamic allocation never returns. Static requests may still use them.
	ExcludeIPs []string
}

// AddOrUpdateSubnet creates the subnet or applies a new configuration to it,
// as a whole: on error nothing changes. Existing holdings are kept where
// still valid. An address that is no longer valid (outside the new CIDR of
// its family, or now the gateway, network or broadcast address) is dropped
// from its owner's holding, and the owner is returned in invalidOwners
// (sorted) so that the caller can re-allocate (Allocate for the owner keeps
// the MAC and the valid addresses and fills the gap) or report it. Pools are
// kept, clipped to the new CIDRs. Errors wrap ErrInvalid or ErrOutOfRange.
func (m *IPAM) AddOrUpdateSubnet(cfg SubnetConfig) (invalidOwners []string, err error) {
	if cfg.Name == "" {
		return nil, errorf(ErrInvalid, "subnet has no name")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.subnets[cfg.Name]
	if s == nil {
		s = &subnet{name: cfg.Name}
		if _, err := s.configure(cfg); err != nil {
			return nil, err
		}
		m.subnets[cfg.Name] = s
		return nil, nil
	}
	return s.configure(cfg)
}

// DeleteSubnet forgets the subnet and everything held in it. Refusing to
// delete a subnet that is still in use is the caller's decision (Usage).
func (m *IPAM) DeleteSubnet(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.subnets, name)
}

// AddOrUpdatePool defines the IP pool name in subnet (an IPPool): entries as
// ParseRange takes them ("10.16.0.10", "10.16.0.20..10.16.0.29",
// "10.16.1.0/28"), inside the subnet's CIDRs and not overlapping another
// pool. Pool addresses are handed out dynamically only to requests naming
// the pool; static requests may use them like any address. Addresses already
// held stay held. Errors wrap ErrNoSuchSubnet, ErrInvalid or ErrOutOfRange.
func (m *IPAM) AddOrUpdatePool(subnetName, name string, entries []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.subnet(subnetName)
	if err != nil {
		return err
	}
	return s.setPool(name, entries)
}

// DeletePool removes a pool; its free addresses return to the subnet's
// dynamic space. Unknown subnets or pools are a no-op.
func (m *IPAM) DeletePool(subnetName, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.subnets[subnetName]; s != nil {
		if _, ok := s.pools[name]; ok {
			pools := maps.Clone(s.pools)
			delete(pools, name)
			s.setPools(pools)
		}
	}
}

// Allocate gives req.Owner one address per family of req.Subnet and a MAC.
// It is all-or-nothing (a dual-stack request never ends up holding one
// family) and idempotent per owner: if the owner already holds addresses in
// the subnet they are returned unchanged (this is how state is restored at
// start-up from persisted records), unless the request names a different
// static address or MAC, which fails with ErrConflict or ErrMACConflict
// (Pool and Candidates are not re-checked against an existing holding). A
// family the owner lacks (see AddOrUpdateSubnet) is filled in.
//
// Errors wrap ErrNoSuchSubnet, ErrNoSuchPool, ErrInvalid, ErrOutOfRange,
// ErrGateway, ErrReserved, ErrConflict (naming the holder), ErrMACConflict
// or ErrNoAvailable.
func (m *IPAM) Allocate(req Request) (Allocation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.allocate(req)
}

func (m *IPAM) allocate(req Request) (Allocation, error) {
	s, err := m.subnet(req.Subnet)
	if err != nil {
		return Allocation{}, err
	}
	p, err := s.parseRequest(req)
	if err != nil {
		return Allocation{}, err
	}
	h, err := s.allocate(req.Owner, p)
	if err != nil {
		return Allocation{}, err
	}
	return s.allocation(req.Owner, h), nil
}

// AllocateAll allocates every request (e.g. one per NIC of a pod, across
// subnets) or none: if one fails, what this call added for the earlier
// requests is released again and the error is returned (case B12). Holdings
// that existed before the call are left as they were. Since Allocate is
// idempotent per owner, retrying after a failure never leaks addresses.
func (m *IPAM) AllocateAll(reqs []Request) ([]Allocation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	type undo struct {
		s     *subnet
		owner string
		prior *holding // copy of the holding before the call, nil if none
	}
	var undos []undo
	out := make([]Allocation, 0, len(reqs))
	for _, req := range reqs {
		u := undo{s: m.subnets[req.Subnet], owner: req.Owner}
		if u.s != nil {
			if h := u.s.owners[req.Owner]; h != nil {
				c := *h
				u.prior = &c
			}
		}
		a, err := m.allocate(req)
		if err != nil {
			for i := len(undos) - 1; i >= 0; i-- {
				undos[i].s.restore(undos[i].owner, undos[i].prior)
			}
			return nil, err
		}
		undos = append(undos, u)
		out = append(out, a)
	}
	return out, nil
}

// restore returns owner's holding to prior (nil: no holding), releasing
// whatever was added since.
func (s *subnet) restore(owner string, prior *holding) {
	h := s.owners[owner]
	if prior == nil {
		s.release(owner)
		return
	}
	if h == nil {
		return
	}
	for fam, ip := range h.ips {
		if ip.IsValid() && ip != prior.ips[fam] {
			s.fams[fam].free(u128From(ip))
			h.ips[fam] = prior.ips[fam]
		}
	}
}

// Release frees everything owner holds in the subnet (addresses join the end
// of their line, the MAC becomes free). Unknown subnets or owners are a
// no-op, so Release also undoes a partial multi-subnet allocation.
func (m *IPAM) Release(subnetName, owner string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.subnets[subnetName]; s != nil {
		s.release(owner)
	}
}

// Lookup returns what owner holds in the subnet.
func (m *IPAM) Lookup(subnetName, owner string) (Allocation, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.subnets[subnetName]
	if s == nil || s.owners[owner] == nil {
		return Allocation{}, false
	}
	return s.allocation(owner, s.owners[owner]), true
}

// List returns every holding of the subnet, sorted by owner (for garbage
// collection against persisted records). Unknown subnets give nil.
func (m *IPAM) List(subnetName string) []Allocation {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.subnets[subnetName]
	if s == nil {
		return nil
	}
	out := make([]Allocation, 0, len(s.owners))
	for _, owner := range slices.Sorted(maps.Keys(s.owners)) {
		out = append(out, s.allocation(owner, s.owners[owner]))
	}
	return out
}

func (m *IPAM) subnet(name string) (*subnet, error) {
	s := m.subnets[name]
	if s == nil {
		return nil, fmt.Errorf("subnet %q: %w", name, ErrNoSuchSubnet)
	}
	return s, nil
}
