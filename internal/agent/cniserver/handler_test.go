package cniserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/kvnet/kvnet/internal/agent/cniapi"
	"github.com/kvnet/kvnet/internal/agent/netconf"
	"github.com/kvnet/kvnet/internal/agent/ovsport"
	"github.com/kvnet/kvnet/internal/annotations"
	"github.com/kvnet/kvnet/internal/ovn/vswitch"
)

func netMAC(s string) (net.HardwareAddr, error) { return net.ParseMAC(s) }

// FakePods is a Pods for tests; Set replaces a pod and wakes waiters.
type fakePods struct {
	mu      sync.Mutex
	pods    map[string]*Pod
	changed chan struct{}
}

func newFakePods() *fakePods {
	return &fakePods{pods: map[string]*Pod{}, changed: make(chan struct{})}
}

func (f *fakePods) Set(p *Pod) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pods[p.Namespace+"/"+p.Name] = p
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakePods) Get(ns, name string) (*Pod, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pods[ns+"/"+name]
	return p, ok
}

func (f *fakePods) Changed(string, string) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// fakePorts records ports; every port is ovn-installed at once unless
// neverInstall is set.
type fakePorts struct {
	mu           sync.Mutex
	ports        map[string]ovsport.Port
	waited       []string
	neverInstall bool
}

func (f *fakePorts) EnsurePort(_ context.Context, p ovsport.Port) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ports[p.Name] = p
	return nil
}

func (f *fakePorts) DeletePort(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.ports, name)
	return nil
}

func (f *fakePorts) FindPorts(_ context.Context, match map[string]string) ([]ovsport.PortInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ovsport.PortInfo
	for _, p := range f.ports {
		ok := true
		for k, v := range match {
			ok = ok && p.ExternalIDs[k] == v
		}
		if ok {
			out = append(out, ovsport.PortInfo{Name: p.Name, ExternalIDs: maps.Clone(p.ExternalIDs)})
		}
	}
	return out, nil
}

func (f *fakePorts) WaitInstalled(ctx context.Context, name string) error {
	f.mu.Lock()
	f.waited = append(f.waited, name)
	never := f.neverInstall
	f.mu.Unlock()
	if never {
		<-ctx.Done()
		return fmt.Errorf("interface %s not installed: %w", name, ctx.Err())
	}
	return nil
}

func (f *fakePorts) Interface(_ context.Context, name string) (*vswitch.Interface, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.ports[name]
	if !ok {
		return nil, false
	}
	ids := maps.Clone(p.ExternalIDs)
	if !f.neverInstall {
		ids[ovsport.OVNInstalledKey] = "true"
	}
	return &vswitch.Interface{Name: name, ExternalIDs: ids}, true
}

type fakeDatapath struct {
	mu      sync.Mutex
	links   map[string]netconf.Pod // by host name
	pinged  []netip.Addr
	pingErr error
}

func (f *fakeDatapath) SetupPod(p netconf.Pod) (net.HardwareAddr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.links[p.HostIfName] = p
	return netMAC("0e:00:00:00:00:01")
}

func (f *fakeDatapath) TeardownPod(host, _, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.links, host)
	return nil
}

func (f *fakeDatapath) CheckPod(p netconf.Pod) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.links[p.HostIfName]; !ok {
		return fmt.Errorf("no link %s", p.HostIfName)
	}
	return nil
}

func (f *fakeDatapath) Ping(_ context.Context, _ string, dst netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pinged = append(f.pinged, dst)
	return f.pingErr
}

type testEnv struct {
	h     *Handler
	pods  *fakePods
	ports *fakePorts
	dp    *fakeDatapath
}

func newTestEnv(wait time.Duration) *testEnv {
	env := &testEnv{
		pods:  newFakePods(),
		ports: &fakePorts{ports: map[string]ovsport.Port{}},
		dp:    &fakeDatapath{links: map[string]netconf.Pod{}},
	}
	cfg := Config{NodeName: "n1", Bridge: "br-int", MTU: 1400, NetdevDatapath: true, WaitTimeout: wait, GatewayCheck: true}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	env.h = NewHandler(cfg, env.pods, env.ports, env.dp, nil, nil, log)
	return env
}

const testConf = `{"cniVersion":"1.0.0","name":"kvnet","type":"kvnet-cni"}`

