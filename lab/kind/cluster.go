package kind

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/cluster"

	"github.com/spklab/spklab/lab/steps"
	"github.com/spklab/spklab/topology/render"
)

// Bounds of the cluster step's waits.
const (
	apiWait = 4 * time.Minute
	// resumeWait is how long an existing cluster gets to answer with every
	// node before it counts as half made.
	resumeWait = 45 * time.Second
	poll       = 2 * time.Second
)

// ClusterStep is the kind cluster from render.KindConfig with the
// topology's node image, its kubeconfig exported, and every node
// registered with an answering API server. Nodes are not Ready yet: the
// default CNI is disabled (the cni step brings Ready).
type ClusterStep struct{ l *Lab }

// Name is the step's name.
func (ClusterStep) Name() string { return "cluster" }

// KubeContext is the kubeconfig context kind writes for the cluster.
func (l *Lab) KubeContext() string { return "kind-" + l.Topo.Cluster.Name }

// KubeconfigPath is the file the kubeconfig goes to, as kind picks it.
func (l *Lab) KubeconfigPath() string {
	if l.Kubeconfig != "" {
		return l.Kubeconfig
	}
	if env := os.Getenv("KUBECONFIG"); env != "" {
		if list := filepath.SplitList(env); len(list) > 0 && list[0] != "" {
			return list[0]
		}
	}
	return clientcmd.RecommendedHomeFile
}

// HasKubeContext reports whether the kubeconfig file has the cluster's context.
func (l *Lab) HasKubeContext() (bool, error) {
	cfg, err := clientcmd.LoadFromFile(l.KubeconfigPath())
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading kubeconfig: %w", err)
	}
	_, ok := cfg.Contexts[l.KubeContext()]
	return ok, nil
}

// Check looks at the node containers, the API server and the kubeconfig.
func (s ClusterStep) Check(ctx context.Context) steps.Status {
	l := s.l
	want := len(l.Topo.Cluster.Nodes)
	ns, err := l.Nodes()
	if err != nil {
		return steps.Status{State: steps.Broken, Reason: err.Error()}
	}
	if len(ns) == 0 {
		return steps.Status{State: steps.NotDone, Reason: "no node containers of kind cluster " + l.Topo.Cluster.Name}
	}
	if len(ns) != want {
		return steps.Status{State: steps.Broken, Reason: fmt.Sprintf("kind cluster %s has %d node containers, the topology %d (spklab cluster delete, then create)", l.Topo.Cluster.Name, len(ns), want)}
	}
	for _, n := range ns {
		c, err := l.docker.ContainerInspect(ctx, n.String())
		if err != nil {
			return steps.Status{State: steps.Broken, Reason: fmt.Sprintf("inspecting %s: %v", n, err)}
		}
		if c.State == nil || !c.State.Running {
			return steps.Status{State: steps.Broken, Reason: fmt.Sprintf("node container %s is not running", n)}
		}
	}
	names, err := l.registeredNodes(ctx)
	if err != nil {
		return steps.Status{State: steps.NotDone, Reason: "API server does not answer: " + lastLine(err.Error())}
	}
	if len(names) != want {
		return steps.Status{State: steps.NotDone, Reason: fmt.Sprintf("%d of %d nodes registered", len(names), want)}
	}
	ok, err := l.HasKubeContext()
	if err != nil {
		return steps.Status{State: steps.Broken, Reason: err.Error()}
	}
	if !ok {
		return steps.Status{State: steps.NotDone, Reason: fmt.Sprintf("%s has no context %s", l.KubeconfigPath(), l.KubeContext())}
	}
	return steps.Status{State: steps.Done, Reason: fmt.Sprintf("kind cluster %s: %d nodes registered, context %s", l.Topo.Cluster.Name, want, l.KubeContext())}
}

