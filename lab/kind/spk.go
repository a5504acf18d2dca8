package kind

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/spklab/spklab/lab/steps"
	"github.com/spklab/spklab/manifests/spkchart"
	"github.com/spklab/spklab/topology"
)

// rolloutWait bounds the wait for the SPK workloads after the chart.
const rolloutWait = 4 * time.Minute

// The chart's workloads, as `kubectl rollout status` names them.
var spkWorkloads = []string{"statefulset/f5-tmm", "deployment/spk-controller", "daemonset/spk-node"}

// SPKStep is the emulated SPK: our images in the nodes, the TMM nodes
// labelled and tainted, the Helm chart installed with the topology's
// values, and its workloads rolled out.
type SPKStep struct{ l *Lab }

// Name is the step's name.
func (SPKStep) Name() string { return "spk" }

// SPKImages are the images the chart runs (the topology's refs).
func (l *Lab) SPKImages() []string {
	return []string{l.Topo.Images.TMM, l.Topo.Images.Controller, l.Topo.Images.NodeAgent}
}

// RESTConfig is the cluster's client config from the kubeconfig, with the
// lab's context whatever the current one is.
func (l *Lab) RESTConfig() (*rest.Config, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: l.KubeconfigPath()}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: l.KubeContext()}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s, context %s: %w", l.KubeconfigPath(), l.KubeContext(), err)
	}
	return cfg, nil
}

func (l *Lab) chart() (*spkchart.Client, error) {
	cfg, err := l.RESTConfig()
	if err != nil {
		return nil, err
	}
	return spkchart.New(cfg, spkchart.Options{Namespace: l.Topo.SPK.Namespace, Log: l.Log, Timeout: rolloutWait})
}

// tmmNodeProblems says which TMM nodes lack the label or the taint.
func tmmNodeProblems(t *topology.Topology, ns []nodeInfo) []string {
	key, value, _ := topology.SplitLabel(t.Cluster.TMMNodeLabel)
	var out []string
	for _, name := range t.Cluster.TMMNodes {
		i := slices.IndexFunc(ns, func(n nodeInfo) bool { return n.Name == name })
		switch {
		case i < 0:
			out = append(out, name+" is not registered")
		case ns[i].Labels[key] != value:
			out = append(out, name+" lacks label "+t.Cluster.TMMNodeLabel)
		case t.Cluster.TMMNodeTaint != "" && !slices.Contains(ns[i].Taints, t.Cluster.TMMNodeTaint):
			out = append(out, name+" lacks taint "+t.Cluster.TMMNodeTaint)
		}
	}
	return out
}

// Check wants the TMM nodes marked, current images in every node, the
// release deployed and every workload rolled out.
func (s SPKStep) Check(ctx context.Context) steps.Status {
	l := s.l
	kn, err := l.kubeNodes(ctx)
	if err != nil {
		return steps.Status{State: steps.NotDone, Reason: "cluster not reachable: " + err.Error()}
	}
	if p := tmmNodeProblems(l.Topo, kn); len(p) > 0 {
		return steps.Status{State: steps.NotDone, Reason: strings.Join(p, "; ")}
	}
	ns, err := l.Nodes()
	if err != nil {
		return steps.Status{State: steps.Broken, Reason: err.Error()}
	}
	stale, err := l.staleImages(ctx, ns, l.SPKImages())
	if err != nil {
		return steps.Status{State: steps.Broken, Reason: err.Error()}
	}
	if len(stale) > 0 {
		return steps.Status{State: steps.NotDone, Reason: staleText(stale)}
	}
	ch, err := l.chart()
	if err != nil {
		return steps.Status{State: steps.Broken, Reason: err.Error()}
	}
	rel, err := ch.Release(ctx)
	if err != nil {
		return steps.Status{State: steps.Broken, Reason: err.Error()}
	}
	if rel == nil {
		return steps.Status{State: steps.NotDone, Reason: "no Helm release " + spkchart.DefaultReleaseName + " in namespace " + l.Topo.SPK.Namespace}
	}
	if st := rel.Info.Status.String(); st != "deployed" {
		return steps.Status{State: steps.Broken, Reason: fmt.Sprintf("Helm release %s revision %d is %s", rel.Name, rel.Version, st)}
	}
	for _, w := range spkWorkloads {
		if _, err := l.Kubectl(ctx, nil, "-n", l.Topo.SPK.Namespace, "rollout", "status", w, "--timeout=1s"); err != nil {
			return steps.Status{State: steps.Broken, Reason: w + " not rolled out: " + lastLine(err.Error())}
		}
	}
	return steps.Status{State: steps.Done, Reason: fmt.Sprintf("release %s revision %d deployed, %d TMM replicas, controller and node agents ready", rel.Name, rel.Version, l.Topo.TMM.Replicas)}
}

