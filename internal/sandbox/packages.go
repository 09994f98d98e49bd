package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// DebianPackages are what the sandbox runs on. ovn-host and ovn-central bring
// ovn-controller, ovn-northd and the OVN schemas; openvswitch-switch brings
// ovsdb-server and ovs-vswitchd; containernetworking-plugins the reference CNI
// plugins (bridge, host-local, loopback).
var DebianPackages = []string{
	"openvswitch-switch", "ovn-central", "ovn-host", "etcd-server",
	"containernetworking-plugins", "iproute2", "iputils-ping", "ethtool",
	"procps", "netcat-openbsd", "tcpdump",
}

// EnsurePackages installs the missing Debian packages without starting or
// changing the machine's own services: a policy-rc.d that forbids service
// starts is in place for the duration of the install (Debian policy §9.3.3).
func EnsurePackages(ctx context.Context, log func(string, ...any)) error {
	var missing []string
	for _, p := range DebianPackages {
		out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Status}", p).Output()
		if err != nil || !strings.Contains(string(out), "install ok installed") {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	log("installing Debian packages: %s", strings.Join(missing, " "))
	const policy = "/usr/sbin/policy-rc.d"
	if _, err := os.Stat(policy); os.IsNotExist(err) {
		if err := os.WriteFile(policy, []byte("#!/bin/sh\n# written by kvnet sandbox during apt-get install\nexit 101\n"), 0o755); err != nil {
			return err
		}
		defer os.Remove(policy)
	}
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	upd := exec.CommandContext(ctx, "apt-get", "update", "-qq")
	upd.Env = env
	if out, err := upd.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get update: %w: %s", err, out)
	}
	inst := exec.CommandContext(ctx, "apt-get", append([]string{"install", "-y", "-qq", "--no-install-recommends"}, missing...)...)
	inst.Env = env
	if out, err := inst.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get install: %w: %s", err, out)
	}
	return nil
}
