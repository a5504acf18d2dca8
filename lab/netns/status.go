package netns

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/vishvananda/netlink"

	"github.com/spklab/spklab/host/frr"
	"github.com/spklab/spklab/internal/netconv"
)

// Status is what exists of a lab.
type Status struct {
	Cluster    string            `json:"cluster"`
	RunDir     string            `json:"runDir"`
	RunDirOK   bool              `json:"runDirExists"`
	Namespaces []NamespaceStatus `json:"namespaces"`
	// BGP is the router's view of its sessions with the TMMs; nil when the
	// router has static routes or FRR does not answer.
	BGP []BGPPeerStatus `json:"bgp,omitempty"`
	// Routing lists what the router still lacks of the routes the TMMs
	// should give it (empty: converged).
	RoutingProblems []string `json:"routingProblems,omitempty"`
}

// BGPPeerStatus is one BGP session as the router sees it.
type BGPPeerStatus struct {
	Address  string `json:"address"`
	RemoteAS uint32 `json:"remoteAS"`
	State    string `json:"state"`
	Uptime   string `json:"uptime,omitempty"`
	Received int    `json:"received"`
}

// NamespaceStatus is one namespace of the lab (planned or found).
type NamespaceStatus struct {
	Name   string `json:"name"`
	Role   string `json:"role"`
	Exists bool   `json:"exists"`
	// Planned is false for a namespace with the lab's prefix that the
	// topology no longer has (Up leaves it, Down removes it).
	Planned   bool            `json:"planned"`
	Links     []LinkStatus    `json:"links,omitempty"`
	Processes []ProcessStatus `json:"processes,omitempty"`
}

// LinkStatus is one link of a namespace (loopback left out).
type LinkStatus struct {
	Name      string   `json:"name"`
	Type      string   `json:"type"`
	Up        bool     `json:"up"`
	Master    string   `json:"master,omitempty"`
	Addresses []string `json:"addresses,omitempty"`
}

// ProcessStatus is a process the lab runs in a namespace.
type ProcessStatus struct {
	Name    string `json:"name"`
	PID     int    `json:"pid,omitempty"`
	Running bool   `json:"running"`
}

// Up reports whether every planned namespace exists and every process runs.
func (s *Status) Up() bool {
	for _, ns := range s.Namespaces {
		if ns.Planned && !ns.Exists {
			return false
		}
		for _, p := range ns.Processes {
			if !p.Running {
				return false
			}
		}
	}
	return len(s.Namespaces) > 0
}

// Status reads the lab back from the kernel and the run dir.
func (l *Lab) Status(ctx context.Context) (*Status, error) {
	s := &Status{Cluster: l.plan.cluster, RunDir: l.opts.RunDir}
	if st, err := os.Stat(l.opts.RunDir); err == nil && st.IsDir() {
		s.RunDirOK = true
	}
	existing, err := l.ownNamespaces()
	if err != nil {
		return nil, err
	}
	exists := map[string]bool{}
	for _, ns := range existing {
		exists[ns] = true
	}
	roles := map[string]string{l.plan.sw: RoleSwitch}
	for _, h := range l.plan.hosts {
		roles[h.ns] = h.role
	}
	names := l.Namespaces()
	for _, ns := range existing {
		if _, planned := roles[ns]; !planned {
			names = append(names, ns)
		}
	}
	for _, ns := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		role, planned := roles[ns]
		if !planned {
			role = strings.TrimPrefix(ns, l.plan.prefix)
		}
		n := NamespaceStatus{Name: ns, Role: role, Exists: exists[ns], Planned: planned}
		if n.Exists {
			links, err := linkStatus(ns)
			if err != nil {
				return nil, err
			}
			n.Links = links
		}
		n.Processes = l.processStatus(ns)
		s.Namespaces = append(s.Namespaces, n)
	}
	if exists[l.RouterNS()] {
		l.routerStatus(ctx, s)
	}
	return s, nil
}

