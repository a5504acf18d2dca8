// Package netns is the netns lab runtime: the topology's addresses realised
// with network namespaces, one bridge namespace per lab, veth pairs and
// processes (nginx, spk-tmm) on one host, with no Docker and no Kubernetes.
//
// Everything is named from the cluster name: namespaces
// "spklab-<cluster>-<role>" and the run dir /run/spklab/<cluster>. Those
// are the only state: Up converges to the topology, Down removes exactly
// them (and the processes inside them), Status reads them back. The root
// namespace gets nothing.
package netns

import (
	"context"
	"fmt"
	"github.com/spklab/spklab/internal/cmdrun"
	"github.com/spklab/spklab/lab/steps"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spklab/spklab/spk"
	"github.com/spklab/spklab/topology"
)

// DefaultRunRoot holds each lab's run dir: <root>/<cluster>.
const DefaultRunRoot = "/run/spklab"

// TMMBinaryName is the emulated TMM's program name.
const TMMBinaryName = "spk-tmm"

// Options tune a Lab; the zero value is the default lab.
type Options struct {
	// RunDir holds configs, pid files and logs; default /run/spklab/<cluster>.
	RunDir string
	// TMMBinary is the spk-tmm program; default spk-tmm next to the running
	// executable, else spk-tmm on $PATH.
	TMMBinary string
	// TMMArgs are extra spk-tmm flags (e.g. "--max-flows", "2000").
	TMMArgs []string
	// NginxBinary is the nginx program; default nginx on $PATH.
	NginxBinary string
	// Offloads keeps TSO/GSO/GRO and checksum offloads on the lab's veths;
	// false (default) turns them off on both ends of every veth.
	Offloads bool
	// NoConvergenceWait ends Up without waiting for the router to learn
	// the VIPs and SNAT addresses (for stand-in TMMs that speak no BGP).
	NoConvergenceWait bool
	// Logger receives progress; default slog.Default().
	Logger *slog.Logger
	// Dataplane is what forwards in the TMM namespaces: DataplaneTMM
	// (default) or DataplaneKernel.
	Dataplane string
	// ExtraCRs, when set, adds CRs to the CR directory (ExtraCRFile).
	ExtraCRs ExtraCRsFunc
}

// Lab is one netns lab built from a topology.
type Lab struct {
	topo *topology.Topology
	opts Options
	plan *plan
	log  *slog.Logger
	// extra are the CRs Options.ExtraCRs added (nil: none).
	extra *spk.Objects
	// kernel is set with DataplaneKernel: each replica's ruleset.
	kernel []kernelTMM
	// steps are the step times of the last Up.
	steps []steps.Result
}

// New checks the topology and derives the lab from it. Nothing is touched
// until Up, Down or Status.
func New(t *topology.Topology, o Options) (*Lab, error) {
	if ps := topology.Validate(t); ps != nil {
		return nil, fmt.Errorf("topology has %d problem(s):\n%w", len(ps), ps)
	}
	p, err := makePlan(t, o.Dataplane == DataplaneKernel || len(t.TMM.BGP.Neighbors) == 0)
	if err != nil {
		return nil, fmt.Errorf("netns lab: %w", err)
	}
	if o.RunDir == "" {
		o.RunDir = filepath.Join(DefaultRunRoot, t.Cluster.Name)
	}
	if o.NginxBinary == "" {
		o.NginxBinary = "nginx"
	}
	l := &Lab{topo: t, opts: o, plan: p, log: o.Logger}
	if l.log == nil {
		l.log = slog.Default()
	}
	switch o.Dataplane {
	case "", DataplaneTMM, DataplaneKernel:
	default:
		return nil, fmt.Errorf("netns lab: data plane %q: supported are %s, %s", o.Dataplane, DataplaneTMM, DataplaneKernel)
	}
	if o.ExtraCRs != nil || o.Dataplane == DataplaneKernel {
		all, extra, err := labObjects(l)
		if err != nil {
			return nil, fmt.Errorf("netns lab: %w", err)
		}
		l.extra = extra
		if o.Dataplane == DataplaneKernel {
			if err := l.planKernelDataplane(all); err != nil {
				return nil, fmt.Errorf("netns lab: %w", err)
			}
		}
	}
	return l, nil
}

// Topology is the topology the lab realizes.
func (l *Lab) Topology() *topology.Topology { return l.topo }

// Cluster is the lab's cluster name.
func (l *Lab) Cluster() string { return l.plan.cluster }

// RunDir is the lab's run directory.
func (l *Lab) RunDir() string { return l.opts.RunDir }

// CRDir is the directory spk-tmm reads its CRs from.
func (l *Lab) CRDir() string { return filepath.Join(l.opts.RunDir, "crs") }

// Prefix starts every namespace name of this lab.
func (l *Lab) Prefix() string { return l.plan.prefix }

// SwitchNS is the namespace holding the bridges.
func (l *Lab) SwitchNS() string { return l.plan.sw }

// RouterNS is the router's namespace.
func (l *Lab) RouterNS() string { return l.plan.ns(RoleRouter) }

// ClientNS is the client's namespace.
func (l *Lab) ClientNS() string { return l.plan.ns(RoleClient) }

// TMMNS is TMM replica i's namespace.
func (l *Lab) TMMNS(i int) string { return l.plan.ns(TMMRole(i)) }

// NodeNS is a worker node's namespace.
func (l *Lab) NodeNS(node string) string { return l.plan.ns(node) }

// Namespaces lists every namespace of the lab, the switch first.
func (l *Lab) Namespaces() []string {
	out := []string{l.plan.sw}
	for _, h := range l.plan.hosts {
		out = append(out, h.ns)
	}
	return out
}

// Pods lists the tenant pods with their addresses and nodes.
func (l *Lab) Pods() []Pod { return append([]Pod(nil), l.plan.pods...) }

// TenantPods lists one tenant's pods.
func (l *Lab) TenantPods(tenant string) []Pod {
	var out []Pod
	for _, p := range l.plan.pods {
		if p.Tenant == tenant {
			out = append(out, p)
		}
	}
	return out
}

// PodNamespaces lists the namespaces of a tenant's pods.
func (l *Lab) PodNamespaces(tenant string) []string {
	var out []string
	for _, p := range l.TenantPods(tenant) {
		out = append(out, p.Namespace)
	}
	return out
}

// Exec runs argv inside the named namespace (ip netns exec, through
// cmdrun) and returns its combined output; the error names the namespace
// and the command and carries what it printed.
func (l *Lab) Exec(ctx context.Context, ns string, argv ...string) ([]byte, error) {
	c := cmdrun.Netns(ns)
	c.Combined = true
	return c.Run(ctx, argv...)
}

// tmmBinary resolves the spk-tmm program.
func (l *Lab) tmmBinary() (string, error) {
	if l.opts.TMMBinary != "" {
		p, err := exec.LookPath(l.opts.TMMBinary)
		if err != nil {
			return "", fmt.Errorf("TMM binary %s: %w", l.opts.TMMBinary, err)
		}
		return filepath.Abs(p)
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), TMMBinaryName)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(TMMBinaryName)
	if err != nil {
		return "", fmt.Errorf("%s is neither next to this program nor on $PATH (build it, or pass its path with --tmm-binary): %w", TMMBinaryName, err)
	}
	return filepath.Abs(p)
}
