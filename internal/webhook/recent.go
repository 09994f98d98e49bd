package webhook

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
)

// recentTTL bounds how long an admitted subnet the cache has not shown
// yet counts in admission. The cache normally follows within milliseconds;
// a subnet admitted but then not stored (another webhook refused it)
// stops counting after this.
const recentTTL = 10 * time.Second

// RecentSubnets remembers the subnets this webhook admitted until the
// manager's cache shows them, so subnet admission can read the cache (one
// list per create, not a live list of every subnet) and still see a subnet
// admitted milliseconds earlier from the same manifest. It covers one
// webhook process; conflicts between replicas are caught by the
// controller, which reports the younger subnet (Validated=False).
// The zero value is ready; safe for concurrent use.
type RecentSubnets struct {
	mu sync.Mutex
	m  map[string]recentSubnet
}

type recentSubnet struct {
	spec kubeovnv1.SubnetSpec
	at   time.Time
}

// Add records sn as admitted now.
func (r *RecentSubnets) Add(sn *kubeovnv1.Subnet) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]recentSubnet{}
	}
	r.m[sn.Name] = recentSubnet{spec: *sn.Spec.DeepCopy(), at: time.Now()}
}

// Merge returns cached with the remembered subnets laid over it: one the
// cache lacks is added, one the cache has with another spec gets the
// admitted spec; remembered names those that came from memory. Entries the
// cache has caught up with, or older than recentTTL, are forgotten. cached
// is not modified.
func (r *RecentSubnets) Merge(cached []kubeovnv1.Subnet) (merged []kubeovnv1.Subnet, remembered map[string]bool) {
	remembered = map[string]bool{}
	if r == nil {
		return cached, remembered
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.m) == 0 {
		return cached, remembered
	}
	now := time.Now()
	out := make([]kubeovnv1.Subnet, 0, len(cached)+len(r.m))
	seen := map[string]bool{}
	for i := range cached {
		sn := cached[i]
		if e, ok := r.m[sn.Name]; ok {
			seen[sn.Name] = true
			switch {
			case equality.Semantic.DeepEqual(e.spec, sn.Spec) || now.Sub(e.at) > recentTTL:
				delete(r.m, sn.Name)
			default:
				sn.Spec = *e.spec.DeepCopy()
				remembered[sn.Name] = true
			}
		}
		out = append(out, sn)
	}
	for name, e := range r.m {
		if seen[name] {
			continue
		}
		if now.Sub(e.at) > recentTTL {
			delete(r.m, name)
			continue
		}
		sn := kubeovnv1.Subnet{Spec: *e.spec.DeepCopy()}
		sn.Name = name
		out = append(out, sn)
		remembered[name] = true
	}
	return out, remembered
}
