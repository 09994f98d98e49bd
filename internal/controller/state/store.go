package state

import (
	"context"
	"maps"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/ipam"
)

// Store is the controller's shared in-memory state.
type Store struct {
	IPAM *ipam.IPAM

	ready     chan struct{}
	readyOnce sync.Once

	mu    sync.Mutex
	pools map[string]string            // IPPool name -> subnet it was loaded into
	held  map[string]map[string]string // owner object key -> IPAM owner -> subnet
	locks map[string]*keyLock          // object key -> lock serializing its reconciles

	usage chan event.GenericEvent
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

// usageBuffer bounds the queue of usage-change notifications; when it is
// full, the notifications already queued refresh the same subnets.
const usageBuffer = 4096

// NewStore returns an empty store whose gate is closed.
func NewStore() *Store {
	return &Store{IPAM: ipam.New(), ready: make(chan struct{}), pools: map[string]string{},
		held: map[string]map[string]string{}, locks: map[string]*keyLock{}, usage: make(chan event.GenericEvent, usageBuffer)}
}

// Lock serializes work on one object key (a pod's or a VM's): the launcher
// pods of a VM and its migration share the VM's addresses and ports, and
// different reconcilers act on them. It returns the unlock function.
func (s *Store) Lock(key string) func() {
	s.mu.Lock()
	l := s.locks[key]
	if l == nil {
		l = &keyLock{}
		s.locks[key] = l
	}
	l.refs++
	s.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		s.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(s.locks, key)
		}
		s.mu.Unlock()
	}
}

// UsageChanged notes that subnet's usage changed outside a reconcile the
// subnet controller watches (an address released after its IP object was
// already gone), so its status is refreshed.
func (s *Store) UsageChanged(subnet string) {
	ev := event.GenericEvent{Object: &kubeovnv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: subnet}}}
	select {
	case s.usage <- ev:
	default:
	}
}

// UsageEvents delivers the subnets passed to UsageChanged (for a
// controller-runtime channel source).
func (s *Store) UsageEvents() <-chan event.GenericEvent { return s.usage }

// MarkReady opens the gate; later calls do nothing.
func (s *Store) MarkReady() { s.readyOnce.Do(func() { close(s.ready) }) }

// Ready returns a channel closed once the IPAM has been rebuilt.
func (s *Store) Ready() <-chan struct{} { return s.ready }

// WaitReady blocks until the IPAM has been rebuilt or ctx ends.
func (s *Store) WaitReady(ctx context.Context) error {
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SetPoolSubnet records which subnet pool was loaded into ("" forgets it).
func (s *Store) SetPoolSubnet(pool, subnet string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if subnet == "" {
		delete(s.pools, pool)
		return
	}
	s.pools[pool] = subnet
}

// PoolSubnet returns the subnet pool was loaded into.
func (s *Store) PoolSubnet(pool string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, ok := s.pools[pool]
	return sub, ok
}

// Track records that the object key (a pod's "<namespace>/<name>") holds
// owner's addresses in subnet, so that releasing the object finds every
// holding even when its IP objects are already gone (Kubernetes' garbage
// collector deletes them with the pod) or it had none (IPAM-only NICs).
func (s *Store) Track(key, owner, subnet string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[key] == nil {
		s.held[key] = map[string]string{}
	}
	s.held[key][owner] = subnet
}

// Tracked returns a copy of the object key's holdings (owner -> subnet).
func (s *Store) Tracked(key string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.held[key])
}

// UntrackOwner forgets one IPAM owner of the object key.
func (s *Store) UntrackOwner(key, owner string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.held[key], owner)
	if len(s.held[key]) == 0 {
		delete(s.held, key)
	}
}

// Untrack forgets the object key.
func (s *Store) Untrack(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.held, key)
}

// SubnetConfig maps a Subnet to the IPAM's view of it.
func SubnetConfig(sn *kubeovnv1.Subnet) ipam.SubnetConfig {
	return ipam.SubnetConfig{Name: sn.Name, CIDRBlock: sn.Spec.CIDRBlock, Gateway: sn.Spec.Gateway, ExcludeIPs: sn.Spec.ExcludeIPs}
}

// IPRequest maps a persisted IP object to the request that restores it.
func IPRequest(ip *kubeovnv1.IP) ipam.Request {
	req := ipam.Request{Subnet: ip.Spec.Subnet, Owner: ip.Name, MAC: ip.Spec.MacAddress}
	if ip.Spec.IPAddress != "" {
		req.IPs = []string{ip.Spec.IPAddress}
	} else {
		for _, a := range []string{ip.Spec.V4IPAddress, ip.Spec.V6IPAddress} {
			if a != "" {
				req.IPs = append(req.IPs, a)
			}
		}
	}
	return req
}
