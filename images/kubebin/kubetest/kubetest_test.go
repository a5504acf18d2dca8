package kubetest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// rangeCRD has a CEL rule, so only a real API server (not a fake client)
// rejects a bad object with the rule's message. The empty documents are
// there on purpose: ParseCRDs must skip them.
const rangeCRD = `---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ranges.test.spklab.io
spec:
  group: test.spklab.io
  scope: Namespaced
  names: {plural: ranges, singular: range, kind: Range, listKind: RangeList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [min, max]
            properties:
              min: {type: integer}
              max: {type: integer}
            x-kubernetes-validations:
            - rule: self.min <= self.max
              message: min must not exceed max
---
---
`

func rangeObject(ns, name string, min, max int64) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{"min": min, "max": max},
	}}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: "test.spklab.io", Version: "v1", Kind: "Range"})
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

func TestStartRealAPIServer(t *testing.T) {
	begin := time.Now()
	env := Start(t, Options{CRDYAML: [][]byte{[]byte(rangeCRD)}})
	t.Logf("Start took %v (binaries cached unless built above)", time.Since(begin).Round(time.Millisecond))
	ctx := t.Context()

	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	v, err := dc.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != "v1.32.0" || v.Major != "1" || v.Minor != "32" {
		t.Fatalf("/version = %+v, want v1.32.0", v)
	}

	if len(env.CRDs) != 1 || !established(env.CRDs[0]) {
		t.Fatalf("installed CRDs %d, want the one established", len(env.CRDs))
	}

	ns := env.Namespace(t)
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "settings"},
		Data:       map[string]string{"vlan": "external"},
	}
	if err := env.Client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	got := &corev1.ConfigMap{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(cm), got); err != nil {
		t.Fatal(err)
	}
	if got.Data["vlan"] != "external" || got.UID == "" {
		t.Fatalf("read back %+v", got)
	}

	if err := env.Client.Create(ctx, rangeObject(ns, "good", 1, 2)); err != nil {
		t.Fatalf("a valid Range was rejected: %v", err)
	}
	err = env.Client.Create(ctx, rangeObject(ns, "bad", 5, 2))
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "min must not exceed max") {
		t.Fatalf("Range with min > max: got %v, want Invalid with the CEL rule's message", err)
	}

	// The kubeconfig file works for a separate client (as tools would use it).
	restCfg, err := clientcmd.BuildConfigFromFlags("", env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	viaFile, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("kubeconfig client: %v", err)
	}
	if viaFile.UID != got.UID {
		t.Fatalf("kubeconfig client read UID %s, want %s", viaFile.UID, got.UID)
	}
}

// TestSharedLifecycle covers what RunShared does in a TestMain: start
// without a test, use, Stop; after Stop nothing answers and the temp files
// are gone.
func TestSharedLifecycle(t *testing.T) {
	env, err := StartShared(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = env.Stop()
		}
	})
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shared"}}
	if err := env.Client.Create(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(env.Kubeconfig); err != nil {
		t.Fatal(err)
	}
	if err := env.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if _, err := os.Stat(env.Kubeconfig); !os.IsNotExist(err) {
		t.Fatalf("kubeconfig still there after Stop: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(ns), &corev1.Namespace{}); err == nil {
		t.Fatal("the API server still answers after Stop")
	}
}

func TestParseCRDs(t *testing.T) {
	crds, err := ParseCRDs([]byte(rangeCRD + rangeCRD))
	if err != nil {
		t.Fatal(err)
	}
	if len(crds) != 2 || crds[0].Name != "ranges.test.spklab.io" {
		t.Fatalf("parsed %d CRDs, first %q", len(crds), crds[0].Name)
	}
	rule := crds[0].Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].XValidations
	if len(rule) != 1 || rule[0].Rule != "self.min <= self.max" {
		t.Fatalf("CEL rule not parsed: %+v", rule)
	}
	if _, err := ParseCRDs([]byte(rangeCRD + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")); err == nil || !strings.Contains(err.Error(), `document 2 ("x") is v1 ConfigMap`) {
		t.Fatalf("a ConfigMap among CRDs: err %v", err)
	}
	if _, err := ParseCRDs([]byte("kind: [")); err == nil {
		t.Fatal("broken YAML parsed")
	}
}
