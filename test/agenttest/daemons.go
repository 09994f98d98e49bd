package agenttest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Schemas installed by Debian's openvswitch-common and ovn-common.
const (
	VSwitchSchema = "/usr/share/openvswitch/vswitch.ovsschema"
	NBSchema      = "/usr/share/ovn/ovn-nb.ovsschema"
	SBSchema      = "/usr/share/ovn/ovn-sb.ovsschema"
)

// OVS is a running ovsdb-server + ovs-vswitchd pair.
type OVS struct {
	Dir string
	// DB is the Open_vSwitch database endpoint, "unix:<dir>/db.sock".
	DB string
}

// OVN is a running OVN central: NB and SB databases and ovn-northd.
type OVN struct {
	Dir    string
	NB, SB string // "unix:..." endpoints
}

// StartOVS starts an Open_vSwitch database and ovs-vswitchd (userspace
// datapath: bridges the agent creates are datapath_type=netdev).
func StartOVS(t *testing.T) *OVS {
	t.Helper()
	Require(t, "ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl")
	dir := TempDir(t, "ovs")
	o := &OVS{Dir: dir, DB: "unix:" + filepath.Join(dir, "db.sock")}
	db := filepath.Join(dir, "conf.db")
	Run(t, "ovsdb-tool", "create", db, VSwitchSchema)
	startDaemon(t, dir, "ovsdb-server", ovsEnv(dir), db, "--remote=punix:"+filepath.Join(dir, "db.sock"))
	waitFile(t, filepath.Join(dir, "db.sock"))
	// As ovs-ctl does: ovn-controller 23.03 exits when it starts before the
	// Open_vSwitch row exists.
	Run(t, "ovs-vsctl", "--db="+o.DB, "--no-wait", "init")
	startDaemon(t, dir, "ovs-vswitchd", ovsEnv(dir), o.DB)
	return o
}

// StartOVN starts OVN NB and SB databases and ovn-northd.
func StartOVN(t *testing.T) *OVN {
	t.Helper()
	Require(t, "ovsdb-tool", "ovsdb-server", "ovn-northd", "ovn-nbctl")
	dir := TempDir(t, "ovn")
	o := &OVN{Dir: dir, NB: "unix:" + filepath.Join(dir, "nb.sock"), SB: "unix:" + filepath.Join(dir, "sb.sock")}
	for _, db := range []struct{ name, schema string }{{"nb", NBSchema}, {"sb", SBSchema}} {
		file := filepath.Join(dir, db.name+".db")
		Run(t, "ovsdb-tool", "create", file, db.schema)
		sock := filepath.Join(dir, db.name+".sock")
		startDaemonAs(t, dir, "ovsdb-server", "ovsdb-server-"+db.name, ovsEnv(dir), file, "--remote=punix:"+sock)
		waitFile(t, sock)
	}
	startDaemon(t, dir, "ovn-northd", ovsEnv(dir), "--ovnnb-db="+o.NB, "--ovnsb-db="+o.SB)
	return o
}

// StartOVNController starts ovn-controller against the node's Open_vSwitch
// database; it reads ovn-remote and the encap settings from it. It gets an
// OVN_RUNDIR of its own (ovn-controller 23.03 rejects --unixctl). It
// returns its directory (logs).
func StartOVNController(t *testing.T, ovs *OVS) string {
	t.Helper()
	Require(t, "ovn-controller")
	dir := TempDir(t, "ovnctl")
	// OVS_RUNDIR must be vswitchd's: ovn-controller finds br-int.mgmt there.
	env := append(ovsEnv(dir), "OVS_RUNDIR="+ovs.Dir)
	startDaemon(t, dir, "ovn-controller", env, ovs.DB)
	return dir
}

// NBCtl runs ovn-nbctl against the NB database.
func (o *OVN) NBCtl(t *testing.T, args ...string) string {
	t.Helper()
	return strings.TrimSpace(Run(t, "ovn-nbctl", append([]string{"--db=" + o.NB}, args...)...))
}

func ovsEnv(dir string) []string {
	return append(os.Environ(), "OVS_RUNDIR="+dir, "OVS_DBDIR="+dir, "OVS_LOGDIR="+dir, "OVN_RUNDIR="+dir,
		"OVN_DBDIR="+dir, "OVN_LOGDIR="+dir)
}

func startDaemon(t *testing.T, dir, bin string, env []string, args ...string) {
	t.Helper()
	startDaemonAs(t, dir, bin, bin, env, args...)
}

// startDaemonAs starts bin detached with a pidfile and log in dir, and kills
// it by PID at the end of the test.
func startDaemonAs(t *testing.T, dir, bin, name string, env []string, args ...string) {
	t.Helper()
	pidfile := filepath.Join(dir, name+".pid")
	args = append(args, "--pidfile="+pidfile, "--detach", "--no-chdir",
		"--log-file="+filepath.Join(dir, name+".log"))
	if bin != "ovn-controller" {
		args = append(args, "--unixctl="+filepath.Join(dir, name+".ctl"))
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("start %s: %v\n%s", name, err, out)
	}
	pid := readPid(t, pidfile)
	t.Cleanup(func() { stopPid(pid) })
}

func readPid(t *testing.T, pidfile string) int {
	t.Helper()
	data, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatalf("read %s: %v", pidfile, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		t.Fatalf("bad pid in %s: %q", pidfile, data)
	}
	return pid
}

// stopPid terminates a daemon and waits (bounded) for it to go away.
func stopPid(pid int) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for range 100 {
		if !alive(pid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// alive reports whether pid runs; a zombie does not count (detached daemons
// are reparented to an init that may reap them late).
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesized command name.
	if i := strings.LastIndexByte(string(data), ')'); i >= 0 && i+2 < len(data) {
		return data[i+2] != 'Z'
	}
	return true
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	for range 250 {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not appear", path)
}

// Logs returns the tail of every log in the harness's directories, for
// failure messages.
func Logs(dirs ...string) string {
	var b strings.Builder
	for _, d := range dirs {
		files, _ := filepath.Glob(filepath.Join(d, "*.log"))
		for _, f := range files {
			data, _ := os.ReadFile(f)
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			if len(lines) > 15 {
				lines = lines[len(lines)-15:]
			}
			fmt.Fprintf(&b, "==> %s\n%s\n", f, strings.Join(lines, "\n"))
		}
	}
	return b.String()
}

// AddRouter creates a logical router.
func (o *OVN) AddRouter(t *testing.T, router string) {
	t.Helper()
	o.NBCtl(t, "lr-add", router)
}

// AddRoutedSwitch creates logical switch ls attached to router through a
// router port with the given MAC and address/prefix (the switch's gateway).
func (o *OVN) AddRoutedSwitch(t *testing.T, router, ls, mac, gwCIDR string) {
	t.Helper()
	lrp, lsp := router+"-"+ls, ls+"-"+router
	o.NBCtl(t, "lrp-add", router, lrp, mac, gwCIDR)
	o.NBCtl(t, "ls-add", ls)
	o.NBCtl(t, "lsp-add", ls, lsp, "--", "lsp-set-type", lsp, "router", "--",
		"lsp-set-addresses", lsp, "router", "--", "lsp-set-options", lsp, "router-port="+lrp)
}

// AddPort creates a logical switch port with addresses and port security.
func (o *OVN) AddPort(t *testing.T, ls, name, mac, ip string) {
	t.Helper()
	o.NBCtl(t, "lsp-add", ls, name, "--", "lsp-set-addresses", name, mac+" "+ip,
		"--", "lsp-set-port-security", name, mac+" "+ip)
}
