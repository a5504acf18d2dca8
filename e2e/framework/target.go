package framework

import (
	"context"
	"encoding/json"
	"github.com/spklab/spklab/dataplane/engine"
	"github.com/spklab/spklab/dataplane/tmmapi"
	"net/netip"
	"time"

	"github.com/spklab/spklab/host/frr"
	"github.com/spklab/spklab/topology"
)

// Target is what the suites need from a running lab, whatever runs it
// (network namespaces or kind): where the client, router and
// tenant pods run commands, the router's FRR, the TMM replicas' state, the
// topology the lab was built from, and the disruptive actions the BGP
// suite takes.
type Target interface {
	// Name names the lab in reports ("netns lab bnk").
	Name() string
	Topology() *topology.Topology
	// Client runs commands in the outside client (curl to the VIPs).
	Client() Executor
	// Router runs commands in the external router (tcpdump).
	Router() Executor
	// RouterVTY queries the router's FRR.
	RouterVTY() *frr.VTY
	// Pods lists a tenant's pods.
	Pods(tenant string) []TenantPod
	// TMMs are the TMM replicas, replica i at index i.
	TMMs() []TMM
	// DeleteIngress deletes the tenant's F5SPKIngressTCP and returns once
	// every TMM runs the config without it.
	DeleteIngress(ctx context.Context, tenant string) error
	// Reapply restores every CR of the topology (undoing DeleteIngress)
	// and returns once every TMM runs it.
	Reapply(ctx context.Context) error
	// RestartTMM ends replica i at once (a crash) and starts it again; it
	// returns when the new one was started — recovery is measured from
	// there — and once its API answers.
	RestartTMM(ctx context.Context, i int) (started time.Time, err error)

	// Node runs commands on a cluster node, in its network namespace.
	Node(name string) Executor
	// Stranger adds a host to a lab network that is no node, router or
	// client of the lab, at a free address (the isolation suite's attacker
	// on the wire); remove takes it away.
	Stranger(ctx context.Context, network string) (run Executor, addr netip.Addr, remove func(), err error)
	// ApplyCRs adds CR documents to the lab (name keeps them apart from
	// the lab's own) and returns once every TMM runs the result — or why
	// the lab refused them: an object's Accepted=False message in a
	// cluster, the compile problems in standalone mode (which then keeps
	// running what it ran).
	ApplyCRs(ctx context.Context, name string, yaml []byte) error
	// RemoveCRs takes away what ApplyCRs added under name.
	RemoveCRs(ctx context.Context, name string, yaml []byte) error
	// ForeignAPIAttempts tries every TMM's API as whoever is not the
	// controller can (a pod of another namespace, a client without the
	// controller's certificate, another user on the socket) and says what
	// each attempt got.
	ForeignAPIAttempts(ctx context.Context) []APIAttempt
}

// APIAttempt is one try at a TMM's API by someone who is not the
// controller. An attempt that Ran with Err nil got in: the attack
// succeeded. One that did not run (no pod IP, no port-forward, a probe
// that never reported) proves nothing, and Err says why.
type APIAttempt struct {
	Who, TMM string
	Ran      bool
	Output   string
	Err      error
}

// TenantPod is one pod of a tenant and where its commands run.
type TenantPod struct {
	Name, Tenant, Node string
	// IPs are the pod's addresses (IPv4 and, when the lab gives pods one,
	// IPv6).
	IPs  []netip.Addr
	Exec Executor
}

// HasFamily reports whether the pod has an address of the family.
func (p TenantPod) HasFamily(ipv6 bool) bool {
	for _, a := range p.IPs {
		if a.Is6() == ipv6 {
			return true
		}
	}
	return false
}

// TMM reads one replica's state as JSON documents (for evidence); how it
// gets them (a unix socket, kubectl exec) is the target's business.
type TMM interface {
	Name() string
	Stats(ctx context.Context) ([]byte, error)
	Flows(ctx context.Context) ([]byte, error)
	BGP(ctx context.Context) ([]byte, error)
}

// APITMM is a TMM replica read through its config/stats API (a unix
// socket in the netns lab, a port-forward in the kind lab).
func APITMM(name string, client *tmmapi.Client) TMM { return apiTMM{name: name, client: client} }

// apiTMM reads a replica's state through its config/stats API.
type apiTMM struct {
	name   string
	client *tmmapi.Client
}

// maxFlows bounds the flow table an evidence dump reads.
const maxFlows = 1000

func (a apiTMM) Name() string { return a.name }

func (a apiTMM) Stats(ctx context.Context) ([]byte, error) {
	return indented(a.client.Stats(ctx))
}

func (a apiTMM) Flows(ctx context.Context) ([]byte, error) {
	fl, err := a.client.Flows(ctx, maxFlows)
	if fl == nil {
		fl = []engine.FlowInfo{} // "[]", not "null", for an empty table
	}
	return indented(fl, err)
}

func (a apiTMM) BGP(ctx context.Context) ([]byte, error) {
	return indented(a.client.BGP(ctx))
}

func indented[T any](v T, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(v, "", "  ")
}
