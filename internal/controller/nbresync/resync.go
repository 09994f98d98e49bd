package nbresync

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/cache"
	libovsdb "github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/source"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/ovn/nbdb"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

// Controller names (as registered with Named) this package feeds, with the
// list type whose items are their keys.
var lists = map[string]func() client.ObjectList{
	"pod":          func() client.ObjectList { return &corev1.PodList{} },
	"subnet":       func() client.ObjectList { return &kubeovnv1.SubnetList{} },
	"vpc":          func() client.ObjectList { return &kubeovnv1.VpcList{} },
	"node":         func() client.ObjectList { return &corev1.NodeList{} },
	"vm-placement": func() client.ObjectList { return &kubevirtv1.VirtualMachineInstanceList{} },
}

// Resyncer is a leader-only runnable. Create it, pass Manager(mgr) to the
// controllers' SetupWithManager, and add it to the manager.
type Resyncer struct {
	NB     libovsdb.Client
	Client client.Reader // the manager's cache
	Log    logr.Logger
	// Interval is the period of the level check (default 1s).
	Interval time.Duration
	// MinGap is the least time between two full resyncs (default 2s).
	MinGap time.Duration

	mu    sync.Mutex
	chans map[string]chan event.GenericEvent
	owner chan ops.Owner // owners of deleted rows, from the cache handler

	fullResyncs int
}

// Manager wraps mgr so that every controller added through it with one of
// the names this package knows gets a channel source for resync events.
func (r *Resyncer) Manager(mgr manager.Manager) manager.Manager {
	return hooked{Manager: mgr, r: r}
}

type hooked struct {
	manager.Manager
	r *Resyncer
}

func (h hooked) Add(run manager.Runnable) error {
	if c, ok := run.(controller.Controller); ok {
		if name := controllerName(c); lists[name] != nil {
			ch := make(chan event.GenericEvent, 1024)
			if err := c.Watch(source.Channel(ch, &handler.EnqueueRequestForObject{})); err != nil {
				return err
			}
			h.r.mu.Lock()
			if h.r.chans == nil {
				h.r.chans = map[string]chan event.GenericEvent{}
			}
			h.r.chans[name] = ch
			h.r.mu.Unlock()
		}
	}
	return h.Manager.Add(run)
}

// controllerName reads the Name of controller-runtime's controller (it has
// no accessor).
func controllerName(c controller.Controller) string {
	v := reflect.ValueOf(c)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return ""
	}
	f := v.FieldByName("Name")
	if !f.IsValid() || f.Kind() != reflect.String {
		return ""
	}
	return f.String()
}

// NeedLeaderElection: only the leader reconciles.
func (r *Resyncer) NeedLeaderElection() bool { return true }

// FullResyncs counts the full resyncs done (for tests and logs).
func (r *Resyncer) FullResyncs() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fullResyncs
}

// Start runs until ctx ends.
func (r *Resyncer) Start(ctx context.Context) error {
	interval, gap := r.Interval, r.MinGap
	if interval <= 0 {
		interval = time.Second
	}
	if gap <= 0 {
		gap = 2 * time.Second
	}
	r.owner = make(chan ops.Owner, 8192)
	r.mu.Lock()
	hooked := len(r.chans)
	r.mu.Unlock()
	if hooked == 0 {
		r.Log.Error(nil, "no controller hooked (controller-runtime changed?): NB is restored only on object events")
	}
	r.NB.Cache().AddEventHandler(&cache.EventHandlerFuncs{DeleteFunc: r.onDelete})
	connTick := time.NewTicker(100 * time.Millisecond)
	defer connTick.Stop()
	levelTick := time.NewTicker(interval)
	defer levelTick.Stop()
	wasDown, pending := false, false
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case o := <-r.owner:
			r.enqueueOwner(ctx, o)
		case <-connTick.C:
			if !r.NB.Connected() {
				wasDown = true
			} else if wasDown {
				// Reconnected: the server may hold another database now
				// (the cache was purged and refilled without events).
				wasDown, pending = false, true
				r.Log.Info("reconnected to OVN NB: resyncing")
			}
		case <-levelTick.C:
			if !pending && r.NB.Connected() {
				if missing := r.missing(ctx); missing != "" {
					r.Log.Info("kvnet rows missing from OVN NB: resyncing", "first", missing)
					pending = true
				}
			}
		}
		if pending && time.Since(last) >= gap {
			pending, last = false, time.Now()
			r.fullResync(ctx)
		}
	}
}

// onDelete runs in libovsdb's cache event loop: it only queues the owner.
func (r *Resyncer) onDelete(_ string, m model.Model) {
	o, ok := ops.OwnerOf(externalIDs(m))
	if !ok {
		return
	}
	select {
	case r.owner <- o:
	default: // a flood: the level check and a full resync cover it
	}
}

