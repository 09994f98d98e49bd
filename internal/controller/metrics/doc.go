// Package metrics defines the kvnet controller's Prometheus metrics and
// registers them with controller-runtime's registry, which the manager
// serves on its metrics endpoint (next to controller-runtime's own reconcile
// latency and error metrics).
package metrics
