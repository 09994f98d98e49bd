package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// RestartNB stops OVN central's NB ovsdb-server (by its recorded PID) and
// starts it again on the same socket, as startOVNCentral does. With wipe the
// database file is replaced by a new, empty one first: what an operator who
// lost the NB database sees. Clients (northd, kvnet-controller) reconnect by
// themselves.
func RestartNB(ctx context.Context, c Config, wipe bool) error {
	dir := c.Path("ovn")
	file := filepath.Join(dir, "nb.db")
	if err := c.Stop("ovn/nb-ovsdb", 5*time.Second); err != nil {
		return fmt.Errorf("stop NB: %w", err)
	}
	if wipe {
		if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := run(ctx, "ovsdb-tool", "create", file, "/usr/share/ovn/ovn-nb.ovsschema"); err != nil {
			return err
		}
	}
	// A server that was killed leaves its socket behind.
	_ = os.Remove(c.NBSocket())
	env := []string{"OVN_RUNDIR=" + dir, "OVS_RUNDIR=" + dir, "OVN_LOGDIR=" + dir, "OVN_DBDIR=" + dir}
	if _, err := c.Start(Proc{Name: "ovn/nb-ovsdb", Env: env, Args: []string{"ovsdb-server", file,
		"--remote=punix:" + c.NBSocket(), "--unixctl=" + filepath.Join(dir, "nb.ctl"),
		"--log-file=" + filepath.Join(dir, "nb.log"), "-vconsole:off", "-vfile:info"}}); err != nil {
		return err
	}
	return waitFor(ctx, "OVN nb database", 10*time.Second, func() (bool, error) {
		_, err := os.Stat(c.NBSocket())
		return err == nil, err
	})
}
