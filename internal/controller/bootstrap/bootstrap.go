package bootstrap

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubeovnv1 "github.com/kvnet/kvnet/api/v1"
)

// Defaults names and addresses the default objects.
type Defaults struct {
	Vpc                  string
	Subnet, CIDR, Gw     string
	ExcludeIPs           []string
	JoinSubnet, JoinCIDR string
	JoinGw               string
}

// Runnable creates the default objects once the manager runs on the leader.
type Runnable struct {
	Client   client.Client
	Defaults Defaults
	Log      logr.Logger
}

// NeedLeaderElection: only the leader writes.
func (b *Runnable) NeedLeaderElection() bool { return true }

// Start creates what is missing and returns.
func (b *Runnable) Start(ctx context.Context) error { return Ensure(ctx, b.Client, b.Defaults, b.Log) }

// Objects returns the default objects.
func Objects(d Defaults) []client.Object {
	return []client.Object{
		&kubeovnv1.Vpc{ObjectMeta: metav1.ObjectMeta{Name: d.Vpc}},
		&kubeovnv1.Subnet{
			ObjectMeta: metav1.ObjectMeta{Name: d.Subnet},
			Spec: kubeovnv1.SubnetSpec{CIDRBlock: d.CIDR, Gateway: d.Gw, ExcludeIPs: d.ExcludeIPs,
				Default: true, Vpc: d.Vpc, Provider: "ovn", GatewayType: "distributed", NatOutgoing: true},
		},
		&kubeovnv1.Subnet{
			ObjectMeta: metav1.ObjectMeta{Name: d.JoinSubnet},
			Spec: kubeovnv1.SubnetSpec{CIDRBlock: d.JoinCIDR, Gateway: d.JoinGw,
				Vpc: d.Vpc, Provider: "ovn", GatewayType: "distributed"},
		},
	}
}

// Ensure creates each default object that does not exist.
func Ensure(ctx context.Context, c client.Client, d Defaults, log logr.Logger) error {
	for _, o := range Objects(d) {
		err := c.Create(ctx, o)
		switch {
		case err == nil:
			log.Info("created default object", "kind", fmt.Sprintf("%T", o), "name", o.GetName())
		case apierrors.IsAlreadyExists(err):
		default:
			return fmt.Errorf("create default %s: %w", o.GetName(), err)
		}
	}
	return nil
}
