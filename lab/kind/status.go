package kind

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/spklab/spklab/host/frr"
	"github.com/spklab/spklab/lab/steps"
	"github.com/spklab/spklab/manifests/spkchart"
	"github.com/spklab/spklab/topology"
)

// Status is where the kind lab stands: each step, the nodes, the TMM
// replicas with their BGP sessions at the router, the CRs, and the VIPs and
// SNAT addresses as the router routes them.
type Status struct {
	Lab    string        `json:"lab"`
	Steps  []StepStatus  `json:"steps"`
	Nodes  []NodeStatus  `json:"nodes,omitempty"`
	TMMs   []TMMStatus   `json:"tmms,omitempty"`
	CRs    []CRStatus    `json:"crs,omitempty"`
	Routes []RouteStatus `json:"routes,omitempty"`
}

// StepStatus is one step's check.
type StepStatus struct {
	Step   string `json:"step"`
	State  string `json:"state"`
	Reason string `json:"reason"`
}

// NodeStatus is one Kubernetes node.
type NodeStatus struct {
	Name  string `json:"name"`
	Ready bool   `json:"ready"`
	TMM   bool   `json:"tmmNode"`
}

// TMMStatus is one TMM replica: its pod and its BGP session at the router.
type TMMStatus struct {
	Replica int    `json:"replica"`
	Pod     string `json:"pod"`
	Node    string `json:"node,omitempty"`
	Phase   string `json:"phase"`
	Ready   bool   `json:"ready"`
	SelfIP  string `json:"selfIP,omitempty"`
	BGP     string `json:"bgp,omitempty"`
}

// CRStatus is one SPK CR's conditions.
type CRStatus struct {
	Object     string `json:"object"`
	Accepted   string `json:"accepted"`
	Programmed string `json:"programmed"`
	Message    string `json:"message,omitempty"`
}

// RouteStatus is a VIP or SNAT prefix: the next hops expected and the ones
// the router uses.
type RouteStatus struct {
	Prefix   string   `json:"prefix"`
	What     string   `json:"what"`
	Want     []string `json:"want"`
	Got      []string `json:"got"`
	Complete bool     `json:"complete"`
}

// Up reports whether every step is done.
func (s *Status) Up() bool {
	for _, st := range s.Steps {
		if st.State != steps.Done.String() {
			return false
		}
	}
	return len(s.Steps) > 0
}

// Status checks every step and, as far as the lab exists, reads nodes,
// TMM pods, CRs and the router's routes. The reads are independent and
// each waits on a docker exec or the API server, so they run at once.
func (l *Lab) Status(ctx context.Context) *Status {
	s := &Status{Lab: l.Topo.Cluster.Name}
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, r := range steps.CheckAll(ctx, l.Steps()) {
			s.Steps = append(s.Steps, StepStatus{Step: r.Step, State: r.Before.State.String(), Reason: r.Before.Reason})
		}
	})
	wg.Go(func() {
		if kn, err := l.kubeNodes(ctx); err == nil {
			for _, n := range kn {
				s.Nodes = append(s.Nodes, NodeStatus{Name: n.Name, Ready: n.Ready, TMM: slices.Contains(l.Topo.Cluster.TMMNodes, n.Name)})
			}
		}
	})
	wg.Go(func() { s.TMMs = l.tmmStatus(ctx) })
	wg.Go(func() {
		crs, err := l.crStates(ctx)
		if err != nil {
			return
		}
		for _, c := range crs {
			acc, _ := c.condition("Accepted")
			prog, msg := c.condition("Programmed")
			cs := CRStatus{Object: c.String(), Accepted: acc, Programmed: prog}
			if prog != "True" {
				cs.Message = msg
			}
			s.CRs = append(s.CRs, cs)
		}
	})
	wg.Go(func() { s.Routes = l.routeStatus(ctx) })
	wg.Wait()
	return s
}

// RouterVTY runs vtysh in the router container.
func (l *Lab) RouterVTY() *frr.VTY {
	return frr.NewVTY(frr.Command("docker", "exec", l.Topo.RouterContainer()))
}

// TMMPod is one TMM replica's pod as the StatefulSet names it.
func TMMPod(i int) string { return fmt.Sprintf("f5-tmm-%d", i) }

func (l *Lab) tmmStatus(ctx context.Context) []TMMStatus {
	out, err := l.Kubectl(ctx, nil, "-n", l.Topo.SPK.Namespace, "get", "pods", "-o", "json", "--request-timeout=10s")
	if err != nil {
		return nil
	}
	var list struct {
		Items []struct {
			Metadata struct{ Name string } `json:"metadata"`
			Spec     struct {
				NodeName string `json:"nodeName"`
			} `json:"spec"`
			Status struct {
				Phase      string `json:"phase"`
				Conditions []struct{ Type, Status string }
			} `json:"status"`
		} `json:"items"`
	}
	if json.Unmarshal([]byte(out), &list) != nil {
		return nil
	}
	var neighbors []frr.Neighbor
	if _, err := l.docker.ContainerInspect(ctx, l.Topo.RouterContainer()); err == nil {
		neighbors, _ = l.RouterVTY().Neighbors(ctx)
	}
	selfIPs := bgpSelfIPs(l.Topo)
	var tmms []TMMStatus
	for i := range l.Topo.TMM.Replicas {
		ts := TMMStatus{Replica: i, Pod: TMMPod(i), Phase: "absent"}
		for _, it := range list.Items {
			if it.Metadata.Name != ts.Pod {
				continue
			}
			ts.Node, ts.Phase = it.Spec.NodeName, it.Status.Phase
			for _, c := range it.Status.Conditions {
				if c.Type == "Ready" {
					ts.Ready = c.Status == "True"
				}
			}
		}
		if i < len(selfIPs) {
			ts.SelfIP = selfIPs[i].String()
			ts.BGP = "no session at the router"
			for _, n := range neighbors {
				if n.Address == selfIPs[i] {
					ts.BGP = n.State
				}
			}
		}
		tmms = append(tmms, ts)
	}
	return tmms
}

