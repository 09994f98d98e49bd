package ops

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// TransactTimeout bounds a transaction whose context has no deadline.
var TransactTimeout = 30 * time.Second

// ErrNotFound is returned when a row an operation depends on is not in the cache.
var ErrNotFound = errors.New("not found in ovn nb")

// Transact commits ops in one transaction and checks each operation's
// result. An empty batch is not sent, so a reconcile that changes nothing
// writes nothing.
func Transact(ctx context.Context, c client.Client, ops []ovsdb.Operation) error {
	if len(ops) == 0 {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		// A reconnecting client blocks transactions; give the caller its worker back.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, TransactTimeout)
		defer cancel()
	}
	res, err := c.Transact(ctx, ops...)
	if err != nil {
		return fmt.Errorf("ovsdb transaction of %d ops: %w", len(ops), err)
	}
	if opErrs, err := ovsdb.CheckOperationResults(res, ops); err != nil {
		return fmt.Errorf("ovsdb transaction of %d ops: %w (operation errors: %v)", len(ops), err, opErrs)
	}
	return nil
}

var namedSeq atomic.Uint64

// newNamedUUID returns a transaction-local row name for a row being inserted.
func newNamedUUID() string { return fmt.Sprintf("kvnet_%d", namedSeq.Add(1)) }

// mapHas reports whether have holds every key of want with the same value.
func mapHas(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// mergeMap returns have overlaid with want; keys kvnet does not manage survive.
func mergeMap(have, want map[string]string) map[string]string {
	out := maps.Clone(have)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, want)
	return out
}

// sameSet compares string lists as sets (OVSDB sets are unordered).
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}
