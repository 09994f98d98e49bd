package bench

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/sandbox"
)

// RestartResult is one controller restart with a population in place.
//
// "Ready with nothing left to write" is observed from outside the
// controller, from the moment the new process is started (t0):
//   - caught up: /readyz answers 200, the controller holds the leader lease
//     (leader_election_master_status), it has reconciled at least as many
//     pods as exist and at least as many subnets as exist
//     (controller_runtime_reconcile_total), and no work is queued or running
//     (workqueue_depth and controller_runtime_active_workers all 0), polled
//     every 25 ms;
//   - a write is a committed NB transaction from an unsigned client (kvnet;
//     read from NB's database log) or a change, seen through watches, to a
//     Pod, Node (annotations/labels/spec), IP, Subnet, IPPool or Vpc, or an
//     Event reported by kvnet-controller;
//   - recovered at max(caught up, last write after t0), confirmed by Quiet
//     with no write after it.
//
// RecoveryMs is that time; NBWrites and APIWrites count what a restart
// with everything in place should not need (the goal is 0).
type RestartResult struct {
	Pods    int `json:"pods"`
	IPs     int `json:"ips"`
	Subnets int `json:"subnets"`
	// StopMs is how long the old controller took to exit after SIGTERM.
	StopMs float64 `json:"stopMs"`
	// From t0: first 200 from /readyz, leader lease held, caught up (-1: never).
	ReadyzMs   float64 `json:"readyzMs"`
	LeaderMs   float64 `json:"leaderMs"`
	CaughtUpMs float64 `json:"caughtUpMs"`
	// LastWriteMs is the last write after t0 (0: none).
	LastWriteMs float64 `json:"lastWriteMs"`
	RecoveryMs  float64 `json:"recoveryMs"`
	QuietMs     float64 `json:"quietMs"`
	NBWrites    int     `json:"nbWrites"`
	// NorthdWrites are ovn-northd's NB writes after t0 (not counted as the controller's).
	NorthdWrites    int            `json:"northdWrites"`
	APIWrites       int            `json:"apiWrites"`
	APIWritesByKind map[string]int `json:"apiWritesByKind,omitempty"`
	// FirstWrites lists up to 10 writes, for diagnosis.
	FirstWrites []string `json:"firstWrites,omitempty"`
	Compactions int      `json:"compactions"`
}

// RestartOptions size the restart benchmark.
type RestartOptions struct {
	// Pods (= IP objects) across Subnets; created if missing (shared with Scale).
	Pods, Subnets, FakeNodes int
	Quiet                    time.Duration
	Timeout                  time.Duration
}

// PrepareRestart makes sure the population of the restart benchmark exists
// (growing what Scale left) and returns it, so it can be removed after the runs.
func PrepareRestart(ctx context.Context, cs kubernetes.Interface, cl client.Client, o RestartOptions, progress func(string, ...any)) (Population, error) {
	nodes, err := FakeNodes(ctx, cs, o.FakeNodes)
	if err != nil {
		return Population{}, err
	}
	pop := Population{cs: cs, cl: cl, subnets: o.Subnets, nodes: nodes}
	if err := pop.ensureSubnets(ctx, progress); err != nil {
		return pop, err
	}
	have, err := pop.count(ctx)
	if err != nil {
		return pop, err
	}
	if have < o.Pods {
		progress("restart: creating %d pods across %d subnets", o.Pods-have, o.Subnets)
		if _, err := pop.grow(ctx, have, o.Pods, progress); err != nil {
			return pop, err
		}
	}
	return pop, nil
}

