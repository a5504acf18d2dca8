// Package kind is the kind runtime: the guide's seven steps — the cluster,
// its CNI, the docker networks the workers join, the Multus attachments,
// the infra containers (router, client, syslog), the SPK chart and the
// tenants — with up, down, status, checkpoints, the live diagram and log
// collection. State lives
// only in docker objects (kind's io.x-k8s.kind.cluster label, spklab's
// io.spklab.lab label, the fallback bridges' alias) and Kubernetes objects.
package kind

import (
	"context"
	"fmt"
	"github.com/spklab/spklab/internal/cmdrun"
	"log/slog"
	"strings"

	dockerclient "github.com/docker/docker/client"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	kindlog "sigs.k8s.io/kind/pkg/log"

	"github.com/spklab/spklab/lab/steps"
	"github.com/spklab/spklab/topology"
)

// Lab is one kind lab: the topology and the clients its steps use.
type Lab struct {
	Topo *topology.Topology
	// Kubeconfig is where the cluster's kubeconfig goes ("" is kind's
	// default: $KUBECONFIG or ~/.kube/config).
	Kubeconfig string
	Log        *slog.Logger

	docker   *dockerclient.Client
	provider *cluster.Provider
}

// New connects to docker and makes a kind provider for the topology's lab.
func New(t *topology.Topology, kubeconfig string, log *slog.Logger) (*Lab, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	api, err := dockerclient.NewClientWithOpts(dockerclient.FromEnv, dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return &Lab{
		Topo: t, Kubeconfig: kubeconfig, Log: log, docker: api,
		provider: cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(kindLogger{log})),
	}, nil
}

// Close releases the docker client.
func (l *Lab) Close() error { return l.docker.Close() }

// Steps are the lab's steps in apply order.
func (l *Lab) Steps() []steps.Step {
	var out []steps.Step
	for _, s := range guideSteps(l) {
		out = append(out, s)
	}
	return out
}

// Step returns the step with that name ("cluster", "cni", "networks",
// "attachments").
func (l *Lab) Step(name string) (steps.Step, error) {
	var names []string
	for _, s := range l.Steps() {
		if s.Name() == name {
			return s, nil
		}
		names = append(names, s.Name())
	}
	return nil, fmt.Errorf("no step %q (steps: %s)", name, strings.Join(names, ", "))
}

// Nodes lists the cluster's node containers (kind finds them by its label).
func (l *Lab) Nodes() ([]nodes.Node, error) {
	ns, err := l.provider.ListNodes(l.Topo.Cluster.Name)
	if err != nil {
		return nil, fmt.Errorf("listing nodes of kind cluster %s: %w", l.Topo.Cluster.Name, err)
	}
	return ns, nil
}

// node finds one node container by name.
func (l *Lab) node(name string) (nodes.Node, error) {
	ns, err := l.Nodes()
	if err != nil {
		return nil, err
	}
	for _, n := range ns {
		if n.String() == name {
			return n, nil
		}
	}
	return nil, fmt.Errorf("node %s is not in kind cluster %s", name, l.Topo.Cluster.Name)
}

// controlPlane is the node kubectl runs on (with its admin kubeconfig:
// no kubectl needed on the host).
func (l *Lab) controlPlane() (nodes.Node, error) {
	ns, err := l.Nodes()
	if err != nil {
		return nil, err
	}
	for _, n := range ns {
		if role, err := n.Role(); err == nil && role == topology.RoleControlPlane {
			return n, nil
		}
	}
	return nil, fmt.Errorf("kind cluster %s has no control-plane node", l.Topo.Cluster.Name)
}

// Kubectl runs kubectl on the control-plane node and returns its stdout;
// the error carries stderr.
func (l *Lab) Kubectl(ctx context.Context, stdin []byte, args ...string) (string, error) {
	cp, err := l.controlPlane()
	if err != nil {
		return "", err
	}
	return run(ctx, cp, stdin, "kubectl", append([]string{"--kubeconfig=/etc/kubernetes/admin.conf"}, args...)...)
}

// run runs a command in a node (docker exec, privileged, as kind's own
// node commands run) through the project's one command runner; the error
// names the node and carries the command's output.
func run(ctx context.Context, n nodes.Node, stdin []byte, name string, args ...string) (string, error) {
	c := cmdrun.Cmd{Where: "node " + n.String(), Prefix: []string{"docker", "exec", "--privileged", "-i", n.String()}, Stdin: stdin}
	out, err := c.Run(ctx, append([]string{name}, args...)...)
	return string(out), err
}

// kindLogger sends kind's progress to slog (V(0) at info, the rest debug).
type kindLogger struct{ log *slog.Logger }

func (k kindLogger) Warn(msg string)                      { k.log.Warn(msg) }
func (k kindLogger) Warnf(f string, a ...any)             { k.log.Warn(fmt.Sprintf(f, a...)) }
func (k kindLogger) Error(msg string)                     { k.log.Error(msg) }
func (k kindLogger) Errorf(f string, a ...any)            { k.log.Error(fmt.Sprintf(f, a...)) }
func (k kindLogger) V(l kindlog.Level) kindlog.InfoLogger { return kindInfo{k.log, l} }

type kindInfo struct {
	log   *slog.Logger
	level kindlog.Level
}

func (k kindInfo) Info(msg string) {
	if k.level == 0 {
		k.log.Info(msg)
	} else {
		k.log.Debug(msg)
	}
}
func (k kindInfo) Infof(f string, a ...any) { k.Info(fmt.Sprintf(f, a...)) }
func (k kindInfo) Enabled() bool            { return true }