func addReq(id string) *cniapi.Request {
	return &cniapi.Request{Command: "ADD", ContainerID: id, Netns: "/run/netns/kvt-x", IfName: "eth0",
		Args: "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web", Config: json.RawMessage(testConf)}
}

func TestAddWaitsForAnnotationsThenPlugs(t *testing.T) {
	env := newTestEnv(5 * time.Second)
	env.pods.Set(&Pod{Namespace: "default", Name: "web", Annotations: annotated(map[string]string{annotations.Routed: ""})})
	go func() {
		time.Sleep(50 * time.Millisecond)
		env.pods.Set(&Pod{Namespace: "default", Name: "web", Annotations: annotated(nil)})
	}()
	data, cniErr := env.h.Handle(context.Background(), addReq("c1"))
	if cniErr != nil {
		t.Fatal(cniErr)
	}
	var res current.Result
	if err := json.Unmarshal(data, &res); err != nil || len(res.IPs) != 1 || res.IPs[0].Address.String() != "10.16.0.5/16" {
		t.Fatalf("result %s (%v)", data, err)
	}
	port, ok := env.ports.ports["c1_h"]
	if !ok || port.ExternalIDs[ovsport.IfaceIDKey] != "web.default" || port.ExternalIDs[containerIDKey] != "c1" ||
		port.ExternalIDs[ovsport.AttachedMACKey] != "0a:58:0a:10:00:05" || port.Bridge != "br-int" {
		t.Fatalf("port = %+v", port)
	}
	if link := env.dp.links["c1_h"]; !link.TxOffloadOff || link.MTU != 1400 || link.IfName != "eth0" {
		t.Fatalf("link = %+v", link)
	}
	if len(env.ports.waited) != 1 || len(env.dp.pinged) != 1 || env.dp.pinged[0].String() != "10.16.0.1" {
		t.Fatalf("waited %v pinged %v", env.ports.waited, env.dp.pinged)
	}
}

func TestAddTimesOutNamingTheMissingAnnotation(t *testing.T) {
	env := newTestEnv(100 * time.Millisecond)
	env.pods.Set(&Pod{Namespace: "default", Name: "web", Annotations: annotated(map[string]string{annotations.Routed: "false"})})
	_, cniErr := env.h.Handle(context.Background(), addReq("c1"))
	if cniErr == nil || cniErr.Code != types.ErrTryAgainLater || !strings.Contains(cniErr.Msg, annotations.Routed) {
		t.Fatalf("err = %+v", cniErr)
	}
	if len(env.dp.links) != 0 || len(env.ports.ports) != 0 {
		t.Fatal("plumbing done for a pod that is not ready")
	}
}

func TestAddUnknownPodTimesOut(t *testing.T) {
	env := newTestEnv(50 * time.Millisecond)
	_, cniErr := env.h.Handle(context.Background(), addReq("c1"))
	if cniErr == nil || cniErr.Code != types.ErrTryAgainLater || !strings.Contains(cniErr.Msg, "not known on node n1") {
		t.Fatalf("err = %+v", cniErr)
	}
}

func TestAddBadAnnotationsIsPermanent(t *testing.T) {
	env := newTestEnv(5 * time.Second)
	env.pods.Set(&Pod{Namespace: "default", Name: "web", Annotations: annotated(map[string]string{annotations.IPAddress: "10.99.0.1"})})
	_, cniErr := env.h.Handle(context.Background(), addReq("c1"))
	if cniErr == nil || cniErr.Code != cniapi.ErrPodAnnotations {
		t.Fatalf("err = %+v", cniErr)
	}
}

func TestAddMigrationTargetSkipsGatewayCheckButWaitsForInstall(t *testing.T) {
	env := newTestEnv(5 * time.Second)
	env.dp.pingErr = fmt.Errorf("port blocked until RARP")
	env.pods.Set(&Pod{Namespace: "default", Name: "web", Annotations: annotated(nil),
		Labels: map[string]string{annotations.KubeVirtMigrationJobUID: "m1"}})
	if _, cniErr := env.h.Handle(context.Background(), addReq("c1")); cniErr != nil {
		t.Fatal(cniErr)
	}
	if len(env.dp.pinged) != 0 {
		t.Fatalf("gateway pinged for a migration target: %v", env.dp.pinged)
	}
	if len(env.ports.waited) != 1 {
		t.Fatal("ovn-installed not awaited for a migration target")
	}
}

