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
