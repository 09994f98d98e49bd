package kubevirt

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// NewScheme registers core types and KubeVirt's types under kubevirt.io/v1
// only: kubevirt.io/api registers the same Go types for v1alpha3 too, which
// makes the type-to-version mapping ambiguous for a client.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := corev1.AddToScheme(s); err != nil {
		return nil, err
	}
	s.AddKnownTypes(kubevirtv1.GroupVersion,
		&kubevirtv1.VirtualMachine{}, &kubevirtv1.VirtualMachineList{},
		&kubevirtv1.VirtualMachineInstance{}, &kubevirtv1.VirtualMachineInstanceList{},
		&kubevirtv1.VirtualMachineInstanceMigration{}, &kubevirtv1.VirtualMachineInstanceMigrationList{},
	)
	metav1.AddToGroupVersion(s, kubevirtv1.GroupVersion)
	return s, nil
}
