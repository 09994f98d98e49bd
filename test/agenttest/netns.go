package agenttest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const (
	envNetns  = "KVT_NETNS"
	envTmpDir = "KVT_TMPDIR"
)

// RunInNetns is a TestMain body: as root it creates a network namespace
// kvt-<name>-<pid>, runs the same test binary inside it (so the agent code
// and the daemons under test share a node-like namespace and stay away from
// the host's and other builds' interfaces), and cleans up afterwards. Not as
// root, or when already inside, it just runs the tests.
func RunInNetns(m *testing.M, name string) int {
	if os.Getenv(envNetns) != "" {
		if err := exec.Command("ip", "link", "set", "lo", "up").Run(); err != nil {
			fmt.Fprintln(os.Stderr, "agenttest: lo up:", err)
		}
		return m.Run()
	}
	if os.Geteuid() != 0 || !haveTools("ip") {
		return m.Run()
	}
	ns := fmt.Sprintf("kvt-%s-%d", name, os.Getpid())
	dir, err := os.MkdirTemp("", ns+"-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "agenttest:", err)
		return 1
	}
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "agenttest: ip netns add %s: %v: %s\n", ns, err, out)
		os.RemoveAll(dir)
		return 1
	}
	defer cleanupParent(ns, dir)
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, os.Args[0]}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), envNetns+"="+ns, envTmpDir+"="+dir)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "agenttest: run in netns:", err)
		return 1
	}
	return 0
}

// cleanupParent kills daemons a crashed child left behind (by the PIDs in
// their pidfiles), removes leftover kvt- namespaces of this run and the
// temporary directory.
func cleanupParent(ns, dir string) {
	pidfiles, _ := filepath.Glob(filepath.Join(dir, "*", "*.pid"))
	for _, f := range pidfiles {
		killPidfile(f)
	}
	leftovers, _ := filepath.Glob("/run/netns/" + ns + "*")
	for _, l := range leftovers {
		_ = exec.Command("ip", "netns", "del", filepath.Base(l)).Run()
		_ = os.Remove(l)
	}
	_ = exec.Command("ip", "netns", "del", ns).Run()
	os.RemoveAll(dir)
}

func killPidfile(path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
}

// Netns is the name of the namespace the tests run in, "" outside.
func Netns() string { return os.Getenv(envNetns) }

// Require skips the test unless it runs as root inside its own namespace
// (see RunInNetns) and the named binaries are installed. Where the tests
// must run (CI set, as in CI; KVNET_REQUIRE_ENVTEST set, as by hack/test.sh)
// it fails instead, so a missing tool or a non-root run cannot pass as green.
func Require(t *testing.T, tools ...string) {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if why := RequiredBy(); why != "" {
			t.Fatalf("privileged test cannot run but is required (%s): "+format, append([]any{why}, args...)...)
		}
		t.Skipf(format, args...)
	}
	if Netns() == "" {
		missing("privileged: needs root (run through RunInNetns)")
		return
	}
	var absent []string
	for _, tool := range tools {
		if !haveTools(tool) {
			absent = append(absent, tool)
		}
	}
	if len(absent) > 0 {
		missing("needs %v installed", absent)
	}
}

// RequiredBy names the environment variable that makes privileged tests
// mandatory, or returns "" when they may skip.
func RequiredBy() string {
	for _, env := range []string{"CI", "KVNET_REQUIRE_ENVTEST"} {
		if v := os.Getenv(env); v != "" && v != "0" && !strings.EqualFold(v, "false") {
			return env + "=" + v
		}
	}
	return ""
}

func haveTools(tools ...string) bool {
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			return false
		}
	}
	return true
}

// TempDir makes a kvt- directory under the run's directory, removed at the
// end of the test.
func TempDir(t *testing.T, name string) string {
	t.Helper()
	base := os.Getenv(envTmpDir)
	dir, err := os.MkdirTemp(base, "kvt-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// AddNetns creates a network namespace kvt-<name>-<parent pid>-ish for a pod
// and returns its path; it is deleted at the end of the test.
func AddNetns(t *testing.T, name string) string {
	t.Helper()
	ns := Netns() + "-" + name
	Run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	return "/run/netns/" + ns
}

// Run runs a command and fails the test if it fails; it returns the output.
func Run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
