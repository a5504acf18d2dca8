package doctor

import (
	"bufio"
	"context"
	"fmt"
	"github.com/spklab/spklab/host/docker"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/spklab/spklab/internal/netconv"
	"github.com/spklab/spklab/topology"
)

// Kinds of lab subnet: they differ in what a clash breaks.
const (
	subnetBridge   = "bridge"   // a docker bridge: the host gets a route for it
	subnetMacvlan  = "macvlan"  // parentless macvlan: lives only inside containers
	subnetPods     = "pods"     // inside the kind nodes
	subnetServices = "services" // inside the kind nodes
	subnetKind     = "kind"     // kind's node network
)

// KindNetworkIPv6 is the IPv6 subnet kind gives its "kind" docker network
// (fixed in kind's docker provider; IPv4 is picked free by docker).
const KindNetworkIPv6 = "fc00:f853:ccd:e793::/64"

// labSubnet is one subnet the lab will use.
type labSubnet struct {
	What   string // how a student knows it: "external-net (docker network external-net)"
	Prefix netip.Prefix
	Kind   string
	// Docker is the docker network the lab makes for it ("" for none).
	Docker string
}

// labSubnets lists the topology's networks, kind's network and the pod and
// service subnets.
func labSubnets(t *topology.Topology) []labSubnet {
	var out []labSubnet
	for _, n := range t.Networks {
		kind := subnetBridge
		if n.Driver == topology.DriverMacvlan {
			kind = subnetMacvlan
		}
		v4, v6 := n.Subnets()
		for _, p := range []netip.Prefix{v4, v6} {
			if p.IsValid() {
				out = append(out, labSubnet{
					What: fmt.Sprintf("%s (%s docker network %s)", n.Name, n.Driver, t.DockerName(n)), Prefix: p.Masked(), Kind: kind, Docker: t.DockerName(n),
				})
			}
		}
	}
	if p, err := netip.ParsePrefix(KindNetworkIPv6); err == nil {
		out = append(out, labSubnet{What: "kind's node network (docker network kind)", Prefix: p, Kind: subnetKind, Docker: "kind"})
	}
	for _, s := range []struct{ cidr, what, kind string }{
		{t.Cluster.PodSubnet, "the pod subnet (cluster.podSubnet)", subnetPods},
		{t.Cluster.ServiceSubnet, "the service subnet (cluster.serviceSubnet)", subnetServices},
	} {
		if p, err := netip.ParsePrefix(s.cidr); err == nil {
			out = append(out, labSubnet{What: s.what, Prefix: p.Masked(), Kind: s.kind})
		}
	}
	return out
}

// hostRoute is a route of the host's main table.
type hostRoute struct {
	Prefix netip.Prefix
	Dev    string
}

func (r hostRoute) String() string { return fmt.Sprintf("host route %s dev %s", r.Prefix, r.Dev) }

// hostRoutes reads the main routing table of this (the root) namespace.
func hostRoutes() ([]hostRoute, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("listing host routes: %w", err)
	}
	names := map[int]string{}
	var out []hostRoute
	for _, r := range routes {
		if r.Dst == nil {
			continue // default route
		}
		p := netconv.Prefix(r.Dst)
		if !p.IsValid() || p.Bits() == 0 {
			continue // default routes overlap everything and clash with nothing
		}
		dev, ok := names[r.LinkIndex]
		if !ok {
			if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
				dev = l.Attrs().Name
			}
			names[r.LinkIndex] = dev
		}
		out = append(out, hostRoute{Prefix: p.Masked(), Dev: dev})
	}
	return out, nil
}

// nameservers reads resolv.conf's nameserver addresses.
func nameservers(r io.Reader) []netip.Addr {
	var out []netip.Addr
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil {
				out = append(out, a.Unmap())
			}
		}
	}
	return out
}

// clash is one lab subnet that overlaps something already on the host.
type clash struct {
	Lab      labSubnet
	Other    string
	Blocking bool
	Why      string
}

func (c clash) String() string {
	return fmt.Sprintf("%s %s overlaps %s", c.Lab.What, c.Lab.Prefix, c.Other)
}

