package nbresync

import (
	"context"
	"testing"
	"time"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

type fakeManager struct {
	manager.Manager
	added []manager.Runnable
}

func (f *fakeManager) Add(r manager.Runnable) error {
	f.added = append(f.added, r)
	return nil
}

func newController(t *testing.T, name string) controller.Controller {
	t.Helper()
	c, err := controller.NewUnmanaged(name, controller.Options{SkipNameValidation: ptr.To(true),
		Reconciler: reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) { return reconcile.Result{}, nil }),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The hook finds controllers by name; a controller-runtime upgrade that
// hides the name must fail here, not silently turn resync off.
func TestManagerHooksKnownControllers(t *testing.T) {
	r := &Resyncer{}
	fm := &fakeManager{}
	m := r.Manager(fm)
	for _, n := range []string{"pod", "subnet", "ippool"} {
		if err := m.Add(newController(t, n)); err != nil {
			t.Fatal(err)
		}
	}
	if len(fm.added) != 3 {
		t.Fatalf("the wrapped manager got %d runnables, want 3", len(fm.added))
	}
	if r.chans["pod"] == nil || r.chans["subnet"] == nil {
		t.Fatalf("pod and subnet controllers not hooked: %v", r.chans)
	}
	if r.chans["ippool"] != nil {
		t.Fatal("ippool hooked: it has nothing in NB")
	}
}

// A deleted row's owner is enqueued on its controller's channel; rows kvnet
// does not own are ignored.
func TestDeletedRowEnqueuesOwner(t *testing.T) {
	r := &Resyncer{owner: make(chan ops.Owner, 4)}
	m := r.Manager(&fakeManager{})
	for _, n := range []string{"pod", "subnet"} {
		if err := m.Add(newController(t, n)); err != nil {
			t.Fatal(err)
		}
	}
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
	select {
	case e := <-r.chans["pod"]:
		if e.Object.GetNamespace() != "ns1" || e.Object.GetName() != "p1" {
			t.Errorf("pod event for %s/%s, want ns1/p1", e.Object.GetNamespace(), e.Object.GetName())
		}
	default:
		t.Error("no pod event")
	}
	select {
	case e := <-r.chans["subnet"]:
		if e.Object.GetName() != "s1" {
			t.Errorf("subnet event for %s, want s1", e.Object.GetName())
		}
	default:
		t.Error("no subnet event")
	}
}
