package state

import (
	"context"
	"maps"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/controller/metrics"
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

// Release gives up what IPAM owner holds in subnet for the object key, as
// one step: the IPAM frees the addresses, the release is counted
// (kvnet_ip_releases_total), the subnet's status is refreshed
// (UsageChanged) and key no longer tracks owner. It returns what was freed
// and false when owner held nothing there (then only the tracking goes).
func (s *Store) Release(key, owner, subnet string) (ipam.Allocation, bool) {
	a, held := s.IPAM.Lookup(subnet, owner)
	if held {
		s.IPAM.Release(subnet, owner)
		metrics.Releases.WithLabelValues(subnet).Inc()
		s.UsageChanged(subnet)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[key][owner] == subnet {
		delete(s.held[key], owner)
		if len(s.held[key]) == 0 {
			delete(s.held, key)
		}
	}
	return a, held
}

// ReleaseAll releases every holding of the object key: those it tracks and
// extra (IPAM owner -> subnet, found in its ports and IP objects), each as
// Release does, and forgets the key. It returns the allocations freed.
func (s *Store) ReleaseAll(key string, extra map[string]string) []ipam.Allocation {
	holdings := s.Tracked(key)
	if holdings == nil {
		holdings = map[string]string{}
	}
	maps.Copy(holdings, extra)
	var freed []ipam.Allocation
	for owner, subnet := range holdings {
		if a, ok := s.Release(key, owner, subnet); ok {
			freed = append(freed, a)
		}
	}
	s.mu.Lock()
	delete(s.held, key)
	s.mu.Unlock()
	return freed
}
