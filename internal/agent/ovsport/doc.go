// Package ovsport is the node agent's access to the local Open_vSwitch
// database: it ensures the integration bridge and the OVN settings of the
// Open_vSwitch row, plugs and unplugs ports, and waits for ovn-controller to
// mark an interface ovn-installed. All access goes through libovsdb and the
// generated models in internal/ovn/vswitch; no ovs-vsctl.
//
// Reads come from the client's monitored cache (only the columns the agent
// needs); writes are single transactions. A change notifier wakes waiters on
// every cache update, so waiting for ovn-installed costs no polling.
package ovsport
