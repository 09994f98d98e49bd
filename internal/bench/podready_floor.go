package bench

// PodReadyRun is one run of the pod network-ready benchmark: kvnet's
// latency and, measured right after it in the same run, the floor's.
type PodReadyRun struct {
	Kvnet PodReadyResult `json:"kvnet"`
	Floor *FloorResult   `json:"floor,omitempty"`
	// Ratios kvnet/floor of p50, p99 and of the time until the last pod was
	// ready (0 without a floor).
	RatioP50   float64 `json:"ratioP50,omitempty"`
	RatioP99   float64 `json:"ratioP99,omitempty"`
	RatioTotal float64 `json:"ratioTotal,omitempty"`
}

// NewPodReadyRun pairs kvnet's result with the floor's.
func NewPodReadyRun(k PodReadyResult, f *FloorResult) PodReadyRun {
	r := PodReadyRun{Kvnet: k, Floor: f}
	if f != nil {
		r.RatioP50 = ratio(k.LatencyMs.P50, f.LatencyMs.P50)
		r.RatioP99 = ratio(k.LatencyMs.P99, f.LatencyMs.P99)
		r.RatioTotal = ratio(k.TotalMs, f.TotalMs)
	}
	return r
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
