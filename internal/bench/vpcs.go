package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kvnetv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/sandbox"
)

// VPCs creates vpcs Vpc objects with perVPC subnets each (every VPC uses the
// same CIDRs 10.0.<i>.0/24: tenants overlap) and measures from the first
// create until every subnet reports Ready, i.e. its switch and router port
// are in NB; then the NB size. The objects are deleted afterwards.
func VPCs(ctx context.Context, sb sandbox.Config, vpcs, perVPC int, progress func(string, ...any)) (VPCsResult, error) {
	res := VPCsResult{VPCs: vpcs, SubnetsPerVPC: perVPC}
	s := runtime.NewScheme()
	if err := kvnetv1.AddToScheme(s); err != nil {
		return res, err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", sb.Kubeconfig())
	if err != nil {
		return res, err
	}
	rc.QPS, rc.Burst = 200, 400
	c, err := client.New(rc, client.Options{Scheme: s})
	if err != nil {
		return res, err
	}
	var objs []client.Object
	var subnets []string
	for v := 0; v < vpcs; v++ {
		vpc := fmt.Sprintf("bench-vpc-%03d", v)
		objs = append(objs, &kvnetv1.Vpc{ObjectMeta: metav1.ObjectMeta{Name: vpc}})
		for i := 0; i < perVPC; i++ {
			name := fmt.Sprintf("%s-sn%02d", vpc, i)
			subnets = append(subnets, name)
			objs = append(objs, &kvnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: kvnetv1.SubnetSpec{Vpc: vpc, CIDRBlock: fmt.Sprintf("10.0.%d.0/24", i)}})
		}
	}
	defer func() {
		dctx := context.Background()
		for i := len(objs) - 1; i >= 0; i-- {
			_ = c.Delete(dctx, objs[i])
		}
	}()
	start := time.Now()
	// VPCs first (a subnet names its VPC), then subnets, 16 at a time.
	if err := createAll(ctx, c, objs, func(o client.Object) bool { _, ok := o.(*kvnetv1.Vpc); return ok }); err != nil {
		return res, err
	}
	if err := createAll(ctx, c, objs, func(o client.Object) bool { _, ok := o.(*kvnetv1.Subnet); return ok }); err != nil {
		return res, err
	}
	progress("  %d VPCs and %d subnets created in %.1f s", vpcs, len(subnets), time.Since(start).Seconds())
	last := 0
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 15*time.Minute, true, func(ctx context.Context) (bool, error) {
		var list kvnetv1.SubnetList
		if err := c.List(ctx, &list); err != nil {
			return false, nil
		}
		ready := 0
		for i := range list.Items {
			if strings.HasPrefix(list.Items[i].Name, "bench-vpc-") && apimeta.IsStatusConditionTrue(list.Items[i].Status.Conditions, kvnetv1.ConditionReady) {
				ready++
			}
		}
		if ready/100 != last/100 {
			progress("  %d/%d subnets Ready", ready, len(subnets))
		}
		last = ready
		return ready == len(subnets), nil
	})
	if err != nil {
		return res, fmt.Errorf("only %d of %d subnets Ready", last, len(subnets))
	}
	res.ProgramSeconds = time.Since(start).Seconds()
	for _, table := range []string{"Logical_Router", "Logical_Router_Port", "Logical_Switch", "Logical_Switch_Port", "ACL", "Logical_Router_Static_Route"} {
		if n, err := ovnNBCount(ctx, sb.NBSocket(), table); err == nil {
			res.NBRows += n
		}
	}
	if fi, err := os.Stat(filepath.Join(sb.StateDir, "ovn", "nb.db")); err == nil {
		res.NBFileBytes = fi.Size()
	}
	return res, nil
}

// createAll creates the objects that pick selects, 16 at a time, retrying
// transient failures (a busy apiserver or webhook).
func createAll(ctx context.Context, c client.Client, objs []client.Object, pick func(client.Object) bool) error {
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, o := range objs {
		if !pick(o) {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(o client.Object) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := withRetry(ctx, func() error { return c.Create(ctx, o) }); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("create %s: %w", o.GetName(), err)
				}
				mu.Unlock()
			}
		}(o)
	}
	wg.Wait()
	return first
}
