//go:build e2e

package e2e

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	kubevirtv1 "kubevirt.io/api/core/v1"

	kvnetv1 "github.com/kvnet/kvnet/api/v1"
	"github.com/kvnet/kvnet/internal/sandbox"
)

// nbTables are the NB tables kvnet writes, with the columns compared
// (never _uuid: a wiped database gets new UUIDs) and the columns that make a
// row's label, which stands in for its UUID where another row refers to it.
var nbTables = []struct {
	table       string
	cols, label []string
}{
	{"Logical_Switch", []string{"name", "other_config", "external_ids", "ports", "acls"}, []string{"name"}},
	{"Logical_Switch_Port", []string{"name", "type", "addresses", "port_security", "options", "external_ids"}, []string{"name"}},
	{"Logical_Router", []string{"name", "options", "external_ids", "ports", "static_routes", "policies"}, []string{"name"}},
	{"Logical_Router_Port", []string{"name", "mac", "networks", "options", "external_ids"}, []string{"name"}},
	{"Logical_Router_Static_Route", []string{"ip_prefix", "nexthop", "policy", "route_table", "external_ids"}, []string{"route_table", "ip_prefix", "nexthop", "policy"}},
	{"Logical_Router_Policy", []string{"priority", "match", "action", "nexthops", "external_ids"}, []string{"priority", "match", "action"}},
	{"ACL", []string{"priority", "direction", "match", "action", "external_ids"}, []string{"priority", "direction", "match", "action"}},
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// nbContent is the content of kvnet's NB tables without UUIDs: one line per
// row (its columns) and one per reference (row -> label of the row it
// refers to), sorted; duplicates stay, so a doubled row shows.
func nbContent() (string, error) {
	type row struct {
		table string
		vals  []string
	}
	label := map[string]string{}
	var rows []row
	for _, tb := range nbTables {
		cols := append([]string{"_uuid"}, tb.cols...)
		out, err := exec.Command("ovn-nbctl", "--db=unix:"+cfg.NBSocket(), "--timeout=5", "--format=csv", "--data=bare", "--no-headings",
			"--columns="+strings.Join(cols, ","), "list", tb.table).Output()
		if err != nil {
			return "", fmt.Errorf("list %s: %w", tb.table, err)
		}
		recs, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
		if err != nil {
			return "", fmt.Errorf("parse %s: %w", tb.table, err)
		}
		for _, rec := range recs {
			var l []string
			for _, c := range tb.label {
				l = append(l, rec[1+indexOf(tb.cols, c)])
			}
			label[rec[0]] = tb.table + "[" + strings.Join(l, " ") + "]"
			rows = append(rows, row{tb.table, rec})
		}
	}
	var lines []string
	for _, r := range rows {
		self := label[r.vals[0]]
		var plain []string
		for i, v := range r.vals[1:] {
			toks := strings.Fields(v)
			if len(toks) > 0 && uuidRE.MatchString(toks[0]) {
				for _, tok := range toks {
					ref, ok := label[tok]
					if !ok {
						ref = "(dangling)"
					}
					lines = append(lines, fmt.Sprintf("%s %s -> %s", self, nbTablesCols(r.table)[i], ref))
				}
				continue
			}
			plain = append(plain, v)
		}
		lines = append(lines, self+" "+strings.Join(plain, " | "))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n"), nil
}

func nbTablesCols(table string) []string {
	for _, tb := range nbTables {
		if tb.table == table {
			return tb.cols
		}
	}
	return nil
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

// without drops the lines that mention any of words.
func without(s string, words ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		keep := true
		for _, w := range words {
			if strings.Contains(l, w) {
				keep = false
			}
		}
		if keep {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// waitNB waits until want(content) holds and returns how long it took.
func waitNB(t *testing.T, what string, timeout time.Duration, want func(string) bool) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		got, err := nbContent()
		if err != nil {
			return false, nil
		}
		last = got
		return want(got), nil
	})
	if err != nil {
		t.Fatalf("%s: NB not restored after %s; last content:\n%s", what, timeout, last)
	}
	return time.Since(start)
}

func lspUUIDs(t *testing.T) map[string]bool {
	t.Helper()
	m := map[string]bool{}
	for _, u := range strings.Fields(nbctl(t, "--bare", "--columns=_uuid", "list", "Logical_Switch_Port")) {
		m[u] = true
	}
	return m
}

// reachable pings each address from pod from.
func reachable(t *testing.T, ns, from string, dsts ...string) {
	t.Helper()
	for _, d := range dsts {
		if err := ping(context.Background(), ns, from, netip.MustParseAddr(d)); err != nil {
			t.Errorf("%s -> %s: %v", from, d, err)
		}
	}
}

// Issue 7 item 4: the OVN NB database is lost (rows destroyed while the
// controller runs; the database replaced by an empty one while it runs;
// and replaced while it is down, with a pod deleted and another created
// meanwhile): NB comes back with the same rows (names, addresses, options,
// references; not UUIDs), the leftovers are collected, addresses stay, and
// pods and a VM on different nodes reach each other again.
func TestNBWipeRecovery(t *testing.T) {
	needKvnet(t)
	cs, c := clientset(t), crClient(t)
	ctx := context.Background()
	ns := testNamespace(t, cs, nil)
	extra, _ := strconv.Atoi(os.Getenv("KVNET_E2E_RECOVERY_PODS")) // more pods, for the figure
	names := []string{"keep1", "keep2", "gone"}
	for i := 0; i < extra; i++ {
		names = append(names, fmt.Sprintf("bulk%d", i))
	}
	for i, n := range names {
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pausePod(n, nil, sandbox.NodeName(1+i%3)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Create(ctx, newVM(ns, "vmr", nil, kubevirtv1.RunStrategyAlways, "node-3")); err != nil {
		t.Fatal(err)
	}
	ip := map[string]string{}
	for _, n := range names {
		ip[n] = waitPodRunning(t, cs, ns, n, time.Duration(60+extra/5)*time.Second).Status.PodIP
	}
	vmIP := vmAddr(waitVMIRunning(t, c, ns, "vmr")).ip
	waitQuiet(t)
	before, err := nbContent()
	if err != nil {
		t.Fatal(err)
	}
	book := addressBook(t, ns)
	reachable(t, ns, "keep1", ip["keep2"], ip["gone"], vmIP)

	t.Run("destroyed while running", func(t *testing.T) {
		old := lspUUIDs(t)
		nbctl(t, "--all", "destroy", "Logical_Switch", "--", "--all", "destroy", "Logical_Router")
		took := waitNB(t, "destroyed while running", 60*time.Second, func(s string) bool { return s == before })
		// The rows are new ones (the destroy happened), not the old ones left.
		for u := range lspUUIDs(t) {
			if old[u] {
				t.Errorf("switch port %s survived the destroy", u)
			}
		}
		t.Logf("NB restored %s after the rows were destroyed (%d pods, 1 VM)", took.Round(time.Millisecond), len(names))
		reachable(t, ns, "keep1", ip["keep2"], ip["gone"], vmIP)
	})
	t.Run("database replaced while running", func(t *testing.T) {
		if err := sandbox.RestartNB(ctx, cfg, true); err != nil {
			t.Fatal(err)
		}
		took := waitNB(t, "database replaced while running", 60*time.Second, func(s string) bool { return s == before })
		t.Logf("NB restored %s after the database was replaced (%d pods, 1 VM)", took.Round(time.Millisecond), len(names))
		reachable(t, ns, "keep1", ip["keep2"], ip["gone"], vmIP)
	})
	t.Run("database replaced while the controller is down", func(t *testing.T) {
		if err := cfg.Stop("kvnet-controller", 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := sandbox.RestartNB(ctx, cfg, true); err != nil {
			t.Fatal(err)
		}
		// B08 and B18: a pod goes and another comes while nobody allocates.
		if err := cs.CoreV1().Pods(ns).Delete(ctx, "gone", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitGone(t, cs, ns, "gone", 60*time.Second)
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pausePod("late", nil, "node-3"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := sandbox.StartController(cfg); err != nil {
			t.Fatal(err)
		}
		waitControllerReady(t)
		goneKey := ns + "/gone" // its address may be handed out again: it was released
		want := without(before, "gone."+ns, goneKey)
		took := waitNB(t, "replaced while down", 90*time.Second, func(s string) bool {
			return without(s, "late."+ns, ns+"/late") == want && strings.Contains(s, "late."+ns)
		})
		t.Logf("NB restored %s after a controller start on an empty NB (%d pods, 1 VM)", took.Round(time.Millisecond), len(names))
		late := waitPodRunning(t, cs, ns, "late", 60*time.Second)
		t.Logf("pod created while the controller was down runs %s after the start", time.Since(start).Round(time.Millisecond))
		// The deleted pod's IP object is collected; every other address stays.
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
			ips := &kvnetv1.IPList{}
			if err := c.List(ctx, ips); err != nil {
				return false, nil
			}
			for _, x := range ips.Items {
				if x.Spec.Namespace == ns && x.Spec.PodName == "gone" {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			t.Errorf("IP object of pod %s (deleted while the controller was down) not collected", goneKey)
		}
		got := without(addressBook(t, ns), "gone", "late")
		if w := without(book, "gone", "late"); got != w {
			t.Errorf("addresses changed:\n%s", diffLines(w, got))
		}
		if late.Status.PodIP == ip["keep1"] || late.Status.PodIP == ip["keep2"] || late.Status.PodIP == vmIP {
			t.Errorf("pod late got %s, an address in use", late.Status.PodIP)
		}
		reachable(t, ns, "keep1", ip["keep2"], late.Status.PodIP, vmIP)
		reachable(t, ns, "late", ip["keep1"])
	})
}

// The figure for docs/benchmarks.md: with the pods of namespace
// KVNET_E2E_RECOVERY_NS in place (made beforehand, e.g. by an interrupted
// TestNBWipeRecovery with KVNET_E2E_RECOVERY_PODS=997), how long NB takes to
// be fully restored after its rows are destroyed and after the database is
// replaced, the controller running. Skipped without the variable.
func TestNBWipeRecoveryFigure(t *testing.T) {
	needKvnet(t)
	ns := os.Getenv("KVNET_E2E_RECOVERY_NS")
	if ns == "" {
		t.Skip("KVNET_E2E_RECOVERY_NS not set")
	}
	pods, err := clientset(t).CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before, err := nbContent()
	if err != nil {
		t.Fatal(err)
	}
	ports := strings.Count(before, "\nLogical_Switch_Port[")
	nbctl(t, "--all", "destroy", "Logical_Switch", "--", "--all", "destroy", "Logical_Router")
	took := waitNB(t, "destroyed", 5*time.Minute, func(s string) bool { return s == before })
	t.Logf("FIGURE rows destroyed: NB fully restored in %s (%d pods in %s, %d switch ports)", took.Round(time.Millisecond), len(pods.Items), ns, ports)
	if err := sandbox.RestartNB(context.Background(), cfg, true); err != nil {
		t.Fatal(err)
	}
	took = waitNB(t, "replaced", 5*time.Minute, func(s string) bool { return s == before })
	t.Logf("FIGURE database replaced: NB fully restored in %s (%d pods in %s, %d switch ports)", took.Round(time.Millisecond), len(pods.Items), ns, ports)
}
