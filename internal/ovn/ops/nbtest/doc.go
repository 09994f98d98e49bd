// Package nbtest runs libovsdb's in-memory OVSDB server loaded with the real
// OVN Northbound schema, for unit tests of code that talks to NB.
package nbtest
