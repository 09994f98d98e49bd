// Package bench measures kvnet on the sandbox: pod network-ready latency,
// controller throughput without the data plane, live-migration loss, restart
// recovery and scale. Each benchmark returns a JSON-serialisable result;
// Report turns a set of results into docs/benchmarks.md with plots.
// Figures are goals shown by measurement, never asserted by tests.
package bench