// Apply loads missing or rebuilt images, marks the TMM nodes, applies the
// chart and waits for the rollout; pods of rebuilt images are restarted.
func (s SPKStep) Apply(ctx context.Context) error {
	l := s.l
	ns, err := l.Nodes()
	if err != nil {
		return err
	}
	stale, err := l.staleImages(ctx, ns, l.SPKImages())
	if err != nil {
		return err
	}
	if err := l.loadStale(ctx, ns, stale); err != nil {
		return err
	}
	if err := l.markTMMNodes(ctx); err != nil {
		return err
	}
	values, err := spkchart.ValuesFromTopology(l.Topo)
	if err != nil {
		return err
	}
	ch, err := l.chart()
	if err != nil {
		return err
	}
	before, err := ch.Release(ctx)
	if err != nil {
		return err
	}
	if _, err := ch.Apply(ctx, values); err != nil {
		return err
	}
	// Tags stay (":dev") when an image is rebuilt: running pods keep the
	// old one unless restarted.
	if before != nil && rebuilt(stale) {
		args := append([]string{"-n", l.Topo.SPK.Namespace, "rollout", "restart"}, spkWorkloads...)
		if _, err := l.Kubectl(ctx, nil, args...); err != nil {
			return fmt.Errorf("restarting SPK workloads for rebuilt images: %w", err)
		}
	}
	for _, w := range spkWorkloads {
		if _, err := l.Kubectl(ctx, nil, "-n", l.Topo.SPK.Namespace, "rollout", "status", w,
			fmt.Sprintf("--timeout=%ds", int(rolloutWait.Seconds()))); err != nil {
			return fmt.Errorf("waiting for %s: %w", w, err)
		}
	}
	return nil
}

// markTMMNodes labels and taints the topology's TMM nodes.
func (l *Lab) markTMMNodes(ctx context.Context) error {
	for _, n := range l.Topo.Cluster.TMMNodes {
		if _, err := l.Kubectl(ctx, nil, "label", "node", n, "--overwrite", l.Topo.Cluster.TMMNodeLabel); err != nil {
			return fmt.Errorf("labelling TMM node: %w", err)
		}
		if l.Topo.Cluster.TMMNodeTaint != "" {
			if _, err := l.Kubectl(ctx, nil, "taint", "node", n, "--overwrite", l.Topo.Cluster.TMMNodeTaint); err != nil {
				return fmt.Errorf("tainting TMM node: %w", err)
			}
		}
	}
	return nil
}

// Destroy uninstalls the chart and unmarks the TMM nodes (when the
// cluster still runs; deleting it removes everything anyway). The CRDs
// stay, as Helm leaves them: the tenants step deletes the CRs.
func (s SPKStep) Destroy(ctx context.Context) error {
	l := s.l
	if _, err := l.controlPlane(); err != nil {
		return nil
	}
	ch, err := l.chart()
	if err != nil {
		return err
	}
	if err := ch.Uninstall(ctx); err != nil {
		return err
	}
	key, _, _ := topology.SplitLabel(l.Topo.Cluster.TMMNodeLabel)
	taintKey, _, _ := strings.Cut(l.Topo.Cluster.TMMNodeTaint, "=")
	for _, n := range l.Topo.Cluster.TMMNodes {
		if _, err := l.Kubectl(ctx, nil, "label", "node", n, key+"-"); err != nil && !strings.Contains(err.Error(), "not found") {
			return fmt.Errorf("unlabelling TMM node: %w", err)
		}
		if taintKey != "" {
			if _, err := l.Kubectl(ctx, nil, "taint", "node", n, taintKey+"-"); err != nil && !strings.Contains(err.Error(), "not found") {
				return fmt.Errorf("untainting TMM node: %w", err)
			}
		}
	}
	return nil
}

// staleImage is an image a node lacks or holds in another version.
type staleImage struct {
	Node, Ref string
	Missing   bool
}

