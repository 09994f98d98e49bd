//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kvnet/kvnet/internal/sandbox"
)

// cfg is the sandbox the tests run against.
var cfg sandbox.Config

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	repo, _ := filepath.Abs("../..")
	cfg = sandbox.DefaultConfig(repo)
	if n := os.Getenv("KVNET_E2E_NETWORK"); n != "" {
		cfg.Network = n
	}
	manage := os.Getenv("KVNET_E2E_MANAGE") == "1"
	logf := func(f string, a ...any) { fmt.Printf("sandbox: "+f+"\n", a...) }
	ctx := context.Background()
	if manage {
		if err := sandbox.Up(ctx, cfg, logf); err != nil {
			fmt.Println("sandbox up failed:", err)
			dumpLogs()
			_ = sandbox.Down(ctx, cfg, logf)
			os.Exit(1)
		}
	}
	code := m.Run()
	if err := checkNoLoggerTrace(); err != nil {
		fmt.Println("FAIL:", err)
		code = 1
	}
	if manage {
		if code != 0 {
			dumpLogs()
		}
		if err := downAndCheckClean(ctx, logf); err != nil {
			fmt.Println("FAIL: sandbox down left things behind:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// downAndCheckClean takes the sandbox down and then looks for anything of it
// left: a process it started, a kvs- namespace, a kvs- link in the host
// namespace, a mount under /run/netns of a kvs- namespace, or its state dir.
func downAndCheckClean(ctx context.Context, logf sandbox.Logf) error {
	pids := cfg.Running()
	if err := sandbox.Down(ctx, cfg, logf); err != nil {
		return err
	}
	var left []string
	deadline := time.Now().Add(5 * time.Second)
	for name, pid := range pids {
		for time.Now().Before(deadline) && processAlive(pid) {
			time.Sleep(50 * time.Millisecond)
		}
		if processAlive(pid) {
			left = append(left, fmt.Sprintf("process %s (pid %d)", name, pid))
		}
	}
	if ents, _ := os.ReadDir("/run/netns"); len(ents) > 0 {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), cfg.NetnsPrefix()) {
				left = append(left, "netns "+e.Name())
			}
		}
	}
	links, _ := exec.Command("ip", "-o", "link", "show").Output()
	for _, l := range strings.Split(string(links), "\n") {
		if f := strings.Fields(l); len(f) > 1 && strings.HasPrefix(f[1], cfg.NetnsPrefix()) {
			left = append(left, "link "+f[1])
		}
	}
	mounts, _ := os.ReadFile("/proc/mounts")
	for _, l := range strings.Split(string(mounts), "\n") {
		if strings.Contains(l, "/netns/"+cfg.NetnsPrefix()) {
			left = append(left, "mount "+l)
		}
	}
	if _, err := os.Stat(cfg.StateDir); err == nil {
		left = append(left, "state dir "+cfg.StateDir)
	}
	if len(left) > 0 {
		return fmt.Errorf("%s", strings.Join(left, "; "))
	}
	fmt.Printf("sandbox down: %d processes stopped; no process, namespace, link, mount or state dir left\n", len(pids))
	return nil
}

func processAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

// loggerTrace is what controller-runtime prints, with a stack trace, when a
// binary logs through it 30 s or more after start without ever having called
// ctrl.SetLogger. The sandbox's processes (controller, kubelet and KubeVirt
// stand-ins) have run far longer than that by the end of the tests.
const loggerTrace = "log.SetLogger(...) was never called"

// checkNoLoggerTrace fails when any sandbox process's log holds loggerTrace.
func checkNoLoggerTrace() error {
	files, err := filepath.Glob(cfg.Path("logs", "*.log"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no sandbox logs under %s to check for the controller-runtime logger trace", cfg.Path("logs"))
	}
	var bad []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), loggerTrace) {
			bad = append(bad, filepath.Base(f))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%q (a stack trace) in %s: call ctrl.SetLogger early in that binary's main", loggerTrace, strings.Join(bad, ", "))
	}
	return nil
}

// dumpLogs prints the tail of the kvnet and kubelet logs, for CI.
func dumpLogs() {
	files, _ := filepath.Glob(cfg.Path("logs", "*.log"))
	for _, f := range files {
		base := filepath.Base(f)
		if !strings.Contains(base, "kvnet") && !strings.Contains(base, "kubelet") {
			continue
		}
		out, _ := exec.Command("tail", "-n", "40", f).Output()
		fmt.Printf("----- %s (last 40 lines)\n%s", base, out)
	}
}
