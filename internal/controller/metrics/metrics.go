package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// Allocations counts IPAM allocation attempts per subnet and result
	// ("ok" or the failure reason).
	Allocations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kvnet_ip_allocations_total",
		Help: "IP allocation attempts by subnet and result.",
	}, []string{"subnet", "result"})
	// Releases counts addresses released per subnet.
	Releases = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kvnet_ip_releases_total",
		Help: "IP releases by subnet.",
	}, []string{"subnet"})
	// NBTransactions times OVN NB transactions per controller and result.
	NBTransactions = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "kvnet_nb_transaction_seconds",
		Help:    "Duration of OVN NB transactions by controller and result.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	}, []string{"controller", "result"})
	// RepairDeletions counts rows and records the repair pass removed.
	RepairDeletions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kvnet_repair_deletions_total",
		Help: "Orphans removed by the repair pass, by kind (ip, nb-row).",
	}, []string{"kind"})
	// RepairPasses counts repair passes that completed without error
	// (incremented at the end of the pass). Tests wait on it as evidence
	// that a pass ran after a change.
	RepairPasses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kvnet_repair_passes_total",
		Help: "Repair (garbage collection) passes completed without error.",
	})
)

func init() {
	crmetrics.Registry.MustRegister(Allocations, Releases, NBTransactions, RepairDeletions, RepairPasses)
}

// ObserveNB records one NB transaction that started at start.
func ObserveNB(controller string, start time.Time, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	NBTransactions.WithLabelValues(controller, result).Observe(time.Since(start).Seconds())
}