// The naive migration hand-over (benchmark only) keeps the port on the
// source chassis: the controller marks the target pod, and only a migration
// target may skip the wait for ovn-installed (ADD and CHECK).
func TestAddSkipsInstallWaitOnlyForMarkedMigrationTarget(t *testing.T) {
	skip := map[string]string{annotations.SkipOVNInstalled: "true"}
	env := newTestEnv(200 * time.Millisecond)
	env.ports.neverInstall = true
	env.pods.Set(&Pod{Namespace: "default", Name: "web", Annotations: annotated(skip),
		Labels: map[string]string{annotations.KubeVirtMigrationJobUID: "m1"}})
	if _, cniErr := env.h.Handle(context.Background(), addReq("c1")); cniErr != nil {
		t.Fatalf("marked migration target: %v", cniErr)
	}
	if len(env.ports.waited) != 0 {
		t.Errorf("waited for ovn-installed on a marked migration target: %v", env.ports.waited)
	}
	check := addReq("c1")
	check.Command = "CHECK"
	if _, cniErr := env.h.Handle(context.Background(), check); cniErr != nil {
		t.Errorf("CHECK of a marked migration target: %v", cniErr)
	}

	env = newTestEnv(200 * time.Millisecond)
	env.ports.neverInstall = true
	env.pods.Set(&Pod{Namespace: "default", Name: "web", Annotations: annotated(skip)})
	if _, cniErr := env.h.Handle(context.Background(), addReq("c1")); cniErr == nil || cniErr.Code != types.ErrTryAgainLater {
		t.Fatalf("an ordinary pod with the mark skipped the wait: err = %+v", cniErr)
	}
}

func TestAddGatewayFailureAndInstallTimeout(t *testing.T) {
	env := newTestEnv(5 * time.Second)
	env.dp.pingErr = fmt.Errorf("no reply")
	env.pods.Set(&Pod{Namespace: "default", Name: "web", Annotations: annotated(nil)})
	if _, cniErr := env.h.Handle(context.Background(), addReq("c1")); cniErr == nil || cniErr.Code != cniapi.ErrGatewayUnreachable {
		t.Fatalf("gateway failure: err = %+v", cniErr)
	}
	env = newTestEnv(50 * time.Millisecond)
	env.ports.neverInstall = true
	env.pods.Set(&Pod{Namespace: "default", Name: "web", Annotations: annotated(nil)})
	_, cniErr := env.h.Handle(context.Background(), addReq("c1"))
	if cniErr == nil || cniErr.Code != types.ErrTryAgainLater || !strings.Contains(cniErr.Msg, "web.default") {
		t.Fatalf("install timeout: err = %+v", cniErr)
	}
}

func TestDelIsIdempotentAndCheckFollowsState(t *testing.T) {
	env := newTestEnv(5 * time.Second)
	env.pods.Set(&Pod{Namespace: "default", Name: "web", Annotations: annotated(nil)})
	if _, cniErr := env.h.Handle(context.Background(), addReq("c1")); cniErr != nil {
		t.Fatal(cniErr)
	}
	check := addReq("c1")
	check.Command = "CHECK"
	if _, cniErr := env.h.Handle(context.Background(), check); cniErr != nil {
		t.Fatalf("CHECK after ADD: %v", cniErr)
	}
	del := addReq("c1")
	del.Command = "DEL"
	for range 2 {
		if _, cniErr := env.h.Handle(context.Background(), del); cniErr != nil {
			t.Fatal(cniErr)
		}
	}
	del.Netns = "" // the runtime may have removed the netns already
	if _, cniErr := env.h.Handle(context.Background(), del); cniErr != nil {
		t.Fatal(cniErr)
	}
	if len(env.ports.ports) != 0 || len(env.dp.links) != 0 {
		t.Fatalf("left after DEL: ports %v links %v", env.ports.ports, env.dp.links)
	}
	if _, cniErr := env.h.Handle(context.Background(), check); cniErr == nil {
		t.Fatal("CHECK passed after DEL")
	}
}