func externalIDs(m model.Model) map[string]string {
	switch row := m.(type) {
	case *nbdb.LogicalSwitch:
		return row.ExternalIDs
	case *nbdb.LogicalSwitchPort:
		return row.ExternalIDs
	case *nbdb.LogicalRouter:
		return row.ExternalIDs
	case *nbdb.LogicalRouterPort:
		return row.ExternalIDs
	case *nbdb.LogicalRouterStaticRoute:
		return row.ExternalIDs
	case *nbdb.LogicalRouterPolicy:
		return row.ExternalIDs
	case *nbdb.ACL:
		return row.ExternalIDs
	}
	return nil
}

// enqueueOwner has the owner of a deleted row reconciled. A VM's port is
// made from its launcher pods and placed by vm-placement.
func (r *Resyncer) enqueueOwner(ctx context.Context, o ops.Owner) {
	ns, name, namespaced := strings.Cut(o.Key, "/")
	switch o.Kind {
	case ops.OwnerKindPod:
		if namespaced {
			r.send(ctx, "pod", &corev1.Pod{ObjectMeta: objMeta(ns, name)})
		}
	case ops.OwnerKindVM:
		if !namespaced {
			return
		}
		var pods corev1.PodList
		if err := r.Client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"vm.kubevirt.io/name": name}); err == nil {
			for i := range pods.Items {
				r.send(ctx, "pod", &pods.Items[i])
			}
		}
		r.send(ctx, "vm-placement", &kubevirtv1.VirtualMachineInstance{ObjectMeta: objMeta(ns, name)})
	case ops.OwnerKindSubnet:
		r.send(ctx, "subnet", &kubeovnv1.Subnet{ObjectMeta: objMeta("", o.Key)})
	case ops.OwnerKindVpc:
		r.send(ctx, "vpc", &kubeovnv1.Vpc{ObjectMeta: objMeta("", o.Key)})
	case ops.OwnerKindNode:
		r.send(ctx, "node", &corev1.Node{ObjectMeta: objMeta("", o.Key)})
	}
}

func (r *Resyncer) send(ctx context.Context, name string, obj client.Object) {
	r.mu.Lock()
	ch := r.chans[name]
	r.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case ch <- event.GenericEvent{Object: obj}:
	case <-ctx.Done():
	}
}

// fullResync enqueues every object of every hooked controller.
func (r *Resyncer) fullResync(ctx context.Context) {
	start := time.Now()
	r.mu.Lock()
	r.fullResyncs++
	names := make([]string, 0, len(r.chans))
	for n := range r.chans {
		names = append(names, n)
	}
	r.mu.Unlock()
	total := 0
	for _, n := range names {
		l := lists[n]()
		if err := r.Client.List(ctx, l); err != nil {
			r.Log.Error(err, "resync: list", "controller", n)
			continue
		}
		_ = apimeta.EachListItem(l, func(o runtime.Object) error {
			if co, ok := o.(client.Object); ok {
				r.send(ctx, n, co)
				total++
			}
			return nil
		})
	}
	r.Log.Info("full resync enqueued", "objects", total, "took", time.Since(start).String())
}

// missing names the first Ready Subnet without its switch or Ready Vpc
// without its router in the NB cache, or "".
func (r *Resyncer) missing(ctx context.Context) string {
	have := map[ops.Owner]bool{}
	if sw, err := ops.OwnedLogicalSwitches(r.NB, ops.OwnerKindSubnet); err == nil {
		for _, s := range sw {
			o, _ := ops.OwnerOf(s.ExternalIDs)
			have[o] = true
		}
	}
	if lr, err := ops.OwnedLogicalRouters(r.NB, ops.OwnerKindVpc); err == nil {
		for _, s := range lr {
			o, _ := ops.OwnerOf(s.ExternalIDs)
			have[o] = true
		}
	}
	var subnets kubeovnv1.SubnetList
	if err := r.Client.List(ctx, &subnets); err == nil {
		for i := range subnets.Items {
			s := &subnets.Items[i]
			if s.DeletionTimestamp == nil && apimeta.IsStatusConditionTrue(s.Status.Conditions, kubeovnv1.ConditionReady) &&
				!have[ops.Owner{Kind: ops.OwnerKindSubnet, Key: s.Name}] {
				return "subnet " + s.Name
			}
		}
	}
	var vpcs kubeovnv1.VpcList
	if err := r.Client.List(ctx, &vpcs); err == nil {
		for i := range vpcs.Items {
			v := &vpcs.Items[i]
			if v.DeletionTimestamp == nil && apimeta.IsStatusConditionTrue(v.Status.Conditions, kubeovnv1.ConditionReady) &&
				!have[ops.Owner{Kind: ops.OwnerKindVpc, Key: v.Name}] {
				return "vpc " + v.Name
			}
		}
	}
	return ""
}

func objMeta(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }
