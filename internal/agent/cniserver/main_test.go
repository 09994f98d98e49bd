package cniserver

import (
	"os"
	"testing"

	"github.com/kvnet/kvnet/test/agenttest"
)

// TestMain runs the package's tests inside a kvt- network namespace when
// root, so the privileged integration tests act like an agent on a node.
func TestMain(m *testing.M) { os.Exit(agenttest.RunInNetns(m, "cni")) }
