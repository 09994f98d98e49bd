package subnet

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
)

// usageInterval is the shortest time between two status writes of one
// subnet that change only its usage counts. Every allocation changes them,
// so without this a burst of N pods would cost N status writes.
const usageInterval = time.Second

// throttle spaces usage-only status writes per subnet.
type throttle struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// wait returns how long to wait before writing st over sn's status, or 0
// to write now (and records the write). Condition changes are never held back.
func (t *throttle) wait(sn *kubeovnv1.Subnet, st *kubeovnv1.SubnetStatus) time.Duration {
	if equality.Semantic.DeepEqual(&sn.Status, st) {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		t.last = map[string]time.Time{}
	}
	now := time.Now()
	usageOnly := equality.Semantic.DeepEqual(sn.Status.Conditions, st.Conditions) && sn.Status.ObservedGeneration == st.ObservedGeneration
	if last, ok := t.last[sn.Name]; ok && usageOnly && now.Sub(last) < usageInterval {
		return usageInterval - now.Sub(last)
	}
	t.last[sn.Name] = now
	return 0
}
