package nbtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kvnet/kvnet/test/agenttest"
)

// SchemaPath is the NB schema kvnet's models were generated from.
func SchemaPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "nbdb", "ovn-nb.ovsschema")
}

// Start runs a real ovsdb-server with the NB schema when ovsdb-server and
// ovsdb-tool are installed, else the in-memory server, and returns its
// address. Where the real one is required (agenttest.RequiredBy: CI, or
// hack/test.sh) a missing ovsdb-server fails the test instead. The server
// is stopped (by its pidfile) when the test ends.
func Start(t testing.TB) string {
	t.Helper()
	if addr, ok := startReal(t); ok {
		return addr
	}
	if why := agenttest.RequiredBy(); why != "" {
		t.Fatalf("ovsdb-server and ovsdb-tool are required (%s) but not installed: run `make deps`", why)
	}
	return Server(t)
}

func startReal(t testing.TB) (string, bool) {
	server, err1 := exec.LookPath("ovsdb-server")
	tool, err2 := exec.LookPath("ovsdb-tool")
	if err1 != nil || err2 != nil {
		return "", false
	}
	dir, err := os.MkdirTemp("", "kvnb")
	if err != nil {
		t.Fatal(err)
	}
	db, sock, pidfile := filepath.Join(dir, "nb.db"), filepath.Join(dir, "nb.sock"), filepath.Join(dir, "pid")
	if out, err := exec.Command(tool, "create", db, SchemaPath()).CombinedOutput(); err != nil {
		t.Fatalf("ovsdb-tool create: %v: %s", err, out)
	}
	cmd := exec.Command(server, db, "--remote=punix:"+sock, "--pidfile="+pidfile,
		"--unixctl="+filepath.Join(dir, "ctl"), "--log-file="+filepath.Join(dir, "log"), "--detach", "--no-chdir")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ovsdb-server: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidfile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGTERM)
				for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}
		_ = os.RemoveAll(dir)
	})
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sock); err == nil {
			return "unix:" + sock, true
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("ovsdb-server socket did not appear")
	return "", false
}