// Restart restarts the controller once and measures its recovery.
func Restart(ctx context.Context, cfg sandbox.Config, rc *rest.Config, cl client.Client, o RestartOptions, progress func(string, ...any)) (RestartResult, error) {
	ctl := controllerProc{cfg: cfg}
	var res RestartResult
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return res, err
	}
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return res, err
	}
	res.Pods = len(pods.Items)
	var ips kubeovnv1.IPList
	if err := cl.List(ctx, &ips); err != nil {
		return res, err
	}
	res.IPs = len(ips.Items)
	var subnets kubeovnv1.SubnetList
	if err := cl.List(ctx, &subnets); err != nil {
		return res, err
	}
	res.Subnets = len(subnets.Items)
	nb, err := OpenNBLog(ctl.nbDB())
	if err != nil {
		return res, err
	}
	// Start from a quiet system: nothing may be left over from creating the population.
	if _, err := settle(ctx, nb, o.Quiet, 2*time.Minute); err != nil {
		return res, err
	}
	api, err := watchAPIWrites(ctx, rc)
	if err != nil {
		return res, err
	}
	defer api.Stop()
	api.Arm()
	stopStart := time.Now()
	t0, err := ctl.restart()
	if err != nil {
		return res, err
	}
	res.StopMs = ms(t0.Sub(stopStart))
	res.ReadyzMs, res.LeaderMs, res.CaughtUpMs = -1, -1, -1
	res.QuietMs = ms(o.Quiet)
	rv := &recovery{ctl: ctl, nb: nb, api: api, t0: t0, quiet: o.Quiet, res: &res, progress: progress}
	deadline := t0.Add(o.Timeout)
	for {
		if time.Now().After(deadline) {
			return res, fmt.Errorf("controller not recovered after %s (readyz %.0f ms, leader %.0f ms, caught up %.0f ms)",
				o.Timeout, res.ReadyzMs, res.LeaderMs, res.CaughtUpMs)
		}
		done, err := rv.poll(ctx)
		if err != nil {
			return res, err
		}
		if done {
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
	rv.summarize()
	res.Compactions = nb.Compactions
	return res, nil
}

// recovery follows one restart from outside the controller.
type recovery struct {
	ctl      controllerProc
	nb       *NBLog
	api      *apiWatch
	t0       time.Time
	quiet    time.Duration
	res      *RestartResult
	progress func(string, ...any)

	nbTxns              []NBTxn
	caughtUp, lastWrite time.Time
}

// poll takes one look: new writes, then readiness until caught up, then
// whether the quiet period after the last write has passed.
func (rv *recovery) poll(ctx context.Context) (bool, error) {
	res := rv.res
	txns, err := rv.nb.Read()
	if err != nil {
		return false, err
	}
	for _, t := range txns {
		if t.At.Before(rv.t0.Add(-time.Millisecond)) { // "_date" has millisecond resolution
			continue // the old controller, on its way out
		}
		rv.nbTxns = append(rv.nbTxns, t)
		if t.Comment == "" && t.At.After(rv.lastWrite) {
			rv.lastWrite = t.At
		}
	}
	for _, w := range rv.api.Since(rv.t0) {
		if w.At.After(rv.lastWrite) {
			rv.lastWrite = w.At
		}
	}
	if rv.caughtUp.IsZero() {
		if res.ReadyzMs < 0 && HTTPStatus(ctx, rv.ctl.readyzURL()) == 200 {
			res.ReadyzMs = ms(time.Since(rv.t0))
		}
		m, err := Scrape(ctx, rv.ctl.metricsURL())
		if err != nil {
			return false, nil // not serving yet
		}
		if res.LeaderMs < 0 && m.Sum("leader_election_master_status", nil) >= 1 {
			res.LeaderMs = ms(time.Since(rv.t0))
		}
		if res.ReadyzMs >= 0 && res.LeaderMs >= 0 && caughtUpNow(m, res.Pods, res.Subnets) {
			rv.caughtUp = time.Now()
			res.CaughtUpMs = ms(rv.caughtUp.Sub(rv.t0))
			rv.progress("  caught up after %.0f ms", res.CaughtUpMs)
		}
		return false, nil
	}
	end := rv.caughtUp
	if rv.lastWrite.After(end) {
		end = rv.lastWrite
	}
	if time.Since(end) < rv.quiet {
		return false, nil
	}
	res.RecoveryMs = ms(end.Sub(rv.t0))
	if !rv.lastWrite.IsZero() {
		res.LastWriteMs = ms(rv.lastWrite.Sub(rv.t0))
	}
	return true, nil
}

// summarize counts the writes after t0 and keeps the first few.
func (rv *recovery) summarize() {
	res := rv.res
	res.APIWritesByKind = map[string]int{}
	var first []string
	for _, t := range rv.nbTxns {
		switch t.Comment {
		case "":
			res.NBWrites++
			if len(first) < 10 {
				first = append(first, fmt.Sprintf("%+.0f ms NB transaction", ms(t.At.Sub(rv.t0))))
			}
		case "ovn-northd":
			res.NorthdWrites++
		}
	}
	for _, w := range rv.api.Since(rv.t0) {
		res.APIWrites++
		res.APIWritesByKind[w.Kind]++
		if len(first) < 10 {
			first = append(first, fmt.Sprintf("%+.0f ms %s", ms(w.At.Sub(rv.t0)), w))
		}
	}
	res.FirstWrites = first
}

// caughtUpNow is the "checked everything, nothing queued or running" half
// of recovery, from the controller's standard controller-runtime metrics.
func caughtUpNow(m Metrics, pods, subnets int) bool {
	for _, name := range []string{"controller_runtime_reconcile_total", "workqueue_depth", "controller_runtime_active_workers"} {
		if !m.Has(name) {
			return false
		}
	}
	return m.Sum("controller_runtime_reconcile_total", map[string]string{"controller": "pod"}) >= float64(pods) &&
		m.Sum("controller_runtime_reconcile_total", map[string]string{"controller": "subnet"}) >= float64(subnets) &&
		m.Sum("workqueue_depth", nil) == 0 &&
		m.Sum("controller_runtime_active_workers", nil) == 0
}
