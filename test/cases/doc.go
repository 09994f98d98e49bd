// Package cases holds the check that docs/cases.md, the index of failure
// case IDs (B01, B19, ...), explains every ID the Go sources use and names
// tests that exist.
package cases