// routerStatus adds the router's BGP sessions and what its RIB lacks.
func (l *Lab) routerStatus(ctx context.Context, s *Status) {
	r, err := l.Router()
	if r == nil || err != nil || !r.Running() {
		return
	}
	vty := r.VTY()
	ns, err := vty.Neighbors(ctx)
	if err != nil {
		s.RoutingProblems = append(s.RoutingProblems, "router BGP: "+err.Error())
		return
	}
	for _, n := range ns {
		p := BGPPeerStatus{Address: n.Address.String(), RemoteAS: n.RemoteAS, State: n.State}
		if n.Established() {
			p.Uptime = n.Uptime.String()
		}
		for _, c := range n.Prefixes {
			p.Received += c.Received
		}
		s.BGP = append(s.BGP, p)
	}
	rib, err := vty.RIB(ctx, frr.IPv4, frr.IPv6)
	if err != nil {
		s.RoutingProblems = append(s.RoutingProblems, "router RIB: "+err.Error())
		return
	}
	s.RoutingProblems = frr.Mismatches(rib, l.topo.ExpectedRouterRoutes())
}

func linkStatus(ns string) ([]LinkStatus, error) {
	h, err := handle(ns)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("links of %s: %w", ns, err)
	}
	byIndex := map[int]string{}
	for _, lk := range links {
		byIndex[lk.Attrs().Index] = lk.Attrs().Name
	}
	var out []LinkStatus
	for _, lk := range links {
		a := lk.Attrs()
		if a.Name == "lo" && a.Flags&net.FlagLoopback != 0 {
			addrs, _ := h.AddrList(lk, netlink.FAMILY_ALL)
			if !hasNonLoopback(addrs) {
				continue
			}
		}
		ls := LinkStatus{Name: a.Name, Type: lk.Type(), Up: a.Flags&net.FlagUp != 0, Master: byIndex[a.MasterIndex]}
		addrs, err := h.AddrList(lk, netlink.FAMILY_ALL)
		if err != nil {
			return nil, fmt.Errorf("addresses of %s in %s: %w", a.Name, ns, err)
		}
		for _, ad := range addrs {
			p := netconv.Prefix(ad.IPNet)
			if kernelOwned(p.Addr()) {
				continue
			}
			ls.Addresses = append(ls.Addresses, p.String())
		}
		out = append(out, ls)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func hasNonLoopback(addrs []netlink.Addr) bool {
	for _, a := range addrs {
		if p := netconv.Prefix(a.IPNet); !p.Addr().IsLoopback() {
			return true
		}
	}
	return false
}

// WriteTable writes the status as a table: one row per link, with the
// namespace's processes on its first row.
func (s *Status) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "NAMESPACE\tROLE\tSTATE\tLINK\tADDRESSES\tPROCESSES\n")
	for _, ns := range s.Namespaces {
		state := "missing"
		if ns.Exists {
			state = "ok"
		}
		if !ns.Planned {
			state += " (not in topology)"
		}
		var procs []string
		for _, p := range ns.Processes {
			run := "stopped"
			if p.Running {
				run = fmt.Sprintf("running pid %d", p.PID)
			}
			procs = append(procs, p.Name+" "+run)
		}
		rows := ns.Links
		if len(rows) == 0 {
			rows = []LinkStatus{{}}
		}
		for i, lk := range rows {
			name, role, st, pr := "", "", "", ""
			if i == 0 {
				name, role, st, pr = ns.Name, ns.Role, state, strings.Join(procs, ", ")
			}
			linkDesc := lk.Name
			if lk.Name != "" {
				if !lk.Up {
					linkDesc += " (down)"
				}
				if lk.Master != "" {
					linkDesc += " @" + lk.Master
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, role, st, linkDesc, strings.Join(lk.Addresses, " "), pr)
		}
	}
	if len(s.BGP) > 0 {
		fmt.Fprintf(tw, "\nROUTER BGP PEER\tAS\tSTATE\tUP\tPREFIXES\t\n")
		for _, p := range s.BGP {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t\n", p.Address, p.RemoteAS, p.State, p.Uptime, p.Received)
		}
	}
	for _, p := range s.RoutingProblems {
		fmt.Fprintf(tw, "routing: %s\n", p)
	}
	return tw.Flush()
}

// processStatus reports the processes the lab runs in ns.
func (l *Lab) processStatus(ns string) []ProcessStatus {
	var out []ProcessStatus
	for _, p := range l.processes() {
		if p.ns != ns {
			continue
		}
		ps := ProcessStatus{Name: p.name, PID: p.running()}
		ps.Running = ps.PID != 0
		out = append(out, ps)
	}
	if ns == l.RouterNS() && l.UsesBGP() {
		r, err := l.Router()
		out = append(out, ProcessStatus{Name: "frr", Running: err == nil && r.Running()})
	}
	return out
}
