package ipam

// Count is an exact number of addresses, up to 2^128 (an IPv6 subnet's
// available count does not fit an int64).
type Count struct{ v u128 }

// Float64 returns the count as a float64, the type of Kube-OVN's
// v4availableIPs/v6availableIPs status fields (exact below 2^53).
func (c Count) Float64() float64 { return c.v.float64() }

// String returns the exact count in decimal.
func (c Count) String() string { return c.v.String() }

// IsZero reports whether the count is zero.
func (c Count) IsZero() bool { return c.v.isZero() }

// Usage is the status view of a subnet or a pool, per family.
//
// Using counts held addresses (static ones inside excludeIps included).
// Available counts free addresses a dynamic request can get: excluded,
// gateway, network and broadcast addresses are never available, and a
// static address inside excludeIps does not reduce it (B06). For a subnet
// this includes the free addresses of its pools.
//
// The range strings list the addresses as Kube-OVN's status does:
// "10.16.0.2-10.16.0.9,10.16.0.12" (empty when there are none).
type Usage struct {
	V4Using, V6Using                   int
	V4Available, V6Available           Count
	V4UsingRange, V6UsingRange         string
	V4AvailableRange, V6AvailableRange string
}

// Usage returns the subnet's usage. Errors wrap ErrNoSuchSubnet.
func (m *IPAM) Usage(subnetName string) (Usage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.subnet(subnetName)
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	for fam, f := range s.fams {
		if f == nil {
			continue
		}
		avail := f.random.all()
		for _, ps := range f.pools {
			avail = avail.union(ps.free.all())
		}
		u.set(fam, f.is4, f.used.set(), avail)
	}
	return u, nil
}

// PoolUsage returns the usage of one pool of the subnet: held addresses
// inside the pool (whether given from the pool or statically) and the pool's
// free addresses. Errors wrap ErrNoSuchSubnet or ErrNoSuchPool.
func (m *IPAM) PoolUsage(subnetName, pool string) (Usage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.subnet(subnetName)
	if err != nil {
		return Usage{}, err
	}
	if _, ok := s.pools[pool]; !ok {
		return Usage{}, errorf(ErrNoSuchPool, "subnet %q: IP pool %q", subnetName, pool)
	}
	var u Usage
	for fam, f := range s.fams {
		if ps := f.poolSpace(pool); ps != nil {
			u.set(fam, f.is4, f.used.set().intersect(ps.members), ps.free.all())
		}
	}
	return u, nil
}

func (f *family) poolSpace(name string) *poolSpace {
	if f == nil {
		return nil
	}
	return f.pools[name]
}

func (u *Usage) set(fam int, is4 bool, used, avail rangeSet) {
	n := used.count()
	if fam == 0 {
		u.V4Using, u.V4Available = int(n.lo), Count{avail.count()}
		u.V4UsingRange, u.V4AvailableRange = used.format(is4), avail.format(is4)
		return
	}
	u.V6Using, u.V6Available = int(n.lo), Count{avail.count()}
	u.V6UsingRange, u.V6AvailableRange = used.format(is4), avail.format(is4)
}
