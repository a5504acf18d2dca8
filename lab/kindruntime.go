package lab

import (
	"context"
	"fmt"
	"io"

	"github.com/spklab/spklab/e2e/framework"
	"github.com/spklab/spklab/lab/kind"
	"github.com/spklab/spklab/lab/steps"
	"github.com/spklab/spklab/topology"
)

// kindRuntime is the product's runtime: the guide's steps on a kind cluster.
type kindRuntime struct{ lab *kind.Lab }

func openKind(topo *topology.Topology, o Options) (Runtime, error) {
	l, err := kind.New(topo, o.Kubeconfig, o.Logger)
	if err != nil {
		return nil, err
	}
	return kindRuntime{lab: l}, nil
}

func (r kindRuntime) Name() string { return "kind lab " + r.lab.Topo.Cluster.Name }

func (r kindRuntime) Up(ctx context.Context, out io.Writer) (string, error) {
	if _, err := r.lab.Up(ctx, out); err != nil {
		return "", err
	}
	return fmt.Sprintf("try  docker exec %s curl -sI http://%s", r.lab.Topo.ClientContainer(), firstVIP(r.lab.Topo)), nil
}

// firstVIP is the first tenant's IPv4 VIP, for the hint after up.
func firstVIP(topo *topology.Topology) string {
	for _, tn := range topo.Tenants {
		if tn.Ingress != nil && tn.Ingress.IPv4 != "" {
			return tn.Ingress.IPv4
		}
	}
	return "<vip>"
}

func (r kindRuntime) Down(ctx context.Context, out io.Writer) error {
	_, err := r.lab.Down(ctx, out)
	return err
}

func (r kindRuntime) Status(ctx context.Context) (Status, error) { return r.lab.Status(ctx), nil }

func (r kindRuntime) Target(ctx context.Context) (framework.Target, func(), error) {
	for _, st := range r.lab.Status(ctx).Steps {
		if st.State != steps.Done.String() {
			return nil, nil, fmt.Errorf("%s is not up: step %s is %s (%s); run spklab up", r.Name(), st.Step, st.State, st.Reason)
		}
	}
	t, err := kind.NewKindTarget(ctx, r.lab)
	if err != nil {
		return nil, nil, err
	}
	return t, t.Close, nil
}

func (r kindRuntime) CollectLogs(ctx context.Context, dir string) error {
	return r.lab.CollectLogs(ctx, dir)
}

func (r kindRuntime) Close() error { return r.lab.Close() }
