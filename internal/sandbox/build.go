package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ControlPlaneBinaries are built from k8s.io/kubernetes in hack/k8s.
var ControlPlaneBinaries = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// EnsureControlPlane builds the control-plane binaries into the cache unless
// they are already there. A cold build takes minutes; the cached case none.
func EnsureControlPlane(ctx context.Context, c Config, log func(string, ...any)) error {
	dir := c.K8sBinDir()
	missing := false
	for _, b := range ControlPlaneBinaries {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			missing = true
		}
	}
	if !missing {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	log("building %s %s from k8s.io/kubernetes (a cold build takes 5-10 minutes on 2 cores)", strings.Join(ControlPlaneBinaries, ", "), KubernetesVersion)
	minor := strings.Split(KubernetesVersion, ".")[1]
	ldflags := strings.Join([]string{
		"-s", "-w",
		"-X", "k8s.io/component-base/version.gitVersion=" + KubernetesVersion,
		"-X", "k8s.io/component-base/version.gitMajor=1",
		"-X", "k8s.io/component-base/version.gitMinor=" + minor,
		"-X", "k8s.io/component-base/version.gitTreeState=clean",
		"-X", "k8s.io/client-go/pkg/version.gitVersion=" + KubernetesVersion,
	}, " ")
	tmp, err := os.MkdirTemp(c.CacheDir, "build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	args := []string{"build", "-trimpath", "-ldflags", ldflags, "-o", tmp + "/"}
	for _, b := range ControlPlaneBinaries {
		args = append(args, "k8s.io/kubernetes/cmd/"+b)
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = filepath.Join(c.RepoDir, "hack", "k8s")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build control plane in %s: %w", cmd.Dir, err)
	}
	// Move into place only when all three built, so a cut-short build is redone.
	for _, b := range ControlPlaneBinaries {
		if err := os.Rename(filepath.Join(tmp, b), filepath.Join(dir, b)); err != nil {
			return err
		}
	}
	log("control plane built in %s", time.Since(start).Round(time.Second))
	return nil
}