// findClashes compares the lab's subnets with the host's routes and docker
// networks. The lab's own docker networks (already made by spklab or kind)
// and routes through their bridges are not clashes; a lab network that
// exists with other subnets is. What a clash blocks depends on the kind:
//   - a docker network on the subnet: docker refuses to create the lab's;
//   - a host route on a bridge network's subnet: the bridge adds a second
//     route for the same addresses;
//   - a host route on a parentless macvlan, kind, pod or service subnet:
//     only the lab's containers see those addresses, so the host keeps its
//     route; lab containers cannot reach the host's neighbours there — that
//     blocks only when the host's DNS server is among them.
func findClashes(lab []labSubnet, routes []hostRoute, nets []docker.Network, dns []netip.Addr) []clash {
	labNets := map[string][]netip.Prefix{}
	for _, l := range lab {
		if l.Docker != "" {
			labNets[l.Docker] = append(labNets[l.Docker], l.Prefix)
		}
	}
	ownBridges := map[string]bool{}
	var out []clash
	for _, n := range nets {
		want, ours := labNets[n.Name]
		if !ours {
			continue
		}
		if n.Bridge != "" {
			ownBridges[n.Bridge] = true
		}
		if n.Name == "kind" {
			continue // kind picks its own IPv4 subnet; reusing its network is normal
		}
		for _, p := range want {
			if !slices.Contains(n.Subnets, p) {
				out = append(out, clash{
					Lab: labSubnet{What: "docker network " + n.Name, Prefix: p, Docker: n.Name}, Other: fmt.Sprintf("the existing docker network %s with %v", n.Name, n.Subnets), Blocking: true,
					Why: "a network of that name already exists with other subnets (left from another lab?): remove it (spklab down, or docker network rm " + n.Name + ")",
				})
			}
		}
	}
	for _, l := range lab {
		for _, n := range nets {
			if _, ours := labNets[n.Name]; ours {
				continue
			}
			for _, s := range n.Subnets {
				if !s.Overlaps(l.Prefix) {
					continue
				}
				c := clash{Lab: l, Other: fmt.Sprintf("docker network %s (%s)", n.Name, s)}
				if l.Docker != "" {
					c.Blocking = true
					c.Why = "docker will refuse to create the lab's network (\"Pool overlaps with other one on this address space\"): remove that network (docker network rm " + n.Name + ") or change the topology's subnet"
				} else {
					c.Why = "containers on that network and " + l.What + " share addresses; traffic from the kind nodes to them may go astray"
				}
				out = append(out, c)
			}
		}
		for _, r := range routes {
			if ownBridges[r.Dev] || !r.Prefix.Overlaps(l.Prefix) {
				continue
			}
			c := clash{Lab: l, Other: r.String()}
			switch l.Kind {
			case subnetBridge:
				c.Blocking = true
				c.Why = "the lab's bridge would add a second host route for these addresses: the host would lose either its own network or the lab; change the topology's subnet (spklab init, then edit networks)"
			default:
				c.Why = "these addresses exist only inside the lab's containers, so the host keeps its route, but lab containers cannot reach the host's neighbours in " + r.Prefix.String()
				for _, a := range dns {
					if r.Prefix.Contains(a) && l.Prefix.Contains(a) {
						c.Blocking = true
						c.Why += fmt.Sprintf(", and the host's DNS server %s is one of them: name lookups from the lab would go into the lab; change the topology's subnet", a)
					}
				}
			}
			out = append(out, c)
		}
	}
	return out
}

func checkSubnets(ctx context.Context, h *host) Result {
	lab := labSubnets(h.topo)
	routes, err := hostRoutes()
	if err != nil {
		return notChecked(err)
	}
	var nets []docker.Network
	dockerNote := ""
	if h.dockerOK(ctx) {
		if nets, err = h.docker.Networks(ctx); err != nil {
			return notChecked(err)
		}
	} else {
		dockerNote = " (docker networks not checked: docker is not reachable)"
	}
	var dns []netip.Addr
	if f, err := os.Open("/etc/resolv.conf"); err == nil {
		dns = nameservers(f)
		f.Close()
	}
	clashes := findClashes(lab, routes, nets, dns)
	if len(clashes) == 0 {
		return Result{Status: StatusOK, Finding: fmt.Sprintf("none of the lab's %d subnets overlaps the host's %d routes or %d docker networks%s",
			len(lab), len(routes), len(nets), dockerNote)}
	}
	r := Result{Status: StatusWarn}
	var lines []string
	// One explanation per reason, naming every clash it covers.
	var reasons []string
	byReason := map[string][]string{}
	for _, c := range clashes {
		mark := "warning"
		if c.Blocking {
			r.Status = StatusFail
			mark = "blocks"
		}
		lines = append(lines, fmt.Sprintf("%s (%s)", c, mark))
		if _, seen := byReason[c.Why]; !seen {
			reasons = append(reasons, c.Why)
		}
		byReason[c.Why] = append(byReason[c.Why], c.String())
	}
	var why []string
	for _, reason := range reasons {
		why = append(why, fmt.Sprintf("%s: %s.", strings.Join(byReason[reason], "; "), reason))
	}
	r.Finding = strings.Join(lines, "; ") + dockerNote
	r.Explanation = strings.Join(why, " ")
	const other = "use other subnets: spklab init writes spklab.yaml; change the clashing subnets (and the addresses in them) there, then pass -f spklab.yaml"
	r.Fix = other
	if r.Status == StatusWarn {
		r.Fix = "nothing, for the lab itself. If lab containers must reach those host neighbours, " + other
	}
	return r
}
