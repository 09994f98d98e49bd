package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/kvnet/kvnet/internal/controller/migration"
)

// migrationFlags are benchmark-only knobs of the live-migration hand-over
// (make bench-migration compares them); production runs the defaults.
type migrationFlags struct {
	mode       string
	eventDelay time.Duration
}

func (m *migrationFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&m.mode, "migration-mode", string(migration.MultiChassis),
		"benchmark only: how a VM's port moves in a live migration: multichassis (bound on both nodes, activated by the guest's RARP) or naive (one chassis, moved when the migration succeeds)")
	fs.DurationVar(&m.eventDelay, "migration-event-delay", 0,
		"benchmark only: hold back every migration-driven port option change this long, to show the loss does not depend on control-plane latency")
}

func (m *migrationFlags) parse() (migration.Mode, error) {
	mode, ok := migration.ParseMode(m.mode)
	if !ok {
		return "", fmt.Errorf("--migration-mode=%q: want %s or %s", m.mode, migration.MultiChassis, migration.Naive)
	}
	if m.eventDelay < 0 {
		return "", fmt.Errorf("--migration-event-delay=%s: must not be negative", m.eventDelay)
	}
	return mode, nil
}
