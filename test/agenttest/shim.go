package agenttest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var shim struct {
	once sync.Once
	dir  string
	err  error
}

// ShimDir builds the kvnet-cni binary once per test run and returns the
// directory holding it (the CNI plugin path for libcni).
func ShimDir(t *testing.T) string {
	t.Helper()
	shim.once.Do(func() {
		shim.dir, shim.err = os.MkdirTemp(os.Getenv(envTmpDir), "kvt-bin-")
		if shim.err != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(shim.dir, "kvnet-cni"),
			"github.com/kvnet/kvnet/cmd/kvnet-cni").CombinedOutput()
		if err != nil {
			shim.err = fmt.Errorf("build kvnet-cni: %w\n%s", err, out)
		}
	})
	if shim.err != nil {
		t.Fatal(shim.err)
	}
	return shim.dir
}
