package subnet

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
)

// A Vpc's status write that only lists its subnets again must not re-queue
// them all (with 1000 subnets that kept the queue full); its router
// becoming ready must.
func TestVpcReadinessChanged(t *testing.T) {
	vpc := func(ready metav1.ConditionStatus, subnets ...string) *kubeovnv1.Vpc {
		v := &kubeovnv1.Vpc{ObjectMeta: metav1.ObjectMeta{Name: "t", Generation: 1}}
		v.Status.Subnets = subnets
		if ready != "" {
			v.Status.Conditions = []metav1.Condition{{Type: kubeovnv1.ConditionReady, Status: ready}}
		}
		return v
	}
	p := vpcReadinessChanged()
	for _, c := range []struct {
		name     string
		old, new *kubeovnv1.Vpc
		want     bool
	}{
		{"subnet list grew", vpc(metav1.ConditionTrue, "a"), vpc(metav1.ConditionTrue, "a", "b"), false},
		{"router became ready", vpc(""), vpc(metav1.ConditionTrue), true},
		{"router went", vpc(metav1.ConditionTrue), vpc(metav1.ConditionFalse), true},
	} {
		if got := p.Update(event.UpdateEvent{ObjectOld: c.old, ObjectNew: c.new}); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
