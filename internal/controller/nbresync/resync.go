package nbresync

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/cache"
	libovsdb "github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/ovn/ops"
)

// Feed is what one controller asks of NB resync.
type Feed struct {
	// List returns an empty list of the objects a full resync enqueues
	// (the kind the controller reconciles).
	List func() client.ObjectList
	// Owners maps the owner kind of a deleted kvnet row (ops.OwnerKind*)
	// to the objects whose reconcile writes it again; kinds not listed
	// enqueue nothing.
	Owners map[string]func(ctx context.Context, key string) []client.Object
}

type feed struct {
	Feed
	name string
	ch   chan event.GenericEvent
}

// Resyncer is a leader-only runnable. Each controller that writes NB rows
// adds Source(...) to its watches in its own SetupWithManager; add the
// Resyncer to the manager.
type Resyncer struct {
	NB     libovsdb.Client
	Client client.Reader // the manager's cache
	Log    logr.Logger
	// Interval is the period of the level check (default 1s).
	Interval time.Duration
	// MinGap is the least time between two full resyncs (default 2s).
	MinGap time.Duration

	mu    sync.Mutex
	feeds []*feed
	owner chan ops.Owner // owners of deleted rows, from the cache handler

	fullResyncs int
}

// Source returns the event source of the controller named name (for logs)
// that f describes: GenericEvents for the objects to reconcile again when
// NB lost rows. Pass it to the controller's builder (WatchesRawSource).
// A nil Resyncer returns nil.
func (r *Resyncer) Source(name string, f Feed) source.Source {
	ch := make(chan event.GenericEvent, 1024)
	r.mu.Lock()
	r.feeds = append(r.feeds, &feed{Feed: f, name: name, ch: ch})
	r.mu.Unlock()
	return source.Channel(ch, &handler.EnqueueRequestForObject{})
}

// Named returns a Feed whose owner kind maps to the object of that name:
// the usual case, a row owned by the object the controller reconciles.
// newObj returns an empty object of the controller's kind; namespaced
// owner keys are "<namespace>/<name>".
func Named(newObj func() client.Object, namespaced bool) func(ctx context.Context, key string) []client.Object {
	return func(_ context.Context, key string) []client.Object {
		o := newObj()
		if namespaced {
			ns, name, ok := strings.Cut(key, "/")
			if !ok {
				return nil
			}
			o.SetNamespace(ns)
			o.SetName(name)
		} else {
			o.SetName(key)
		}
		return []client.Object{o}
	}
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

// externalIDs are a row's external_ids (every table kvnet writes has them).
func externalIDs(m model.Model) map[string]string {
	if r, ok := m.(interface{ GetExternalIDs() map[string]string }); ok {
		return r.GetExternalIDs()
	}
	return nil
}

// enqueueOwner has the owner of a deleted row reconciled by every
// controller whose feed knows its kind.
func (r *Resyncer) enqueueOwner(ctx context.Context, o ops.Owner) {
	for _, f := range r.feedList() {
		objs := f.Owners[o.Kind]
		if objs == nil {
			continue
		}
		for _, obj := range objs(ctx, o.Key) {
			send(ctx, f.ch, obj)
		}
	}
}

func (r *Resyncer) feedList() []*feed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.feeds)
}

func send(ctx context.Context, ch chan<- event.GenericEvent, obj client.Object) {
	select {
	case ch <- event.GenericEvent{Object: obj}:
	case <-ctx.Done():
	}
}

// fullResync enqueues every object of every feed.
func (r *Resyncer) fullResync(ctx context.Context) {
	start := time.Now()
	r.mu.Lock()
	r.fullResyncs++
	r.mu.Unlock()
	total := 0
	for _, f := range r.feedList() {
		l := f.List()
		if err := r.Client.List(ctx, l); err != nil {
			r.Log.Error(err, "resync: list", "controller", f.name)
			continue
		}
		_ = apimeta.EachListItem(l, func(o runtime.Object) error {
			if co, ok := o.(client.Object); ok {
				send(ctx, f.ch, co)
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

// Own is the Feed of a controller whose objects own rows of one owner
// kind (ops.OwnerKind*): cluster-scoped objects keyed by name.
func Own[T any, PT interface {
	*T
	client.Object
}, L any, PL interface {
	*L
	client.ObjectList
}](kind string) Feed {
	return Feed{
		List:   func() client.ObjectList { return PL(new(L)) },
		Owners: map[string]func(context.Context, string) []client.Object{kind: Named(func() client.Object { return PT(new(T)) }, false)},
	}
}
