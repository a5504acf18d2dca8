package spkchart

import (
	"context"
	"fmt"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
)

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// fieldManager owns what spklab applies server-side.
const fieldManager = "spklab"

// CRDs are the CustomResourceDefinitions in the chart's crds/.
func CRDs(ch *chart.Chart) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, f := range ch.CRDObjects() {
		objs, err := decodeObjects(string(f.File.Data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		for _, o := range objs {
			if o.GetKind() != "CustomResourceDefinition" {
				return nil, fmt.Errorf("%s: %s %s is not a CustomResourceDefinition", f.Name, o.GetKind(), o.GetName())
			}
			out = append(out, o)
		}
	}
	return out, nil
}

// applyCRDs creates or updates the chart's CRDs by server-side apply and
// waits until the API server serves them.
func (c *Client) applyCRDs(ctx context.Context, ch *chart.Chart) error {
	crds, err := CRDs(ch)
	if err != nil || len(crds) == 0 {
		return err
	}
	dyn, err := dynamic.NewForConfig(burstConfig(c.config))
	if err != nil {
		return fmt.Errorf("CRDs: %w", err)
	}
	client := dyn.Resource(crdResource)
	start := time.Now()
	for _, crd := range crds {
		// Force: an earlier helm install or kubectl apply may own fields.
		if _, err := client.Apply(ctx, crd.GetName(), crd, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
			return fmt.Errorf("applying CRD %s: %w", crd.GetName(), err)
		}
	}
	for _, crd := range crds {
		if err := waitEstablished(ctx, client, crd.GetName(), c.opts.Timeout); err != nil {
			return err
		}
	}
	c.log.Info("SPK CRDs applied and established", "count", len(crds), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// waitEstablished waits for a CRD's Established and NamesAccepted
// conditions; on timeout it says which conditions were not true.
func waitEstablished(ctx context.Context, client dynamic.ResourceInterface, name string, timeout time.Duration) error {
	var missing []string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		obj, err := client.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		missing = notTrue(obj, "Established", "NamesAccepted")
		return len(missing) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("CRD %s: waiting for %s: %w", name, strings.Join(missing, " and "), err)
	}
	return nil
}

// notTrue lists the wanted conditions that are not status True.
func notTrue(obj *unstructured.Unstructured, want ...string) []string {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	status := map[string]string{}
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok {
			t, _ := m["type"].(string)
			s, _ := m["status"].(string)
			status[t] = s
		}
	}
	var out []string
	for _, w := range want {
		if status[w] != "True" {
			out = append(out, w)
		}
	}
	return out
}
