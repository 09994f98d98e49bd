package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc describes one daemon the sandbox runs.
type Proc struct {
	// Name is unique within the sandbox, e.g. "etcd" or "node-1/ovs-vswitchd".
	Name string
	// Netns, when set, runs the process inside that network namespace.
	Netns string
	Args  []string
	Env   []string
	// Nice is the process's niceness (-20..19; 0 leaves it as the caller's).
	// It is set before exec, so every thread the daemon starts inherits it.
	Nice int
}

// dataPlaneNice is the niceness ovs-ctl gives ovsdb-server and ovs-vswitchd
// and ovn-ctl gives ovn-controller and ovn-northd (their
// --*-priority defaults). The sandbox shares two cores with the control
// plane and the tests; without it a busy apiserver delays the datapath.
const dataPlaneNice = -10

// procDir holds one "<name>.pid" record per running process ("/" in names becomes "_").
func (c Config) procDir() string { return c.Path("pids") }

func (c Config) pidFile(name string) string {
	return filepath.Join(c.procDir(), strings.ReplaceAll(name, "/", "_")+".pid")
}

// LogFile is where a process's stdout and stderr go.
func (c Config) LogFile(name string) string {
	return c.Path("logs", strings.ReplaceAll(name, "/", "_")+".log")
}

// Start launches p detached from the caller (its own session, stdin closed,
// output appended to its log file) and records its PID.
func (c Config) Start(p Proc) (int, error) {
	for _, d := range []string{c.procDir(), c.Path("logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, err
		}
	}
	logf, err := os.OpenFile(c.LogFile(p.Name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	args := p.Args
	if p.Netns != "" {
		// "ip netns exec" execs the command in place, so the PID we record is the daemon's.
		args = append([]string{"ip", "netns", "exec", p.Netns}, args...)
	}
	if p.Nice != 0 {
		// nice(1) execs in place too.
		args = append([]string{"nice", "-n", strconv.Itoa(p.Nice)}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", p.Name, err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	if err := os.WriteFile(c.pidFile(p.Name), []byte(strconv.Itoa(pid)+"\n"+strings.Join(args, " ")+"\n"), 0o644); err != nil {
		return pid, err
	}
	return pid, nil
}

// Running lists recorded processes that are still alive, by name.
func (c Config) Running() map[string]int {
	out := map[string]int{}
	ents, _ := os.ReadDir(c.procDir())
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".pid") {
			continue
		}
		name := strings.ReplaceAll(strings.TrimSuffix(e.Name(), ".pid"), "_", "/")
		if pid, ok := c.recordedPID(name); ok && alive(pid) {
			out[name] = pid
		}
	}
	return out
}

func (c Config) recordedPID(name string) (int, bool) {
	f, err := os.Open(c.pidFile(name))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	if !s.Scan() {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s.Text()))
	return pid, err == nil && pid > 1
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	// A zombie (our own child not yet reaped) counts as gone.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// Stop ends the recorded process by its PID (SIGTERM, then SIGKILL after
// grace) and removes its record. Stopping a process that is not running is not an error.
func (c Config) Stop(name string, grace time.Duration) error {
	pid, ok := c.recordedPID(name)
	if ok && alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(grace)
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			for i := 0; i < 100 && alive(pid); i++ {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	if err := os.Remove(c.pidFile(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// StopAll ends every recorded process, newest first (so dependants go before
// what they depend on).
func (c Config) StopAll() {
	ents, _ := os.ReadDir(c.procDir())
	type rec struct {
		name string
		t    time.Time
	}
	var recs []rec
	for _, e := range ents {
		if info, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".pid") {
			recs = append(recs, rec{strings.ReplaceAll(strings.TrimSuffix(e.Name(), ".pid"), "_", "/"), info.ModTime()})
		}
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].t.After(recs[j].t) })
	for _, r := range recs {
		_ = c.Stop(r.name, 3*time.Second)
	}
}

// run executes a short command and returns its combined output in the error.
func run(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// output executes a short command and returns its trimmed stdout.
func output(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("%s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// permanent marks an error that waitFor must not wait out.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// waitFor polls cond until it returns true, a permanent error, or the
// timeout; other errors are kept to explain a timeout.
func waitFor(ctx context.Context, what string, timeout time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		var p permanent
		if errors.As(err, &p) {
			return fmt.Errorf("waiting for %s: %w", what, p.error)
		}
		last = err
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("waiting for %s: %w (last error: %v)", what, ctx.Err(), last)
			}
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
