package bench

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where the benchmarks ran.
type Machine struct {
	CPUModel string `json:"cpuModel"`
	Cores    int    `json:"cores"`
	MemoryMB int    `json:"memoryMB"`
	Kernel   string `json:"kernel"`
	OS       string `json:"os"`
	Go       string `json:"go"`
	OVS      string `json:"ovs"`
	OVN      string `json:"ovn"`
	// Kubernetes is the control plane's version (the sandbox builds it).
	Kubernetes string `json:"kubernetes,omitempty"`
	// Commit is the kvnet tree measured; Dirty when it had local changes.
	Commit string `json:"commit,omitempty"`
	Dirty  bool   `json:"dirty,omitempty"`
	// LoadAvg is /proc/loadavg (1, 5, 15 minutes) when the run began.
	LoadAvg string `json:"loadAvg"`
}

// DescribeMachine collects Machine for the tree at repo.
func DescribeMachine(ctx context.Context, repo, kubernetes string) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Kubernetes: kubernetes}
	m.CPUModel = procField("/proc/cpuinfo", "model name")
	if kb, err := strconv.Atoi(strings.Fields(procField("/proc/meminfo", "MemTotal") + " 0")[0]); err == nil {
		m.MemoryMB = kb / 1024
	}
	m.Kernel = readTrim("/proc/sys/kernel/osrelease")
	m.OS = strings.Trim(osRelease("PRETTY_NAME"), `"`)
	m.OVS = firstLine(ctx, "ovs-vswitchd", "--version")
	m.OVN = firstLine(ctx, "ovn-northd", "--version")
	if la := strings.Fields(readTrim("/proc/loadavg")); len(la) >= 3 {
		m.LoadAvg = strings.Join(la[:3], " ")
	}
	if repo != "" {
		m.Commit = firstLine(ctx, "git", "-C", repo, "rev-parse", "--short=12", "HEAD")
		if out, err := exec.CommandContext(ctx, "git", "-C", repo, "status", "--porcelain").Output(); err == nil {
			m.Dirty = len(strings.TrimSpace(string(out))) > 0
		}
	}
	return m
}

// TreeCommit names the tree at repo: its short commit, "+dirty" when it
// has local changes ("" when unknown).
func TreeCommit(ctx context.Context, repo string) string {
	c := firstLine(ctx, "git", "-C", repo, "rev-parse", "--short=12", "HEAD")
	if c == "" {
		return ""
	}
	if out, err := exec.CommandContext(ctx, "git", "-C", repo, "status", "--porcelain").Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
		c += "+dirty"
	}
	return c
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func osRelease(key string) string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			return v
		}
	}
	return ""
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// firstLine runs a short command and returns the first line of its output.
func firstLine(ctx context.Context, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return ""
	}
	l, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return l
}
