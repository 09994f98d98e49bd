package bench

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// GoBench is one Go benchmark (one name) over every run (-count) in a
// `go test -bench` output, values in the units the benchmark printed.
type GoBench struct {
	// Name without the "Benchmark" prefix and the -GOMAXPROCS suffix,
	// e.g. "AllocateReleaseV4//16/held=0".
	Name string `json:"name"`
	// Package is the "pkg:" the benchmark ran in.
	Package string `json:"package,omitempty"`
	// Values holds one sample per run for each unit (ns/op, B/op,
	// allocs/op and custom units such as B/subnet).
	Values map[string][]float64 `json:"values"`
}

// Spread summarises the samples of unit.
func (g GoBench) Spread(unit string) Spread { return SpreadOf(g.Values[unit]) }

// GoBenchOutput is a parsed `go test -bench` output.
type GoBenchOutput struct {
	// Config is the file-level configuration the output printed
	// (goos, goarch, pkg, cpu, and our own "command" line).
	Config     map[string]string `json:"config"`
	Benchmarks []GoBench         `json:"benchmarks"`
}

// ParseGoBench reads `go test -bench` output with golang.org/x/perf's
// benchfmt (the reference parser of the format) and groups the results by
// benchmark name, keeping the order of first appearance.
func ParseGoBench(r io.Reader, fileName string) (GoBenchOutput, error) {
	out := GoBenchOutput{Config: map[string]string{}}
	index := map[string]int{}
	rd := benchfmt.NewReader(r, fileName)
	for rd.Scan() {
		switch rec := rd.Result().(type) {
		case *benchfmt.SyntaxError:
			return out, rec
		case *benchfmt.Result:
			for _, c := range rec.Config {
				if c.File {
					out.Config[c.Key] = string(c.Value)
				}
			}
			name := benchName(rec.Name)
			i, ok := index[name]
			if !ok {
				i = len(out.Benchmarks)
				index[name] = i
				out.Benchmarks = append(out.Benchmarks, GoBench{Name: name, Package: rec.GetConfig("pkg"), Values: map[string][]float64{}})
			}
			for _, v := range rec.Values {
				// OrigUnit/OrigValue, when set, are what the benchmark printed
				// and Unit/Value benchfmt's tidied form (ns/op becomes sec/op).
				unit, val := v.Unit, v.Value
				if v.OrigUnit != "" {
					unit, val = v.OrigUnit, v.OrigValue
				}
				out.Benchmarks[i].Values[unit] = append(out.Benchmarks[i].Values[unit], val)
			}
		}
	}
	if err := rd.Err(); err != nil {
		return out, err
	}
	if len(out.Benchmarks) == 0 {
		return out, fmt.Errorf("%s: no benchmark results", fileName)
	}
	return out, nil
}

// benchName drops the -GOMAXPROCS suffix from a benchmark's full name.
func benchName(n benchfmt.Name) string {
	base, parts := n.Parts()
	var b strings.Builder
	b.Write(base)
	for _, p := range parts {
		if len(p) > 0 && p[0] == '-' {
			continue // "-2": GOMAXPROCS
		}
		b.Write(p)
	}
	return b.String()
}

// Units lists the units present in the output, ns/op, B/op and allocs/op
// first, then custom units sorted.
func (o GoBenchOutput) Units() []string {
	seen := map[string]bool{}
	for _, b := range o.Benchmarks {
		for u := range b.Values {
			seen[u] = true
		}
	}
	var out []string
	for _, u := range []string{"ns/op", "B/op", "allocs/op"} {
		if seen[u] {
			out = append(out, u)
			delete(seen, u)
		}
	}
	var rest []string
	for u := range seen {
		rest = append(rest, u)
	}
	sort.Strings(rest)
	return append(out, rest...)
}
