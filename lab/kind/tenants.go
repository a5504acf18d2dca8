package kind

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spklab/spklab/lab/steps"
	"github.com/spklab/spklab/spk"
	"github.com/spklab/spklab/topology/render"
)

// programmedWait bounds the wait for every CR to be Programmed.
const programmedWait = 3 * time.Minute

// TenantsStep is the tenants (namespaces, app Deployments, Services) and
// the SPK CRs of the topology (VLANs, snatpools, egresses, ingresses),
// every CR Accepted and Programmed by the controller.
type TenantsStep struct{ l *Lab }

// Name is the step's name.
func (TenantsStep) Name() string { return "tenants" }

// CRsYAML is the topology's SPK CRs as one YAML stream.
func (l *Lab) CRsYAML() ([]byte, error) {
	return spk.FromTopology(l.Topo).YAML()
}

// crState is one CR as `kubectl get -o json` shows it.
type crState struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name       string `json:"name"`
		Namespace  string `json:"namespace"`
		Generation int64  `json:"generation"`
	} `json:"metadata"`
	Status struct {
		Conditions []struct {
			Type, Status, Reason, Message string
			ObservedGeneration            int64 `json:"observedGeneration"`
		} `json:"conditions"`
	} `json:"status"`
}

// condition returns a condition's status and message ("" when absent).
func (c crState) condition(typ string) (status, message string) {
	for _, cond := range c.Status.Conditions {
		if cond.Type == typ {
			return cond.Status, cond.Message
		}
	}
	return "", ""
}

func (c crState) String() string {
	return c.Kind + " " + c.Metadata.Namespace + "/" + c.Metadata.Name
}

