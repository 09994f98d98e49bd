package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kvnet/kvnet/internal/sandbox"
)

// controllerProc is the sandbox's kvnet-controller seen from outside: its
// process, its metrics and health endpoints, and OVN NB's database file.
type controllerProc struct {
	cfg sandbox.Config
}

func (c controllerProc) metricsURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d/metrics", c.cfg.ControllerMetrics())
}

func (c controllerProc) readyzURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d/readyz", c.cfg.ControllerHealth())
}

// nbDB is OVN NB's database file (a standalone ovsdb-server's log).
func (c controllerProc) nbDB() string { return c.cfg.Path("ovn", "nb.db") }

// pid reads the controller's PID from the sandbox's pid record.
func (c controllerProc) pid() (int, error) {
	b, err := os.ReadFile(c.cfg.Path("pids", "kvnet-controller.pid"))
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(first))
}

// Memory is a process's resident memory from /proc/<pid>/status.
type Memory struct {
	RSSBytes  int64 `json:"rssBytes"`  // VmRSS
	PeakBytes int64 `json:"peakBytes"` // VmHWM: the peak RSS since the process started
}

// memory reads the controller's VmRSS and VmHWM.
func (c controllerProc) memory() (Memory, error) {
	pid, err := c.pid()
	if err != nil {
		return Memory{}, err
	}
	return ProcMemory(pid)
}

// ProcMemory reads VmRSS and VmHWM of pid.
func ProcMemory(pid int) (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	return parseProcStatus(string(b))
}

func parseProcStatus(s string) (Memory, error) {
	var m Memory
	found := 0
	for _, l := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return m, fmt.Errorf("unexpected %s line %q", k, l)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return m, err
		}
		if k == "VmRSS" {
			m.RSSBytes = kb * 1024
		} else {
			m.PeakBytes = kb * 1024
		}
		found++
	}
	if found != 2 {
		return m, fmt.Errorf("VmRSS/VmHWM not found")
	}
	return m, nil
}

// nbTxnMetric is the controller's own count of its NB transactions (all
// results), from the kvnet_nb_transaction_seconds histogram; -1 when the
// metric is not served.
func (c controllerProc) nbTxnMetric(ctx context.Context) float64 {
	m, err := Scrape(ctx, c.metricsURL())
	if err != nil || !m.Has("kvnet_nb_transaction_seconds") {
		return -1
	}
	return m.Sum("kvnet_nb_transaction_seconds", nil)
}

// restart stops the controller (SIGTERM, so it hands its leader lease
// back) and starts it again; it returns the moment the new process was
// started.
func (c controllerProc) restart() (time.Time, error) {
	if err := c.cfg.Stop("kvnet-controller", 30*time.Second); err != nil {
		return time.Time{}, fmt.Errorf("stop kvnet-controller: %w", err)
	}
	t0 := time.Now()
	if err := sandbox.StartController(c.cfg); err != nil {
		return t0, fmt.Errorf("start kvnet-controller: %w", err)
	}
	return t0, nil
}

// ovnNBCount counts rows of table in NB with ovn-nbctl.
func ovnNBCount(ctx context.Context, nbSocket, table string) (int, error) {
	out, err := runOut(ctx, "ovn-nbctl", "--db=unix:"+nbSocket, "--timeout=60", "--bare", "--columns=_uuid", "list", table)
	if err != nil {
		return 0, err
	}
	return len(strings.Fields(out)), nil
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times (100 on Linux).
const clockTicks = 100

// procCPUSeconds is the user+system CPU time pid has used.
func procCPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseProcStatCPU(string(b))
}

// parseProcStatCPU reads utime+stime (fields 14 and 15) from a
// /proc/<pid>/stat line; the command name may hold spaces, so fields are
// counted after its closing parenthesis.
func parseProcStatCPU(s string) (float64, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat line")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short stat line")
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad CPU times in stat line")
	}
	return (ut + st) / clockTicks, nil
}

// cpuMeter measures the CPU the sandbox's central processes use over an interval.
type cpuMeter struct {
	cfg   sandbox.Config
	start map[string]float64
}

// cpuWatched are the processes whose CPU a benchmark reports (sandbox names).
var cpuWatched = []string{"kvnet-controller", "kube-apiserver", "etcd", "ovn/nb-ovsdb", "ovn/northd"}

func startCPU(cfg sandbox.Config) *cpuMeter {
	m := &cpuMeter{cfg: cfg, start: map[string]float64{}}
	running := cfg.Running()
	for _, name := range cpuWatched {
		if pid, ok := running[name]; ok {
			if s, err := procCPUSeconds(pid); err == nil {
				m.start[name] = s
			}
		}
	}
	return m
}

// used returns the CPU seconds each process used since startCPU (processes
// restarted meanwhile are left out).
func (m *cpuMeter) used() map[string]float64 {
	out := map[string]float64{}
	running := m.cfg.Running()
	for name, s0 := range m.start {
		if pid, ok := running[name]; ok {
			if s, err := procCPUSeconds(pid); err == nil && s >= s0 {
				out[name] = s - s0
			}
		}
	}
	return out
}
