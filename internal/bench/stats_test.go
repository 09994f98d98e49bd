package bench

import "testing"

func TestSummarizeNearestRank(t *testing.T) {
	var xs []float64
	for i := 100; i >= 1; i-- {
		xs = append(xs, float64(i))
	}
	s := Summarize(xs)
	if s.N != 100 || s.Min != 1 || s.P50 != 50 || s.P90 != 90 || s.P99 != 99 || s.Max != 100 || s.Mean != 50.5 {
		t.Fatalf("got %+v", s)
	}
	if one := Summarize([]float64{7}); one.P50 != 7 || one.P99 != 7 {
		t.Fatalf("single sample: %+v", one)
	}
	if (Summarize(nil) != Summary{}) {
		t.Fatal("empty sample must give a zero summary")
	}
}

func TestSpreadOf(t *testing.T) {
	if s := SpreadOf([]float64{3, 1, 2}); s != (Spread{N: 3, Median: 2, Min: 1, Max: 3}) {
		t.Errorf("odd count: %+v", s)
	}
	if s := SpreadOf([]float64{4, 1, 2, 3}); s != (Spread{N: 4, Median: 2.5, Min: 1, Max: 4}) {
		t.Errorf("even count: %+v", s)
	}
	if s := SpreadOf(nil); s != (Spread{}) {
		t.Errorf("empty: %+v", s)
	}
	if r := SpreadOf([]float64{8, 10, 12}).RelSpread(); r != 0.4 {
		t.Errorf("relative spread = %v, want 0.4", r)
	}
	if r := SpreadOf([]float64{0, 0}).RelSpread(); r != 0 {
		t.Errorf("relative spread of zeros = %v", r)
	}
}
