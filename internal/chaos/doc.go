// Package chaos churns pods and KubeVirt VMs in a running sandbox (create,
// delete, stop/start, migrate) for a bounded time while killing
// kvnet-controller and the node agents at random moments (SIGKILL by their
// recorded PID, then started again), waits for the cluster to settle and
// checks kvnet's invariants: no address with two owners (IP objects, NB
// switch ports, live pods), no IP object and no NB port without an owner
// (a VM that exists owns its kept address even when stopped), every live
// pod and VM reachable from a prober pod.
//
// Everything is bounded: the churn stops after Duration, the wait for
// convergence after Settle, and the run never touches anything outside its
// namespace except the processes it kills and restarts.
package chaos
