package sandbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// startControlPlane starts etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler on loopback and waits until the apiserver is ready.
func startControlPlane(ctx context.Context, c Config) error {
	bin := c.K8sBinDir()
	pki := c.pkiDir
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", c.EtcdClientPort())
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", c.EtcdPeerPort())
	if _, err := c.Start(Proc{Name: "etcd", Args: []string{"etcd",
		"--name=kvnet-sandbox", "--data-dir=" + c.Path("etcd"),
		"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=kvnet-sandbox=" + peerURL,
		"--quota-backend-bytes=4294967296", "--snapshot-count=10000",
	}, Env: []string{"ETCD_UNSUPPORTED_ARCH="}}); err != nil {
		return err
	}
	if err := waitFor(ctx, "etcd", 30*time.Second, func() (bool, error) {
		return httpOK(nil, etcdURL+"/health")
	}); err != nil {
		return err
	}
	if _, err := c.Start(Proc{Name: "kube-apiserver", Args: []string{filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=" + strconv.Itoa(c.APIServerPort()),
		"--tls-cert-file=" + pki("apiserver.crt"), "--tls-private-key-file=" + pki("apiserver.key"),
		"--client-ca-file=" + pki("ca.crt"),
		"--service-account-key-file=" + pki("sa.pub"), "--service-account-signing-key-file=" + pki("sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-cluster-ip-range=" + ServiceClusterCIDR,
		"--authorization-mode=RBAC", "--allow-privileged=true",
		// Loopback addresses are not valid endpoints; nothing in the sandbox needs
		// the "kubernetes" Service's endpoints.
		"--endpoint-reconciler-type=none",
		"--profiling=false", "--v=1",
	}}); err != nil {
		return err
	}
	if err := waitAPIServer(ctx, c, 90*time.Second); err != nil {
		return err
	}
	kc := c.Kubeconfig()
	common := []string{"--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc, "--authorization-kubeconfig=" + kc,
		"--bind-address=127.0.0.1", "--leader-elect=false", "--profiling=false", "--v=1"}
	if _, err := c.Start(Proc{Name: "kube-controller-manager", Args: append([]string{filepath.Join(bin, "kube-controller-manager"),
		"--secure-port=" + strconv.Itoa(c.ControllerMgrPort()),
		"--service-account-private-key-file=" + pki("sa.key"), "--root-ca-file=" + pki("ca.crt"),
		"--cluster-signing-cert-file=" + pki("ca.crt"), "--cluster-signing-key-file=" + pki("ca.key"),
		"--use-service-account-credentials=false", "--allocate-node-cidrs=false",
		"--controllers=*,-node-ipam-controller",
	}, common...)}); err != nil {
		return err
	}
	_, err := c.Start(Proc{Name: "kube-scheduler", Args: append([]string{filepath.Join(bin, "kube-scheduler"),
		"--secure-port=" + strconv.Itoa(c.SchedulerPort())}, common...)})
	return err
}

// waitAPIServer polls the apiserver's /readyz with the admin credentials.
func waitAPIServer(ctx context.Context, c Config, timeout time.Duration) error {
	client, err := adminHTTPClient(c)
	if err != nil {
		return err
	}
	url := fmt.Sprintf("https://127.0.0.1:%d/readyz", c.APIServerPort())
	return waitFor(ctx, "kube-apiserver /readyz", timeout, func() (bool, error) { return httpOK(client, url) })
}

func adminHTTPClient(c Config) (*http.Client, error) {
	caPEM, err := os.ReadFile(c.pkiDir("ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(c.pkiDir("admin.crt"), c.pkiDir("admin.key"))
	if err != nil {
		return nil, err
	}
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}, nil
}

func httpOK(client *http.Client, url string) (bool, error) {
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Second}
	}
	resp, err := client.Get(url)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("%s: %s: %s", url, resp.Status, body)
	}
	return true, nil
}
