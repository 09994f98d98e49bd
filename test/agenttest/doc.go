// Package agenttest is the harness of the agent's privileged integration
// tests: it re-runs a test binary inside a network namespace of its own and
// starts real OVS and OVN daemons (ovsdb-server, ovs-vswitchd on the
// userspace datapath, OVN NB/SB, ovn-northd, ovn-controller) with private
// run, db and log directories. Everything it creates is named kvt-* and is
// removed by PID and by name when the test ends, also after a crash of the
// test binary. Only test code imports it.
package agenttest