// bgpSelfIPs are the replicas' IPv4 self IPs on the BGP VLAN (IPv6 when a
// replica has no IPv4 one).
func bgpSelfIPs(t *topology.Topology) []netip.Addr {
	v := t.BGPVLAN()
	if v == nil {
		return nil
	}
	var out []netip.Addr
	for _, s := range v.SelfIPs {
		a, err := netip.ParseAddr(s.IPv4)
		if err != nil {
			a, _ = netip.ParseAddr(s.IPv6)
		}
		out = append(out, a)
	}
	return out
}

func (l *Lab) routeStatus(ctx context.Context) []RouteStatus {
	want := l.Topo.ExpectedRouterRoutes()
	if len(want) == 0 {
		return nil
	}
	if _, err := l.docker.ContainerInspect(ctx, l.Topo.RouterContainer()); err != nil {
		return nil
	}
	rib, err := l.RouterVTY().RIB(ctx, frr.IPv4, frr.IPv6)
	if err != nil {
		return nil
	}
	var out []RouteStatus
	for _, w := range want {
		rs := RouteStatus{Prefix: w.Prefix.String(), What: w.What}
		for _, h := range w.NextHops {
			rs.Want = append(rs.Want, h.String())
		}
		if r, ok := frr.SelectedRoute(rib, w.Prefix); ok {
			for _, h := range r.NextHops {
				if h.Active {
					rs.Got = append(rs.Got, h.Addr.String())
				}
			}
		}
		slices.Sort(rs.Want)
		slices.Sort(rs.Got)
		rs.Complete = slices.Equal(rs.Want, rs.Got)
		out = append(out, rs)
	}
	return out
}

// WriteTable prints the status for a terminal.
func (s *Status) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "kind lab %s\n\nSTEP\tSTATE\tDETAIL\n", s.Lab)
	for _, st := range s.Steps {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", st.Step, st.State, st.Reason)
	}
	if len(s.Nodes) > 0 {
		fmt.Fprintln(tw, "\nNODE\tREADY\tTMM NODE")
		for _, n := range s.Nodes {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", n.Name, yesNo(n.Ready), yesNo(n.TMM))
		}
	}
	if len(s.TMMs) > 0 {
		fmt.Fprintln(tw, "\nTMM\tNODE\tPHASE\tREADY\tSELF IP\tBGP AT ROUTER")
		for _, t := range s.TMMs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Pod, dash(t.Node), t.Phase, yesNo(t.Ready), dash(t.SelfIP), dash(t.BGP))
		}
	}
	if len(s.CRs) > 0 {
		fmt.Fprintln(tw, "\nCR\tACCEPTED\tPROGRAMMED\tMESSAGE")
		for _, c := range s.CRs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Object, dash(c.Accepted), dash(c.Programmed), c.Message)
		}
	}
	if len(s.Routes) > 0 {
		fmt.Fprintln(tw, "\nROUTE\tFOR\tEXPECTED NEXT HOPS\tROUTER USES\tOK")
		for _, r := range s.Routes {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Prefix, r.What, strings.Join(r.Want, " "), dash(strings.Join(r.Got, " ")), yesNo(r.Complete))
		}
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// TMMLocalAPI is the TMM API's unix socket inside a TMM pod (the chart's
// --api): in the clear, for kubectl exec spk-tmm stats and the readiness
// probe.
const TMMLocalAPI = "unix:/run/spk-tmm/api.sock"

// TMMAPIPort reads where the installed chart's TMM serves its gRPC API in
// the pod (the chart's tmm.apiPort): the StatefulSet's port "grpc-api".
func (l *Lab) TMMAPIPort(ctx context.Context) (int, error) {
	out, err := l.Kubectl(ctx, nil, "-n", l.Topo.SPK.Namespace, "get", "statefulset", spkchart.TMMStatefulSet,
		"-o", `jsonpath={.spec.template.spec.containers[*].ports[?(@.name=="grpc-api")].containerPort}`)
	if err != nil {
		return 0, fmt.Errorf("reading the TMM API port: %w", err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil || port <= 0 || port > 65535 {
		return 0, fmt.Errorf("reading the TMM API port: statefulset %s/%s has no container port grpc-api (got %q)", l.Topo.SPK.Namespace, spkchart.TMMStatefulSet, out)
	}
	return port, nil
}

// ControlPlaneName is the control-plane node's container.
func (l *Lab) ControlPlaneName() string { return l.Topo.Cluster.Name + "-" + topology.RoleControlPlane }
