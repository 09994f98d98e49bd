package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Kinds of records in a raw results directory.
const (
	KindMachine    = "machine"
	KindIPAM       = "ipam"
	KindPodReady   = "podready"
	KindThroughput = "throughput"
	KindScale      = "scale"
	KindRestart    = "restart"
	// KindMigration and KindVPCs have a slot in the report; their benchmarks
	// come with issues 5 and 6.
	KindMigration = "migration"
	KindVPCs      = "vpcs"
)

// Record is one benchmark run as stored in the raw results directory (one
// JSON file per record), so the report can be rendered again without
// running anything.
type Record struct {
	Kind string `json:"kind"`
	// Run numbers repeated runs of the same benchmark and size (1-based).
	Run int `json:"run,omitempty"`
	// Command reproduces this record (run from the repository root).
	Command string    `json:"command"`
	Started time.Time `json:"started"`
	// Seconds is the wall time of the whole run, set-up and clean-up included.
	Seconds float64 `json:"seconds"`
	// LoadAvg is /proc/loadavg's 1-minute figure when the run started: the
	// machine is shared, so this tells a quiet run from a busy one.
	LoadAvg float64 `json:"loadAvg"`
	// Commit is the kvnet tree measured ("+dirty" with local changes).
	Commit string          `json:"commit,omitempty"`
	Result json.RawMessage `json:"result"`
}

// NewRecord wraps result.
func NewRecord(kind string, run int, command string, started time.Time, load float64, result any) (Record, error) {
	b, err := json.Marshal(result)
	if err != nil {
		return Record{}, err
	}
	return Record{Kind: kind, Run: run, Command: command, Started: started.UTC(),
		Seconds: time.Since(started).Seconds(), LoadAvg: load, Result: b}, nil
}

// Decode unmarshals the record's result into v.
func (r Record) Decode(v any) error {
	if err := json.Unmarshal(r.Result, v); err != nil {
		return fmt.Errorf("%s record: %w", r.Kind, err)
	}
	return nil
}

// WriteRecord writes r as indented JSON to path.
func WriteRecord(path string, r Record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// LoadRecords reads every *.json record in dir, ordered by kind, start time
// and run.
func LoadRecords(dir string) ([]Record, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var r Record
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if r.Kind == "" {
			return nil, fmt.Errorf("%s: not a benchmark record (no kind)", p)
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.Before(out[j].Started)
		}
		return out[i].Run < out[j].Run
	})
	return out, nil
}

// LoadAvg1 returns the 1-minute load average (0 when unknown).
func LoadAvg1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var v float64
	_, _ = fmt.Sscanf(strings.TrimSpace(string(b)), "%f", &v)
	return v
}