// rebuilt reports whether a node holds an older build of an image (not
// merely lacks it): running pods then need a restart.
func rebuilt(s []staleImage) bool {
	for _, x := range s {
		if !x.Missing {
			return true
		}
	}
	return false
}

func staleText(s []staleImage) string {
	var parts []string
	for _, x := range s {
		what := "has an older"
		if x.Missing {
			what = "lacks"
		}
		parts = append(parts, fmt.Sprintf("%s %s %s", x.Node, what, x.Ref))
	}
	return strings.Join(parts, "; ")
}

// staleImages compares each node's images with docker's by config digest
// (docker's image ID), so a rebuilt image under the same tag counts. The
// nodes are read at once, one exec each.
func (l *Lab) staleImages(ctx context.Context, ns []nodes.Node, refs []string) ([]staleImage, error) {
	want := map[string]string{}
	for _, r := range refs {
		info, err := l.docker.ImageInspect(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("image %s is not in docker (spklab images build): %w", r, err)
		}
		want[r] = info.ID
	}
	haves := make([]map[string]string, len(ns))
	g, gctx := errgroup.WithContext(ctx)
	for i, n := range ns {
		g.Go(func() (err error) {
			haves[i], err = nodeImageConfigs(gctx, n, refs)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []staleImage
	for i, n := range ns {
		for _, r := range refs {
			switch got, ok := haves[i][r]; {
			case !ok:
				out = append(out, staleImage{Node: n.String(), Ref: r, Missing: true})
			case got != want[r]:
				out = append(out, staleImage{Node: n.String(), Ref: r})
			}
		}
	}
	return out, nil
}

// nodeImagesScript prints, for each image containerd holds under one of
// the names given as arguments, a line "name manifest-JSON" (one exec per
// node rather than one per image: each costs a process start in the node).
const nodeImagesScript = `ctr -n k8s.io images ls | awk 'NR>1 {print $1, $3}' | while read -r ref digest; do
  for want in "$@"; do
    if [ "$ref" = "$want" ]; then printf '%s ' "$ref"; ctr -n k8s.io content get "$digest" | tr -d '\n'; echo; fi
  done
done`

// nodeImageConfigs returns, per ref a node's containerd holds, the config
// digest of its image ("" for a manifest it cannot read as one image).
func nodeImageConfigs(ctx context.Context, n nodes.Node, refs []string) (map[string]string, error) {
	args := []string{"-c", nodeImagesScript, "node-images"}
	for _, r := range refs {
		args = append(args, r)
		if nr := normalizeRef(r); nr != r {
			args = append(args, nr)
		}
	}
	out, err := run(ctx, n, nil, "sh", args...)
	if err != nil {
		return nil, err
	}
	return parseNodeImages(out, refs), nil
}

// parseNodeImages reads nodeImagesScript's lines for refs (each found under
// its own name or its normalized one).
func parseNodeImages(out string, refs []string) map[string]string {
	config := map[string]string{} // containerd name → config digest
	for _, line := range strings.Split(out, "\n") {
		name, manifest, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		var m struct {
			Config struct {
				Digest string `json:"digest"`
			} `json:"config"`
		}
		// An index (multi-platform) or unreadable manifest counts as
		// stale (""): loading it again is harmless.
		if json.Unmarshal([]byte(manifest), &m) == nil {
			config[name] = m.Config.Digest
		} else {
			config[name] = ""
		}
	}
	have := map[string]string{}
	for _, r := range refs {
		if d, ok := config[r]; ok {
			have[r] = d
		} else if d, ok := config[normalizeRef(r)]; ok {
			have[r] = d
		}
	}
	return have
}

// loadStale saves the stale images once and loads them into the nodes
// that need them.
func (l *Lab) loadStale(ctx context.Context, ns []nodes.Node, stale []staleImage) error {
	if len(stale) == 0 {
		return nil
	}
	byNode := map[string]bool{}
	var refs []string
	for _, s := range stale {
		byNode[s.Node] = true
		if !slices.Contains(refs, s.Ref) {
			refs = append(refs, s.Ref)
		}
	}
	var targets []nodes.Node
	for _, n := range ns {
		if byNode[n.String()] {
			targets = append(targets, n)
		}
	}
	return l.saveAndLoad(ctx, targets, refs)
}

// lastLine is the last line of a command's error: kubectl's verdict, after
// its command line and retries (a status reason is one line).
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}
