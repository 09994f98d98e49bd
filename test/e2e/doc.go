// Package e2e holds kvnet's end-to-end tests. They run against the sandbox
// (package internal/sandbox): a real kube-apiserver, scheduler and controller
// manager, real OVN/OVS nodes in network namespaces, the real CNI path, and
// real packets between pods. Build tag "e2e"; `make test` runs them with
// KVNET_E2E_MANAGE=1, which brings the sandbox up before the tests and takes
// it down after, failing if anything of it is left behind.
package e2e
