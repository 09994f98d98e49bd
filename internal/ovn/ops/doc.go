// Package ops is kvnet's only door into the OVN databases: thin, verb-named
// functions that build ovsdb operations from the generated nbdb models
// (Ensure*, Delete*, Owned*), and Transact, which commits one batch in one
// transaction and checks every operation's result.
//
// Builders never talk to the server: they read the client's monitored cache
// and return operations, so a reconciler can gather everything it wants to
// change and commit it at once, or commit nothing when nothing differs.
//
// Every row kvnet writes carries owner external_ids (OwnerIDs): vendor=kvnet,
// kvnet.io/owner-kind and kvnet.io/owner. The repair pass deletes kvnet rows
// whose owner is gone and never touches rows without vendor=kvnet.
package ops
