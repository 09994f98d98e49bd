// Package bench measures kvnet on the sandbox and renders the figures.
//
// Benchmarks (each returns a JSON-serialisable result, stored as a Record
// with the command that reproduces it): pod network-ready latency (PodReady)
// beside its floor, the same pods plugged into OVN by hand (Floor);
// controller throughput without the data plane (Throughput); controller
// memory and NB transactions per pod as pods grow (Scale); restart recovery
// to "ready with nothing left to write" (Restart); and the IPAM Go
// benchmarks, parsed from `go test -bench` output (ParseGoBench).
//
// Everything is observed from outside the processes measured: pods through
// watches, NB writes from NB's database log (NBLog), the controller through
// its Prometheus endpoint, /readyz and /proc.
//
// Report turns a directory of records into docs/benchmarks.md with SVG
// plots, so the page can be rendered again without running anything.
// Figures are goals shown by measurement, never asserted by tests.
package bench
