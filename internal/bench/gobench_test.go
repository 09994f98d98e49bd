package bench

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestParseGoBench(t *testing.T) {
	f, err := os.Open("testdata/ipam-bench.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, err := ParseGoBench(f, "ipam-bench.txt")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range out.Benchmarks {
		names = append(names, b.Name)
	}
	want := []string{"AllocateReleaseV4//16/held=0", "AllocateReleaseV4//8/held=10000", "AllocateReleaseDual/held=0", "EmptySubnetMemory/10.0.0.0/8"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("names (GOMAXPROCS suffix dropped, repeated runs grouped) = %q, want %q", names, want)
	}
	v4 := out.Benchmarks[0]
	if got := v4.Values["ns/op"]; !reflect.DeepEqual(got, []float64{410.4, 430}) {
		t.Errorf("ns/op in the printed unit = %v", got)
	}
	if got := v4.Values["allocs/op"]; !reflect.DeepEqual(got, []float64{3, 3}) {
		t.Errorf("allocs/op = %v", got)
	}
	if s := v4.Spread("ns/op"); s.N != 2 || s.Median != 420.2 || s.Min != 410.4 || s.Max != 430 {
		t.Errorf("spread = %+v", s)
	}
	if got := out.Benchmarks[3].Values["B/subnet"]; !reflect.DeepEqual(got, []float64{615.1, 615.1}) {
		t.Errorf("custom unit B/subnet = %v", got)
	}
	if out.Config["cpu"] != "Intel(R) Xeon(R) Processor" || !strings.HasPrefix(out.Config["command"], "go test ") {
		t.Errorf("config = %v", out.Config)
	}
	if got, want := out.Units(), []string{"ns/op", "B/op", "allocs/op", "B/subnet"}; !reflect.DeepEqual(got, want) {
		t.Errorf("units = %v, want %v", got, want)
	}
}

func TestParseGoBenchRejectsEmptyAndMalformed(t *testing.T) {
	if _, err := ParseGoBench(strings.NewReader("PASS\nok x 1s\n"), "empty"); err == nil {
		t.Error("output without results must be an error")
	}
	if _, err := ParseGoBench(strings.NewReader("BenchmarkX-2 notanumber 3 ns/op\n"), "bad"); err == nil {
		t.Error("a malformed result line must be an error")
	}
}
