package webhook

import (
	"fmt"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/utils/ptr"
)

// Name of the ValidatingWebhookConfiguration.
const ConfigurationName = "kvnet-webhook"

// Paths the handlers are served on.
const (
	PathSubnet = "/validate-kubeovn-io-v1-subnet"
	PathIPPool = "/validate-kubeovn-io-v1-ippool"
	PathPod    = "/validate-v1-pod"
	PathVM     = "/validate-kubevirt-io-vm"
)

// Timeouts (seconds) the API server waits for an answer. A Subnet or
// IPPool request fails when the webhook does not answer (failurePolicy
// Fail): those objects are rare, written by administrators, and refusing
// one is harmless, while admitting a bad one strands addresses. Pods and
// VMs are created all the time by every workload in the cluster, so their
// webhooks use failurePolicy Ignore and a short timeout: a kvnet-controller
// outage must never block pod creation cluster-wide; the controller
// re-checks everything it allocates and reports a conflict as a Warning
// event on the pod (and its VM).
const (
	TimeoutSubnet int32 = 5
	TimeoutPod    int32 = 3
)

// ClientConfig returns how the API server reaches the handler at path.
type ClientConfig func(path string) admissionv1.WebhookClientConfig

// ServiceClientConfig reaches the webhook through a Service (a real cluster).
func ServiceClientConfig(namespace, name string, port int32, caBundle []byte) ClientConfig {
	return func(path string) admissionv1.WebhookClientConfig {
		return admissionv1.WebhookClientConfig{
			Service:  &admissionv1.ServiceReference{Namespace: namespace, Name: name, Path: ptr.To(path), Port: ptr.To(port)},
			CABundle: caBundle,
		}
	}
}

// URLClientConfig reaches the webhook at base ("https://127.0.0.1:16448"),
// as the sandbox does: its API server runs on the host, not in a pod network.
func URLClientConfig(base string, caBundle []byte) ClientConfig {
	return func(path string) admissionv1.WebhookClientConfig {
		return admissionv1.WebhookClientConfig{URL: ptr.To(base + path), CABundle: caBundle}
	}
}

// ConfigOptions shape the ValidatingWebhookConfiguration.
type ConfigOptions struct {
	// Client says how to reach the handlers.
	Client ClientConfig
	// ControllerUser, when set, is the user name of kvnet-controller
	// ("system:serviceaccount:kube-system:kvnet-controller"). Its own Subnet
	// and IPPool writes (the default subnets it creates at start, the
	// defaults it fills into a spec) skip the webhook, so a controller
	// starting on a fresh cluster does not wait on its own webhook.
	ControllerUser string
}

// Configuration is the ValidatingWebhookConfiguration that registers every
// handler of this package. config/deploy/webhook.yaml is the same object
// for a real cluster (a test keeps the two equal).
func Configuration(o ConfigOptions) *admissionv1.ValidatingWebhookConfiguration {
	none := admissionv1.SideEffectClassNone
	var skipController []admissionv1.MatchCondition
	if o.ControllerUser != "" {
		skipController = []admissionv1.MatchCondition{{
			Name:       "not-kvnet-controller",
			Expression: fmt.Sprintf("request.userInfo.username != %q", o.ControllerUser),
		}}
	}
	hook := func(name, path string, policy admissionv1.FailurePolicyType, timeout int32, match []admissionv1.MatchCondition, rules ...admissionv1.RuleWithOperations) admissionv1.ValidatingWebhook {
		return admissionv1.ValidatingWebhook{
			Name:                    name,
			ClientConfig:            o.Client(path),
			Rules:                   rules,
			FailurePolicy:           ptr.To(policy),
			MatchPolicy:             ptr.To(admissionv1.Equivalent),
			SideEffects:             &none,
			TimeoutSeconds:          ptr.To(timeout),
			AdmissionReviewVersions: []string{"v1"},
			MatchConditions:         match,
		}
	}
	rule := func(group string, versions, resources []string, ops ...admissionv1.OperationType) admissionv1.RuleWithOperations {
		return admissionv1.RuleWithOperations{Operations: ops, Rule: admissionv1.Rule{
			APIGroups: []string{group}, APIVersions: versions, Resources: resources, Scope: ptr.To(admissionv1.AllScopes),
		}}
	}
	create, update := admissionv1.Create, admissionv1.Update
	kubevirt := []string{"v1", "v1alpha3"}
	cfg := &admissionv1.ValidatingWebhookConfiguration{
		Webhooks: []admissionv1.ValidatingWebhook{
			hook("subnet.webhook.kvnet.io", PathSubnet, admissionv1.Fail, TimeoutSubnet, skipController,
				rule("kubeovn.io", []string{"v1"}, []string{"subnets"}, create, update)),
			hook("ippool.webhook.kvnet.io", PathIPPool, admissionv1.Fail, TimeoutSubnet, skipController,
				rule("kubeovn.io", []string{"v1"}, []string{"ippools"}, create, update)),
			hook("pod.webhook.kvnet.io", PathPod, admissionv1.Ignore, TimeoutPod, nil,
				rule("", []string{"v1"}, []string{"pods"}, create)),
			hook("vm.webhook.kvnet.io", PathVM, admissionv1.Ignore, TimeoutPod, nil,
				rule("kubevirt.io", kubevirt, []string{"virtualmachines"}, create, update),
				rule("kubevirt.io", kubevirt, []string{"virtualmachineinstances"}, create)),
		},
	}
	cfg.APIVersion, cfg.Kind = "admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"
	cfg.Name = ConfigurationName
	return cfg
}
