package nbresync

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

// A deleted row's owner is enqueued on the feed of each controller that
// knows its kind; rows kvnet does not own are ignored.
func TestDeletedRowEnqueuesOwner(t *testing.T) {
	r := &Resyncer{owner: make(chan ops.Owner, 4)}
	if src := r.Source("pod", Feed{List: func() client.ObjectList { return &corev1.PodList{} },
		Owners: map[string]func(context.Context, string) []client.Object{
			ops.OwnerKindPod: Named(func() client.Object { return &corev1.Pod{} }, true)}}); src == nil {
		t.Fatal("no source")
	}
	r.Source("subnet", Feed{List: func() client.ObjectList { return &kubeovnv1.SubnetList{} },
		Owners: map[string]func(context.Context, string) []client.Object{
			ops.OwnerKindSubnet: Named(func() client.Object { return &kubeovnv1.Subnet{} }, false)}})
	pods, subnets := r.feeds[0].ch, r.feeds[1].ch
	r.onDelete("Logical_Switch_Port", &nbdb.LogicalSwitchPort{Name: "x", ExternalIDs: map[string]string{"pod": "a/b"}})
	r.onDelete("Logical_Switch_Port", &nbdb.LogicalSwitchPort{Name: "p", ExternalIDs: ops.OwnerIDs(ops.Owner{Kind: ops.OwnerKindPod, Key: "ns1/p1"}, nil)})
	r.onDelete("Logical_Switch", &nbdb.LogicalSwitch{Name: "s", ExternalIDs: ops.OwnerIDs(ops.Owner{Kind: ops.OwnerKindSubnet, Key: "s1"}, nil)})
	if len(r.owner) != 2 {
		t.Fatalf("%d owners queued, want 2 (the foreign row is not kvnet's)", len(r.owner))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r.enqueueOwner(ctx, <-r.owner)
	r.enqueueOwner(ctx, <-r.owner)
	got := func(ch chan event.GenericEvent, what string) client.Object {
		t.Helper()
		select {
		case e := <-ch:
			return e.Object
		default:
			t.Fatalf("no %s event", what)
		}
		return nil
	}
	if o := got(pods, "pod"); o.GetNamespace() != "ns1" || o.GetName() != "p1" {
		t.Errorf("pod event for %s/%s, want ns1/p1", o.GetNamespace(), o.GetName())
	}
	if o := got(subnets, "subnet"); o.GetName() != "s1" {
		t.Errorf("subnet event for %s, want s1", o.GetName())
	}
	if len(pods)+len(subnets) != 0 {
		t.Errorf("%d pod and %d subnet events left: an owner went to a feed that does not know its kind", len(pods), len(subnets))
	}
}
