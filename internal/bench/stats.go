package bench

import (
	"math"
	"sort"
)

// Summary of a sample in milliseconds.
type Summary struct {
	N    int     `json:"n"`
	Min  float64 `json:"min"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Summarize computes the summary of xs (nearest-rank percentiles).
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		if i < 0 {
			i = 0
		}
		return s[i]
	}
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	return Summary{N: len(s), Min: s[0], P50: rank(0.5), P90: rank(0.9), P99: rank(0.99), Max: s[len(s)-1], Mean: sum / float64(len(s))}
}

// Spread summarises one figure over repeated runs: the median and the
// range. Runs are few (typically 3), so the range is shown rather than a
// standard deviation or a confidence interval.
type Spread struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// SpreadOf computes the spread of xs; the median of an even count is the
// mean of the two middle values.
func SpreadOf(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Spread{N: len(s), Median: med, Min: s[0], Max: s[len(s)-1]}
}

// RelSpread is (max-min)/median, the spread relative to the median (0 when
// the median is 0).
func (s Spread) RelSpread() float64 {
	if s.Median == 0 {
		return 0
	}
	return (s.Max - s.Min) / math.Abs(s.Median)
}
