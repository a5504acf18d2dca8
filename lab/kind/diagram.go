package kind

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	"github.com/spklab/spklab/topology/render"
)

// LiveDiagram is the lab as it is now: what docker and the cluster hold,
// read back, not what the topology says.
type LiveDiagram struct {
	Lab      string
	Status   *Status
	Networks []LiveNetwork
	Infra    []LiveContainer
	Pods     map[string][]string // tenant → "pod on node (ip)"
}

// LiveNetwork is a docker network of the lab and who is on it now.
type LiveNetwork struct {
	Name, Driver string
	Members      []string // "container iface address…"
}

// LiveContainer is an infra container and its state.
type LiveContainer struct {
	Name, State string
}

// Live reads the lab's docker networks, infra containers, pods and status.
func (l *Lab) Live(ctx context.Context) (*LiveDiagram, error) {
	d := &LiveDiagram{Lab: l.Topo.Cluster.Name, Status: l.Status(ctx), Pods: map[string][]string{}}
	nets, err := l.LabNetworks(ctx)
	if err != nil {
		return nil, err
	}
	infraNets, err := l.infraNetworks(ctx)
	if err != nil {
		return nil, err
	}
	nets = append(nets, infraNets...)
	// Docker keeps the address it gave a node on a network whose node
	// interface the lab flushed: say so rather than show it.
	flushed := map[string]bool{}
	for _, dn := range render.DockerNetworks(l.Topo) {
		for _, a := range dn.Attach {
			if !a.KeepAddress {
				flushed[dn.Name+"/"+a.Node] = true
			}
		}
	}
	for _, n := range nets {
		info, err := l.docker.NetworkInspect(ctx, n.ID, network.InspectOptions{})
		if err != nil {
			return nil, fmt.Errorf("inspecting network %s: %w", n.Name, err)
		}
		ln := LiveNetwork{Name: n.Name, Driver: n.Driver}
		for _, ep := range info.Containers {
			m := ep.Name
			if flushed[n.Name+"/"+ep.Name] {
				ln.Members = append(ln.Members, m+" (no address in the node: only TMM uses this wire)")
				continue
			}
			for _, a := range []string{ep.IPv4Address, ep.IPv6Address} {
				if a != "" {
					m += " " + a
				}
			}
			ln.Members = append(ln.Members, m)
		}
		slices.Sort(ln.Members)
		d.Networks = append(d.Networks, ln)
	}
	slices.SortFunc(d.Networks, func(a, b LiveNetwork) int { return strings.Compare(a.Name, b.Name) })
	cs, err := l.docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("label", composeProjectLabel+"="+l.Topo.Infra.Project))})
	if err != nil {
		return nil, fmt.Errorf("listing infra containers: %w", err)
	}
	for _, c := range cs {
		d.Infra = append(d.Infra, LiveContainer{Name: strings.TrimPrefix(c.Names[0], "/"), State: c.Status})
	}
	slices.SortFunc(d.Infra, func(a, b LiveContainer) int { return strings.Compare(a.Name, b.Name) })
	for _, tn := range l.Topo.Tenants {
		out, err := l.Kubectl(ctx, nil, "-n", tn.Namespace, "get", "pods", "-l", render.LabelApp+"="+tn.Deployment,
			"-o", `jsonpath={range .items[*]}{.metadata.name} on {.spec.nodeName} ({.status.podIP}){"\n"}{end}`)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if line != "" {
				d.Pods[tn.Namespace] = append(d.Pods[tn.Namespace], line)
			}
		}
	}
	return d, nil
}

// WriteText draws the live lab for a terminal.
func (d *LiveDiagram) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\nNOW — kind lab %s as docker and Kubernetes hold it\n", d.Lab)
	fmt.Fprintln(tw, "\nsteps\t"+stepsLine(d.Status))
	for _, n := range d.Status.Nodes {
		role := "node"
		if n.TMM {
			role = "DPU node (TMM)"
		}
		fmt.Fprintf(tw, "%s\t%s, Ready %s\n", n.Name, role, yesNo(n.Ready))
	}
	for _, n := range d.Networks {
		fmt.Fprintf(tw, "\nnetwork %s (%s)\t%d on it\n", n.Name, n.Driver, len(n.Members))
		for _, m := range n.Members {
			fmt.Fprintf(tw, "  ├─ %s\t\n", m)
		}
	}
	if len(d.Infra) > 0 {
		fmt.Fprintln(tw, "\ninfra containers\t")
		for _, c := range d.Infra {
			fmt.Fprintf(tw, "  ├─ %s\t%s\n", c.Name, c.State)
		}
	}
	if len(d.Status.TMMs) > 0 {
		fmt.Fprintln(tw, "\nTMM replicas\t")
		for _, t := range d.Status.TMMs {
			fmt.Fprintf(tw, "  ├─ %s on %s\t%s, ready %s, self IP %s, BGP at the router: %s\n", t.Pod, dash(t.Node), t.Phase, yesNo(t.Ready), dash(t.SelfIP), dash(t.BGP))
		}
	}
	for _, tn := range sortedKeys(d.Pods) {
		fmt.Fprintf(tw, "\ntenant %s\t%d pods\n", tn, len(d.Pods[tn]))
		for _, p := range d.Pods[tn] {
			fmt.Fprintf(tw, "  ├─ %s\t\n", p)
		}
	}
	if len(d.Status.Routes) > 0 {
		fmt.Fprintln(tw, "\nrouter's routes to the TMMs\t")
		for _, r := range d.Status.Routes {
			mark := "✓"
			if !r.Complete {
				mark = "✗ want " + strings.Join(r.Want, " ")
			}
			fmt.Fprintf(tw, "  ├─ %s (%s)\tvia %s %s\n", r.Prefix, r.What, dash(strings.Join(r.Got, " ")), mark)
		}
	}
	return tw.Flush()
}

func stepsLine(s *Status) string {
	var parts []string
	for _, st := range s.Steps {
		mark := "✓"
		if st.State != "done" {
			mark = "✗"
		}
		parts = append(parts, st.Step+" "+mark)
	}
	return strings.Join(parts, "  ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