func TestGCRemovesOnlyStaleAttachments(t *testing.T) {
	env := newTestEnv(5 * time.Second)
	env.pods.Set(&Pod{Namespace: "default", Name: "web", Annotations: annotated(nil)})
	for _, id := range []string{"keep", "stale"} {
		if _, cniErr := env.h.Handle(context.Background(), addReq(id)); cniErr != nil {
			t.Fatal(cniErr)
		}
	}
	gc := &cniapi.Request{Command: "GC", Config: json.RawMessage(`{"cniVersion":"1.1.0","name":"kvnet","type":"kvnet-cni"}`)}
	if _, cniErr := env.h.Handle(context.Background(), gc); cniErr != nil || len(env.ports.ports) != 2 {
		t.Fatalf("GC without a list removed ports: %v %v", cniErr, env.ports.ports)
	}
	gc.Config = json.RawMessage(`{"cniVersion":"1.1.0","name":"kvnet","type":"kvnet-cni",
		"cni.dev/valid-attachments":[{"containerID":"keep","ifname":"eth0"}]}`)
	if _, cniErr := env.h.Handle(context.Background(), gc); cniErr != nil {
		t.Fatal(cniErr)
	}
	if _, ok := env.ports.ports["keep_h"]; !ok || len(env.ports.ports) != 1 || len(env.dp.links) != 1 {
		t.Fatalf("after GC: ports %v links %v", env.ports.ports, env.dp.links)
	}
}

func TestBadConfigAndEnvCodes(t *testing.T) {
	env := newTestEnv(time.Second)
	req := addReq("c1")
	req.Config = json.RawMessage(`{"cniVersion":`)
	if _, cniErr := env.h.Handle(context.Background(), req); cniErr == nil || cniErr.Code != types.ErrInvalidNetworkConfig {
		t.Fatalf("bad config: %+v", cniErr)
	}
	req = addReq("")
	if _, cniErr := env.h.Handle(context.Background(), req); cniErr == nil || cniErr.Code != types.ErrInvalidEnvironmentVariables {
		t.Fatalf("no container id: %+v", cniErr)
	}
	req = addReq("c1")
	req.Args = ""
	if _, cniErr := env.h.Handle(context.Background(), req); cniErr == nil || cniErr.Code != types.ErrInvalidEnvironmentVariables {
		t.Fatalf("no pod in CNI_ARGS: %+v", cniErr)
	}
}

func TestStatus(t *testing.T) {
	env := newTestEnv(time.Second)
	env.h.ready = func() error { return fmt.Errorf("OVS not connected") }
	req := &cniapi.Request{Command: "STATUS", Config: json.RawMessage(testConf)}
	if _, cniErr := env.h.Handle(context.Background(), req); cniErr == nil || cniErr.Code != types.ErrPluginNotAvailable {
		t.Fatalf("STATUS: %+v", cniErr)
	}
}

// TestSocketRoundTrip goes through the real socket and the shim's client.
func TestSocketRoundTrip(t *testing.T) {
	env := newTestEnv(5 * time.Second)
	env.pods.Set(&Pod{Namespace: "default", Name: "web", Annotations: annotated(nil)})
	dir, err := os.MkdirTemp("", "kvt-cnisock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "run", "cni.sock")
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, l, env.h) }()
	t.Cleanup(func() { cancel(); <-served })

	for path, want := range map[string]os.FileMode{sock: 0o600, filepath.Dir(sock): 0o700} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != want {
			t.Fatalf("%s: mode %v (%v), want %v", path, fi.Mode().Perm(), err, want)
		}
	}
	raw, err := cniapi.Call(ctx, sock, addReq("c1"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"10.16.0.5/16"`) {
		t.Fatalf("result %s", raw)
	}
	_, err = cniapi.Call(ctx, sock, &cniapi.Request{Command: "ADD", Config: json.RawMessage(testConf)})
	var cniErr *types.Error
	if !asTypesError(err, &cniErr) || cniErr.Code != types.ErrInvalidEnvironmentVariables {
		t.Fatalf("error through socket: %v", err)
	}
	_, err = cniapi.Call(ctx, filepath.Join(dir, "nope.sock"), addReq("c1"))
	if !asTypesError(err, &cniErr) || cniErr.Code != types.ErrTryAgainLater {
		t.Fatalf("unreachable agent: %v", err)
	}
}

func asTypesError(err error, out **types.Error) bool {
	e, ok := err.(*types.Error)
	*out = e
	return ok
}