// CRStates reads the topology's CRs back from the cluster.
func (l *Lab) crStates(ctx context.Context) ([]crState, error) {
	crs, err := l.CRsYAML()
	if err != nil {
		return nil, err
	}
	out, err := l.Kubectl(ctx, crs, "get", "-f", "-", "-o", "json", "--request-timeout=10s")
	if err != nil {
		return nil, err
	}
	var list struct {
		Items []crState `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("parsing the CRs: %w", err)
	}
	return list.Items, nil
}

// Check wants every tenant Deployment available and every CR Programmed.
func (s TenantsStep) Check(ctx context.Context) steps.Status {
	l := s.l
	for _, tn := range l.Topo.Tenants {
		out, err := l.Kubectl(ctx, nil, "-n", tn.Namespace, "get", "deployment", tn.Deployment,
			"-o", "jsonpath={.status.availableReplicas}", "--request-timeout=10s")
		if err != nil {
			return steps.Status{State: steps.NotDone, Reason: fmt.Sprintf("no Deployment %s/%s", tn.Namespace, tn.Deployment)}
		}
		if out != fmt.Sprint(tn.Replicas) {
			return steps.Status{State: steps.Broken, Reason: fmt.Sprintf("Deployment %s/%s has %q of %d replicas available", tn.Namespace, tn.Deployment, out, tn.Replicas)}
		}
	}
	ns, err := l.Nodes()
	if err != nil {
		return steps.Status{State: steps.Broken, Reason: err.Error()}
	}
	stale, err := l.staleImages(ctx, ns, []string{l.Topo.Images.App})
	if err != nil {
		return steps.Status{State: steps.Broken, Reason: err.Error()}
	}
	if len(stale) > 0 {
		return steps.Status{State: steps.NotDone, Reason: staleText(stale)}
	}
	crs, err := l.crStates(ctx)
	if err != nil {
		return steps.Status{State: steps.NotDone, Reason: "CRs missing: " + lastLine(err.Error())}
	}
	for _, c := range crs {
		if st, msg := c.condition("Programmed"); st != "True" {
			return steps.Status{State: steps.Broken, Reason: fmt.Sprintf("%s is not Programmed: %s", c, msg)}
		}
	}
	return steps.Status{State: steps.Done, Reason: fmt.Sprintf("%d tenants ready, %d CRs Programmed", len(l.Topo.Tenants), len(crs))}
}

// Apply loads the app image, applies the tenants and the CRs and waits for
// the pods and for Programmed.
func (s TenantsStep) Apply(ctx context.Context) error {
	l := s.l
	ns, err := l.Nodes()
	if err != nil {
		return err
	}
	stale, err := l.staleImages(ctx, ns, []string{l.Topo.Images.App})
	if err != nil {
		return err
	}
	if err := l.loadStale(ctx, ns, stale); err != nil {
		return err
	}
	tenants, err := render.TenantsYAML(l.Topo)
	if err != nil {
		return err
	}
	if _, err := l.Kubectl(ctx, tenants, "apply", "--server-side", "--force-conflicts", "--field-manager="+FieldManager, "-f", "-"); err != nil {
		return fmt.Errorf("applying the tenants: %w", err)
	}
	crs, err := l.CRsYAML()
	if err != nil {
		return err
	}
	if _, err := l.Kubectl(ctx, crs, "apply", "--server-side", "--force-conflicts", "--field-manager="+FieldManager, "-f", "-"); err != nil {
		return fmt.Errorf("applying the SPK CRs: %w", err)
	}
	for _, tn := range l.Topo.Tenants {
		// A rebuilt app image keeps its tag: restart the pods onto it.
		if rebuilt(stale) {
			if _, err := l.Kubectl(ctx, nil, "-n", tn.Namespace, "rollout", "restart", "deployment/"+tn.Deployment); err != nil {
				return fmt.Errorf("restarting tenant %s for its rebuilt image: %w", tn.Namespace, err)
			}
		}
		if _, err := l.Kubectl(ctx, nil, "-n", tn.Namespace, "rollout", "status", "deployment/"+tn.Deployment,
			fmt.Sprintf("--timeout=%ds", int(programmedWait.Seconds()))); err != nil {
			return fmt.Errorf("waiting for tenant %s: %w", tn.Namespace, err)
		}
	}
	if _, err := l.Kubectl(ctx, crs, "wait", "--for=condition=Programmed", "-f", "-",
		fmt.Sprintf("--timeout=%ds", int(programmedWait.Seconds()))); err != nil {
		return fmt.Errorf("waiting for the CRs to be Programmed: %w%s", err, l.notProgrammed(ctx))
	}
	return nil
}

// notProgrammed explains which CRs are not Programmed and why.
func (l *Lab) notProgrammed(ctx context.Context) string {
	crs, err := l.crStates(ctx)
	if err != nil {
		return ""
	}
	var parts []string
	for _, c := range crs {
		if st, msg := c.condition("Programmed"); st != "True" {
			parts = append(parts, fmt.Sprintf("%s: %s", c, msg))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, "; ")
}

// Destroy deletes the CRs, then the tenant namespaces (when the cluster
// still runs).
func (s TenantsStep) Destroy(ctx context.Context) error {
	l := s.l
	if _, err := l.controlPlane(); err != nil {
		return nil
	}
	crs, err := l.CRsYAML()
	if err != nil {
		return err
	}
	if _, err := l.Kubectl(ctx, crs, "delete", "--ignore-not-found", "-f", "-"); err != nil && !crdsMissing(err) {
		return fmt.Errorf("deleting the SPK CRs: %w", err)
	}
	tenants, err := render.TenantsYAML(l.Topo)
	if err != nil {
		return err
	}
	if _, err := l.Kubectl(ctx, tenants, "delete", "--ignore-not-found", "-f", "-"); err != nil {
		return fmt.Errorf("deleting the tenants: %w", err)
	}
	return nil
}

// crdsMissing reports a kubectl error saying the SPK CRDs are not installed.
func crdsMissing(err error) bool {
	s := err.Error()
	return strings.Contains(s, "no matches for kind") || strings.Contains(s, "doesn't have a resource type")
}
