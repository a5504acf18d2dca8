package kind

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spklab/spklab/lab/steps"
	"github.com/spklab/spklab/topology/render"
)

// nadResource is the NAD kind for kubectl (its CRD comes with Multus).
const nadResource = "network-attachment-definitions.k8s.cni.cncf.io"

// AttachmentsStep is the TMM pod's NetworkAttachmentDefinitions
// (render.NADs), server-side applied with their namespace.
type AttachmentsStep struct{ l *Lab }

// Name is the step's name.
func (AttachmentsStep) Name() string { return "attachments" }

// nadConfigs returns the spec.config of each NAD in the namespace.
func (l *Lab) nadConfigs(ctx context.Context, ns string) (map[string]string, error) {
	out, err := l.Kubectl(ctx, nil, "-n", ns, "get", nadResource, "-o", "json", "--request-timeout=10s")
	if err != nil {
		return nil, err
	}
	var list struct {
		Items []struct {
			Metadata struct{ Name string }   `json:"metadata"`
			Spec     struct{ Config string } `json:"spec"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("parsing NADs: %w", err)
	}
	got := map[string]string{}
	for _, it := range list.Items {
		got[it.Metadata.Name] = it.Spec.Config
	}
	return got, nil
}

// Check compares every NAD's config with the topology's.
func (s AttachmentsStep) Check(ctx context.Context) steps.Status {
	nads := render.NADs(s.l.Topo)
	got, err := s.l.nadConfigs(ctx, s.l.Topo.SPK.Namespace)
	if err != nil {
		return steps.Status{State: steps.NotDone, Reason: "cannot list NADs: " + err.Error()}
	}
	for _, nad := range nads {
		cfg, ok := got[nad.Name]
		if !ok {
			return steps.Status{State: steps.NotDone, Reason: fmt.Sprintf("no NAD %s/%s", nad.Namespace, nad.Name)}
		}
		if cfg != nad.Spec.Config {
			return steps.Status{State: steps.Broken, Reason: fmt.Sprintf("NAD %s/%s config %s, want %s", nad.Namespace, nad.Name, cfg, nad.Spec.Config)}
		}
	}
	return steps.Status{State: steps.Done, Reason: fmt.Sprintf("%d NADs in %s", len(nads), s.l.Topo.SPK.Namespace)}
}

// namespaceYAML is the NADs' namespace, labelled as the lab's.
func (l *Lab) namespaceYAML() []byte {
	return fmt.Appendf(nil, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels:\n    %s: %s\n",
		l.Topo.SPK.Namespace, render.LabelLab, l.Topo.Cluster.Name)
}

// Apply server-side applies the namespace and the NADs.
func (s AttachmentsStep) Apply(ctx context.Context) error {
	nads, err := render.NADsYAML(s.l.Topo)
	if err != nil {
		return fmt.Errorf("rendering NADs: %w", err)
	}
	for _, doc := range [][]byte{s.l.namespaceYAML(), nads} {
		if _, err := s.l.Kubectl(ctx, doc, "apply", "--server-side", "--force-conflicts", "--field-manager="+FieldManager, "-f", "-"); err != nil {
			return fmt.Errorf("applying NADs: %w", err)
		}
	}
	return nil
}

// Destroy deletes the NADs (the namespace stays: later steps use it and
// deleting the cluster removes it).
func (s AttachmentsStep) Destroy(ctx context.Context) error {
	if _, err := s.l.controlPlane(); err != nil {
		return nil // no cluster, no NADs
	}
	for _, nad := range render.NADs(s.l.Topo) {
		_, err := s.l.Kubectl(ctx, nil, "-n", nad.Namespace, "delete", nadResource, nad.Name, "--ignore-not-found")
		if err != nil && strings.Contains(err.Error(), "doesn't have a resource type") {
			return nil // no NAD CRD, no NADs
		}
		if err != nil {
			return fmt.Errorf("deleting NAD %s: %w", nad.Name, err)
		}
	}
	return nil
}
