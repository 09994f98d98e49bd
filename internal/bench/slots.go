package bench

import "github.com/kvnet/kvnet/internal/probe"

// Record shapes of the migration and VPC benchmarks, which the report
// renders beside the pod figures.

// MigrationResult is one mode of the live-migration benchmark (issue 5):
// a VM migrated repeatedly while prober pods on the other nodes send probes.
type MigrationResult struct {
	// Mode is "kvnet", "slow-controller" (1 s delay on migration events) or
	// "naive" (single chassis, moved when the migration completes).
	Mode       string            `json:"mode"`
	IntervalMs float64           `json:"intervalMs"`
	Migrations []MigrationSample `json:"migrations"`
}

// MigrationSample is one migration as the probers saw it (summed over probers).
type MigrationSample struct {
	Index int `json:"index"`
	// Note says what is special about it ("first after start", "back-to-back").
	Note       string  `json:"note,omitempty"`
	Sent       int     `json:"sent"`
	Lost       int     `json:"lost"`
	Duplicates int     `json:"duplicates"`
	MaxGapMs   float64 `json:"maxGapMs"`
	// Probers holds each prober's own run (with when its lost probes were
	// sent), to lay beside the daemons' logs.
	Probers []probe.Result `json:"probers,omitempty"`
}

// VPCsResult is the "100 VPCs × 10 subnets" benchmark (issue 6).
type VPCsResult struct {
	VPCs           int     `json:"vpcs"`
	SubnetsPerVPC  int     `json:"subnetsPerVpc"`
	ProgramSeconds float64 `json:"programSeconds"`
	NBRows         int     `json:"nbRows"`
	NBFileBytes    int64   `json:"nbFileBytes"`
}
