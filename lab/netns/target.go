package netns

import (
	"context"
	"errors"
	"fmt"
	"github.com/spklab/spklab/e2e/framework"
	"net/netip"
	"strings"
	"time"

	"github.com/spklab/spklab/dataplane/tmmapi"
	"github.com/spklab/spklab/host/frr"
	"github.com/spklab/spklab/internal/cmdrun"
	"github.com/spklab/spklab/spk"
	"github.com/spklab/spklab/topology"
)

// NetnsTarget is a running netns lab as a Target.
type NetnsTarget struct {
	lab  *Lab
	topo *topology.Topology
	vty  *frr.VTY
	tmms []framework.TMM
}

// NewNetnsTarget wraps a netns lab built from topo (the lab must be up;
// this only derives names). The lab must run FRR at the router: the suites
// check BGP.
func NewNetnsTarget(l *Lab, topo *topology.Topology) (*NetnsTarget, error) {
	if !l.UsesBGP() {
		return nil, errors.New("netns target: the lab's router has static routes (no BGP neighbors, or the kernel data plane); the suites need FRR and spk-tmm")
	}
	vty, err := l.RouterVTY()
	if err != nil {
		return nil, fmt.Errorf("netns target: router FRR: %w", err)
	}
	t := &NetnsTarget{lab: l, topo: topo, vty: vty}
	for i := range l.TMMReplicas() {
		t.tmms = append(t.tmms, framework.APITMM(TMMRole(i), tmmapi.NewClient(l.TMMAPI(i))))
	}
	return t, nil
}

// Name names the lab.
func (t *NetnsTarget) Name() string { return "netns lab " + t.lab.Cluster() }

// Topology is the topology the lab was built from.
func (t *NetnsTarget) Topology() *topology.Topology { return t.topo }

// Client runs commands in the client namespace.
func (t *NetnsTarget) Client() framework.Executor { return framework.Netns(t.lab.ClientNS()) }

// Router runs commands in the router namespace.
func (t *NetnsTarget) Router() framework.Executor { return framework.Netns(t.lab.RouterNS()) }

// RouterVTY queries the router namespace's FRR.
func (t *NetnsTarget) RouterVTY() *frr.VTY { return t.vty }

// Pods lists the tenant's pod namespaces.
func (t *NetnsTarget) Pods(tenant string) []framework.TenantPod {
	var out []framework.TenantPod
	for _, p := range t.lab.TenantPods(tenant) {
		out = append(out, framework.TenantPod{Name: p.Name, Tenant: p.Tenant, Node: p.Node, IPs: []netip.Addr{p.IP}, Exec: framework.Netns(p.Namespace)})
	}
	return out
}

// TMMs are the replicas' API clients.
func (t *NetnsTarget) TMMs() []framework.TMM { return t.tmms }

// DeleteIngress removes the tenant's F5SPKIngressTCP from the lab's CR
// files and pushes the config to every TMM.
func (t *NetnsTarget) DeleteIngress(ctx context.Context, tenant string) error {
	for _, tn := range t.topo.Tenants {
		if tn.Namespace == tenant && tn.Ingress != nil {
			return t.lab.DeleteCR(ctx, spk.KindIngressTCP, tn.Namespace, tn.Ingress.Name)
		}
	}
	return fmt.Errorf("tenant %q has no ingress in the topology", tenant)
}

// Reapply writes the topology's CRs again and pushes them.
func (t *NetnsTarget) Reapply(ctx context.Context) error { return t.lab.ReapplyCRs(ctx) }

// RestartTMM kills replica i's spk-tmm and starts it again.
func (t *NetnsTarget) RestartTMM(ctx context.Context, i int) (time.Time, error) {
	if err := t.lab.StopTMM(ctx, i); err != nil {
		return time.Time{}, err
	}
	started := time.Now()
	return started, t.lab.StartTMMs(ctx)
}

// Node runs commands in a worker's namespace.
func (t *NetnsTarget) Node(name string) framework.Executor {
	return framework.Netns(t.lab.NodeNS(name))
}

// Stranger adds a namespace on the network's bridge.
func (t *NetnsTarget) Stranger(ctx context.Context, network string) (framework.Executor, netip.Addr, func(), error) {
	ns, addr, err := t.lab.AddStranger(ctx, network)
	remove := func() {
		if ns != "" {
			_ = t.lab.RemoveStranger(ns)
		}
	}
	if err != nil {
		remove()
		return nil, netip.Addr{}, func() {}, err
	}
	return framework.Netns(ns), addr, remove, nil
}

// ApplyCRs writes the documents as a CR file and pushes the config.
func (t *NetnsTarget) ApplyCRs(ctx context.Context, name string, yaml []byte) error {
	return t.lab.ApplyCRFile(ctx, name+".yaml", yaml)
}

// RemoveCRs removes that CR file and pushes the config.
func (t *NetnsTarget) RemoveCRs(ctx context.Context, name string, _ []byte) error {
	return t.lab.RemoveCRFile(ctx, name+".yaml")
}

// ForeignAPIAttempts connects to each TMM's API socket as user nobody
// (curl): only its owner, root, may (the sockets are 0600).
func (t *NetnsTarget) ForeignAPIAttempts(ctx context.Context) []framework.APIAttempt {
	var out []framework.APIAttempt
	for i := range t.lab.TMMReplicas() {
		sock, _ := strings.CutPrefix(t.lab.TMMAPI(i), "unix:")
		res, err := cmdrun.Host().Run(ctx, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			"curl", "-sS", "--max-time", "5", "--unix-socket", sock, "http://tmm/")
		a := framework.APIAttempt{Who: "user nobody on this host, on the API's unix socket", TMM: TMMRole(i), Ran: true, Output: string(res), Err: err}
		var ee *cmdrun.Error
		if errors.As(err, &ee) {
			a.Output += ee.Stderr
			// curl's exit 7 is "could not connect". Any other exit means it
			// connected (and spoke HTTP/1.1 to a gRPC server, which fails
			// later) — a breach — or that curl did not run as meant (-1:
			// not found): either way the attempt did not show a refusal.
			switch {
			case ee.ExitCode < 0:
				a.Ran = false
			case ee.ExitCode != 7:
				a.Err = nil
			}
		}
		out = append(out, a)
	}
	return out
}

var _ framework.Target = (*NetnsTarget)(nil)
