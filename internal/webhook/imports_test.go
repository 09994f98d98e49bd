package webhook_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The webhook judges requests by the addressing library and the KubeVirt
// view, never by a reconciler's code: a reconciler package imported here
// would drag the controller's state and wiring into admission.
func TestWebhookImportsNoControllerPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/kvnet/kvnet/internal/webhook").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps listed %d packages: %q", len(deps), out)
	}
	for _, want := range []string{"github.com/kvnet/kvnet/internal/addressing", "github.com/kvnet/kvnet/internal/kubevirt"} {
		found := false
		for _, d := range deps {
			found = found || d == want
		}
		if !found {
			t.Errorf("webhook does not use %s", want)
		}
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/kvnet/kvnet/internal/controller") {
			t.Errorf("internal/webhook imports %s", d)
		}
	}
}
