package main

import (
	"context"
	"flag"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/kvnet/kvnet/internal/controller/bootstrap"
	kvwebhook "github.com/kvnet/kvnet/internal/webhook"
)

// webhookFlags configure the validating admission webhook server.
type webhookFlags struct {
	port    int
	host    string
	certDir string
}

func (w *webhookFlags) bind(fs *flag.FlagSet) {
	fs.IntVar(&w.port, "webhook-port", 0, "port of the validating admission webhook (TLS); 0 disables it")
	fs.StringVar(&w.host, "webhook-host", "", "address the webhook listens on (default: all)")
	fs.StringVar(&w.certDir, "webhook-cert-dir", "/etc/kvnet/webhook-certs", "directory holding the webhook's tls.crt and tls.key (reloaded when they change)")
}

// setupWebhook serves the admission webhook from this process when a port
// is given. It runs on every replica, not only the leader, so a Service in
// front of the controller pods always has an answering endpoint.
func setupWebhook(ctx context.Context, mgr ctrl.Manager, w webhookFlags, d bootstrap.Defaults, keepVMIP bool) error {
	if w.port == 0 {
		return nil
	}
	srv := webhook.NewServer(webhook.Options{Host: w.host, Port: w.port, CertDir: w.certDir})
	if err := kvwebhook.Setup(ctx, mgr, srv, kvwebhook.Options{
		DefaultVpc: d.Vpc, DefaultSubnet: d.Subnet, JoinSubnet: d.JoinSubnet, KeepVMIP: keepVMIP,
	}); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	if err := mgr.Add(srv); err != nil {
		return fmt.Errorf("webhook server: %w", err)
	}
	return mgr.AddReadyzCheck("webhook", srv.StartedChecker())
}
