package vm

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kvnet/kvnet/internal/controller/kubevirt"
)

// Liveness decides whether a VM key still holds its addresses.
type Liveness struct {
	// Client reads the cache; APIReader confirms before anything is released.
	Client    client.Reader
	APIReader client.Reader
	KeepVMIP  bool
}

// Alive reports whether the VM namespace/name keeps its addresses: with
// KeepVMIP while the VirtualMachine exists (running or stopped) or, for a
// VMI created without a VM, while the VMI exists; otherwise while the VMI
// exists. An object being deleted no longer counts. "Gone" is confirmed
// against the API server, never taken from a cache that may lag a create.
func (l *Liveness) Alive(ctx context.Context, namespace, name string) (bool, error) {
	alive, err := l.alive(ctx, l.Client, namespace, name)
	if err != nil || alive || l.APIReader == nil {
		return alive, err
	}
	return l.alive(ctx, l.APIReader, namespace, name)
}

func (l *Liveness) alive(ctx context.Context, r client.Reader, namespace, name string) (bool, error) {
	vm, vmi, err := getVM(ctx, r, namespace, name)
	if err != nil {
		return false, err
	}
	return aliveBy(l.KeepVMIP, vm, vmi), nil
}

// aliveBy is the rule of Alive on the objects found (nil: none).
func aliveBy(keep bool, vm *kubevirtv1.VirtualMachine, vmi *kubevirtv1.VirtualMachineInstance) bool {
	vmiUp := vmi != nil && vmi.DeletionTimestamp == nil
	if !keep {
		return vmiUp
	}
	if vm != nil {
		return vm.DeletionTimestamp == nil
	}
	return vmiUp && !kubevirt.ControlledByVM(vmi)
}

func getVM(ctx context.Context, r client.Reader, namespace, name string) (*kubevirtv1.VirtualMachine, *kubevirtv1.VirtualMachineInstance, error) {
	key := client.ObjectKey{Namespace: namespace, Name: name}
	vm := &kubevirtv1.VirtualMachine{}
	if err := r.Get(ctx, key, vm); apierrors.IsNotFound(err) {
		vm = nil
	} else if err != nil {
		return nil, nil, fmt.Errorf("get vm %s: %w", key, err)
	}
	vmi := &kubevirtv1.VirtualMachineInstance{}
	if err := r.Get(ctx, key, vmi); apierrors.IsNotFound(err) {
		vmi = nil
	} else if err != nil {
		return nil, nil, fmt.Errorf("get vmi %s: %w", key, err)
	}
	return vm, vmi, nil
}