// Apply creates the cluster when no node container exists, then waits for
// the API server and the nodes and exports the kubeconfig. A cluster left
// half made (an interrupted create: missing or stopped node containers, or
// nodes that never register) is deleted and created again; kind cannot
// resume its own create.
func (s ClusterStep) Apply(ctx context.Context) error {
	l := s.l
	ns, err := l.Nodes()
	if err != nil {
		return err
	}
	if len(ns) > 0 {
		st := s.Check(ctx)
		if st.State != steps.Broken {
			err = l.waitRegistered(ctx, resumeWait)
		}
		if ctx.Err() != nil {
			return ctx.Err() // interrupted: never delete what merely had no time
		}
		if st.State == steps.Broken || err != nil {
			reason := st.Reason
			if err != nil {
				reason = err.Error()
			}
			l.Log.Warn("the cluster is half made (an interrupted create?); deleting it to create it again", "cluster", l.Topo.Cluster.Name, "reason", reason)
			if err := s.Destroy(ctx); err != nil {
				return err
			}
			ns = nil
		}
	}
	if len(ns) == 0 {
		l.Log.Info("creating kind cluster", "name", l.Topo.Cluster.Name, "image", l.Topo.Images.Node, "nodes", len(l.Topo.Cluster.Nodes))
		err := l.provider.Create(l.Topo.Cluster.Name,
			cluster.CreateWithV1Alpha4Config(render.KindConfig(l.Topo)),
			cluster.CreateWithNodeImage(l.Topo.Images.Node),
			cluster.CreateWithKubeconfigPath(l.Kubeconfig),
			cluster.CreateWithDisplayUsage(false), cluster.CreateWithDisplaySalutation(false))
		if err != nil {
			return fmt.Errorf("creating kind cluster %s: %w", l.Topo.Cluster.Name, err)
		}
		if err := l.waitRegistered(ctx, apiWait); err != nil {
			return err
		}
	}
	if err := l.provider.ExportKubeConfig(l.Topo.Cluster.Name, l.Kubeconfig, false); err != nil {
		return fmt.Errorf("exporting kubeconfig of %s: %w", l.Topo.Cluster.Name, err)
	}
	return nil
}

// Destroy deletes the cluster's containers and its kubeconfig entry.
func (s ClusterStep) Destroy(context.Context) error {
	if err := s.l.provider.Delete(s.l.Topo.Cluster.Name, s.l.Kubeconfig); err != nil {
		return fmt.Errorf("deleting kind cluster %s: %w", s.l.Topo.Cluster.Name, err)
	}
	return nil
}

// waitRegistered is spklab's own readiness wait: kind's waits for Ready,
// which never comes without a CNI. It waits until the API server answers
// and every node has registered.
func (l *Lab) waitRegistered(ctx context.Context, limit time.Duration) error {
	want := len(l.Topo.Cluster.Nodes)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	for {
		names, err := l.registeredNodes(ctx)
		if err == nil && len(names) == want {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("%d of %d nodes registered", len(names), want)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting %s for the API server and %d nodes: %w", limit, want, last)
		case <-time.After(poll):
		}
	}
}

// nodeInfo is what the steps read of a Kubernetes node.
type nodeInfo struct {
	Name        string
	Ready       bool
	Annotations map[string]string
	Labels      map[string]string
	// Taints are spelled key=value:Effect (key:Effect without a value).
	Taints []string
}

// kubeNodes lists the Kubernetes nodes with readiness and annotations.
func (l *Lab) kubeNodes(ctx context.Context) ([]nodeInfo, error) {
	out, err := l.Kubectl(ctx, nil, "get", "nodes", "-o", "json", "--request-timeout=10s")
	if err != nil {
		return nil, err
	}
	var list struct {
		Items []struct {
			Metadata struct {
				Name        string            `json:"name"`
				Annotations map[string]string `json:"annotations"`
				Labels      map[string]string `json:"labels"`
			} `json:"metadata"`
			Spec struct {
				Taints []struct {
					Key, Value, Effect string
				} `json:"taints"`
			} `json:"spec"`
			Status struct {
				Conditions []struct {
					Type, Status string
				} `json:"conditions"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("parsing kubectl get nodes: %w", err)
	}
	var ns []nodeInfo
	for _, it := range list.Items {
		n := nodeInfo{Name: it.Metadata.Name, Annotations: it.Metadata.Annotations, Labels: it.Metadata.Labels}
		for _, t := range it.Spec.Taints {
			spelled := t.Key
			if t.Value != "" {
				spelled += "=" + t.Value
			}
			n.Taints = append(n.Taints, spelled+":"+t.Effect)
		}
		for _, c := range it.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				n.Ready = true
			}
		}
		ns = append(ns, n)
	}
	return ns, nil
}

func (l *Lab) registeredNodes(ctx context.Context) ([]string, error) {
	ns, err := l.kubeNodes(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ns))
	for _, n := range ns {
		names = append(names, n.Name)
	}
	return names, nil
}
