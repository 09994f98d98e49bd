package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kvwebhook "github.com/kvnet/kvnet/internal/webhook"
)

// The deploy manifest registers exactly what the code defines.
func TestDeployManifestMatchesConfiguration(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(), "config", "deploy", "webhook.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var got admissionv1.ValidatingWebhookConfiguration
	if err := yaml.UnmarshalStrict(data, &got); err != nil {
		t.Fatal(err)
	}
	want := kvwebhook.Configuration(kvwebhook.ConfigOptions{
		Client:         kvwebhook.ServiceClientConfig("kube-system", "kvnet-webhook", 443, nil),
		ControllerUser: "system:serviceaccount:kube-system:kvnet-controller",
	})
	if got.Name != want.Name || !equality.Semantic.DeepEqual(got.Webhooks, want.Webhooks) {
		b, _ := yaml.Marshal(want.Webhooks)
		t.Fatalf("config/deploy/webhook.yaml differs from webhook.Configuration; want webhooks:\n%s", b)
	}
	if got.Annotations["cert-manager.io/inject-ca-from"] != "kube-system/kvnet-webhook" {
		t.Errorf("CA injection annotation missing")
	}
}

// Every object of config/deploy is accepted by a real API server
// (server-side dry run), except kinds of add-ons envtest does not have.
func TestDeployManifestsAreValid(t *testing.T) {
	needEnv(t)
	files, _ := filepath.Glob(filepath.Join(repoRoot(), "config", "deploy", "*.yaml"))
	if len(files) < 4 {
		t.Fatalf("config/deploy has %d manifests", len(files))
	}
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				t.Fatalf("%s: %v", f, err)
			}
			if len(u.Object) == 0 || u.GroupVersionKind().Group == "cert-manager.io" {
				continue
			}
			obj := u.DeepCopy()
			if obj.GetKind() == "ValidatingWebhookConfiguration" {
				obj.SetName(obj.GetName() + "-dry-run") // the tests' own is installed under the real name
			}
			if err := k8s.Create(context.Background(), obj, client.DryRunAll); err != nil {
				t.Errorf("%s: %s %s: %v", filepath.Base(f), u.GetKind(), u.GetName(), err)
			}
			n++
		}
	}
	if n < 10 {
		t.Errorf("only %d objects checked", n)
	}
}
