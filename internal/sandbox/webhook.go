package sandbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kvnet/kvnet/internal/webhook"
)

// WebhookCertDir holds the serving certificate of kvnet-controller's
// admission webhook as tls.crt and tls.key (signed by the sandbox CA).
func (c Config) WebhookCertDir() string { return c.Path("webhook-certs") }

// WebhookURL is where the API server reaches the webhook: the controller
// runs on the host, so the sandbox registers a URL, not a Service.
func (c Config) WebhookURL() string { return fmt.Sprintf("https://127.0.0.1:%d", c.WebhookPort()) }

// webhookArgs makes sure the webhook's certificate exists and returns the
// controller flags that serve the webhook on loopback.
func webhookArgs(c Config) ([]string, error) {
	if err := ensureWebhookCert(c); err != nil {
		return nil, fmt.Errorf("webhook certificate: %w", err)
	}
	return []string{
		fmt.Sprintf("--webhook-port=%d", c.WebhookPort()),
		"--webhook-host=127.0.0.1",
		"--webhook-cert-dir=" + c.WebhookCertDir(),
	}, nil
}

func ensureWebhookCert(c Config) error {
	dir := c.WebhookCertDir()
	crtPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if _, err := os.Stat(keyPath); err == nil {
		return nil
	}
	crt, key, err := IssueServingCert(c, "webhook", []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for src, dst := range map[string]string{crt: crtPath, key: keyPath} {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// RegisterWebhook waits until kvnet-controller serves its webhook with the
// sandbox CA's certificate, then creates (or updates) the
// ValidatingWebhookConfiguration pointing at it. Registering only once it
// answers keeps Subnet writes (failurePolicy Fail) from failing while the
// controller starts.
func RegisterWebhook(ctx context.Context, c Config) error {
	ca, err := os.ReadFile(c.pkiDir("ca.crt"))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	addr := fmt.Sprintf("127.0.0.1:%d", c.WebhookPort())
	err = waitFor(ctx, "kvnet-controller's webhook on "+addr, 60*time.Second, func() (bool, error) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
		if err != nil {
			return false, err
		}
		conn.Close()
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("%w (log %s)", err, c.LogFile("kvnet-controller"))
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(webhook.Configuration(webhook.ConfigOptions{
		Client: webhook.URLClientConfig(c.WebhookURL(), ca),
	}))
	if err != nil {
		return err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
	if err != nil {
		return err
	}
	cl, err := client.New(rc, client.Options{})
	if err != nil {
		return err
	}
	return applyOne(ctx, cl, &unstructured.Unstructured{Object: obj})
}
