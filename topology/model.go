package topology

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/spklab/spklab/internal/ipcheck"
)

// NodeNames returns the node names kind gives the cluster's nodes, in order:
// "<cluster>-control-plane", "<cluster>-control-plane2", …, "<cluster>-worker",
// "<cluster>-worker2", … (kind numbers each role from its second node on).
func (c Cluster) NodeNames() []string {
	counts := map[string]int{}
	names := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		counts[n.Role]++
		names[i] = c.Name + "-" + n.Role
		if counts[n.Role] > 1 {
			names[i] += fmt.Sprint(counts[n.Role])
		}
	}
	return names
}

// Workers returns the names of the worker nodes, in order.
func (c Cluster) Workers() []string {
	var out []string
	for i, name := range c.NodeNames() {
		if c.Nodes[i].Role == RoleWorker {
			out = append(out, name)
		}
	}
	return out
}

// IsTMMNode reports whether the node hosts TMM.
func (c Cluster) IsTMMNode(name string) bool {
	for _, n := range c.TMMNodes {
		if n == name {
			return true
		}
	}
	return false
}

// Network returns the network with that name, or nil.
func (t *Topology) Network(name string) *Network {
	for i := range t.Networks {
		if t.Networks[i].Name == name {
			return &t.Networks[i]
		}
	}
	return nil
}

// ComposeManaged reports whether the network belongs to the compose project
// (no kind node attaches to it) rather than being created by spklab.
func (n Network) ComposeManaged() bool { return n.Attach == nil }

// DockerName is the name docker knows the network by.
func (t *Topology) DockerName(n Network) string {
	if n.ComposeManaged() {
		return t.Infra.Project + "_" + n.Name
	}
	return n.Name
}

// AttachedNodes returns the nodes that get an interface on the network.
func (t *Topology) AttachedNodes(n Network) []string {
	if n.Attach == nil {
		return nil
	}
	if len(n.Attach.Nodes) > 0 {
		return n.Attach.Nodes
	}
	return t.Cluster.Workers()
}

// NodeAddress returns the pinned address of node on the network, if any.
func (a *NodeAttachment) NodeAddress(node string) (NodeAddress, bool) {
	if a == nil {
		return NodeAddress{}, false
	}
	for _, na := range a.Addresses {
		if na.Node == node {
			return na, true
		}
	}
	return NodeAddress{}, false
}

// RouterContainer is the router's container name (compose v2 naming).
func (t *Topology) RouterContainer() string {
	return t.Infra.Project + "-" + t.Router.Service + "-1"
}

// ClientContainer is the client's container name (compose v2 naming).
func (t *Topology) ClientContainer() string {
	return t.Infra.Project + "-" + t.Client.Service + "-1"
}

// RouterInterfaceOn returns the router's untagged interface on the network.
func (t *Topology) RouterInterfaceOn(network string) (RouterInterface, bool) {
	for _, ri := range t.Router.Interfaces {
		if ri.Network == network && ri.VLAN == 0 {
			return ri, true
		}
	}
	return RouterInterface{}, false
}

// TMMInterface returns the TMM interface with that name, or nil.
func (t *Topology) TMMInterface(name string) *TMMInterface {
	for i := range t.TMM.Interfaces {
		if t.TMM.Interfaces[i].Name == name {
			return &t.TMM.Interfaces[i]
		}
	}
	return nil
}

// VLANNetwork returns the network a VLAN runs over, or nil.
func (t *Topology) VLANNetwork(v VLAN) *Network {
	ifc := t.TMMInterface(v.Interface)
	if ifc == nil {
		return nil
	}
	return t.Network(ifc.Network)
}

// VLANSubnets returns the VLAN's effective subnets: its own, or for an
// untagged VLAN left empty, those of the network behind its interface.
// Zero prefixes mean "none" (or not parseable; Validate reports that).
func (t *Topology) VLANSubnets(v VLAN) (v4, v6 netip.Prefix) {
	s4, s6 := v.IPv4Subnet, v.IPv6Subnet
	if v.Tag == 0 {
		if n := t.VLANNetwork(v); n != nil {
			if s4 == "" {
				s4 = n.IPv4Subnet
			}
			if s6 == "" {
				s6 = n.IPv6Subnet
			}
		}
	}
	return ipcheck.Valid(s4, ipcheck.IPv4), ipcheck.Valid(s6, ipcheck.IPv6)
}

// Subnets returns the network's valid subnets (zero when absent or invalid).
func (n Network) Subnets() (v4, v6 netip.Prefix) {
	return ipcheck.Valid(n.IPv4Subnet, ipcheck.IPv4), ipcheck.Valid(n.IPv6Subnet, ipcheck.IPv6)
}

// VLANByTag returns the TMM VLAN with that tag running over the network.
func (t *Topology) VLANByTag(network string, tag int) *VLAN {
	for i := range t.TMM.VLANs {
		v := &t.TMM.VLANs[i]
		if n := t.VLANNetwork(*v); n != nil && n.Name == network && v.Tag == tag {
			return v
		}
	}
	return nil
}

// TaggedVLANSubnets are the IPv4 and IPv6 subnets of the TMM VLAN with that
// tag on the network (zero prefixes when there is none).
func (t *Topology) TaggedVLANSubnets(network string, tag int) (netip.Prefix, netip.Prefix) {
	if v := t.VLANByTag(network, tag); v != nil {
		return t.VLANSubnets(*v)
	}
	return netip.Prefix{}, netip.Prefix{}
}

// BGPVLAN returns the VLAN the TMM's BGP neighbors are on: the first VLAN
// whose subnet holds the first neighbor, else the first non-internal VLAN.
func (t *Topology) BGPVLAN() *VLAN {
	if len(t.TMM.BGP.Neighbors) > 0 {
		if ip, err := netip.ParseAddr(t.TMM.BGP.Neighbors[0].IP); err == nil {
			for i := range t.TMM.VLANs {
				v4, v6 := t.VLANSubnets(t.TMM.VLANs[i])
				if (v4.IsValid() && v4.Contains(ip)) || (v6.IsValid() && v6.Contains(ip)) {
					return &t.TMM.VLANs[i]
				}
			}
		}
	}
	for i := range t.TMM.VLANs {
		if !t.TMM.VLANs[i].Internal {
			return &t.TMM.VLANs[i]
		}
	}
	return nil
}

// TMMRouterID is replica i's BGP router-id: its IPv4 self IP on BGPVLAN.
func (t *Topology) TMMRouterID(replica int) string {
	v := t.BGPVLAN()
	if v == nil || replica >= len(v.SelfIPs) {
		return ""
	}
	return v.SelfIPs[replica].IPv4
}

// EffectiveListenRanges are the prefixes the router accepts dynamic BGP
// peers from: ListenRanges, or the subnets of the non-internal TMM VLANs
// the router has an interface on.
func (t *Topology) EffectiveListenRanges() []string {
	if len(t.Router.ListenRanges) > 0 {
		return t.Router.ListenRanges
	}
	var out []string
	for _, v := range t.TMM.VLANs {
		n := t.VLANNetwork(v)
		if v.Internal || n == nil || !t.routerOnVLAN(n.Name, v.Tag) {
			continue
		}
		v4, v6 := t.VLANSubnets(v)
		for _, p := range []netip.Prefix{v4, v6} {
			if p.IsValid() {
				out = append(out, p.String())
			}
		}
	}
	return out
}

func (t *Topology) routerOnVLAN(network string, tag int) bool {
	for _, ri := range t.Router.Interfaces {
		if ri.Network == network && ri.VLAN == tag {
			return true
		}
	}
	return false
}

// SplitLabel splits "key=value".
func SplitLabel(s string) (key, value string, ok bool) {
	return strings.Cut(s, "=")
}

// SplitTaint splits "key=value:Effect" (value may be empty: "key:Effect").
func SplitTaint(s string) (key, value, effect string, ok bool) {
	kv, effect, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", "", false
	}
	key, value, _ = strings.Cut(kv, "=")
	return key, value, effect, key != "" && effect != ""
}

// RenameCluster gives the cluster a new name and renames the nodes the
// topology refers to by their kind-derived names ("<cluster>-worker2"), so
// that a second lab (a test's, say) never meets the first one.
func (t *Topology) RenameCluster(name string) {
	old := t.Cluster.Name
	rename := func(s string) string {
		if rest, ok := strings.CutPrefix(s, old+"-"); ok {
			return name + "-" + rest
		}
		return s
	}
	t.Cluster.Name = name
	for i := range t.Cluster.TMMNodes {
		t.Cluster.TMMNodes[i] = rename(t.Cluster.TMMNodes[i])
	}
	for _, n := range t.Networks {
		if n.Attach == nil {
			continue
		}
		for i := range n.Attach.Nodes {
			n.Attach.Nodes[i] = rename(n.Attach.Nodes[i])
		}
		for i := range n.Attach.Addresses {
			n.Attach.Addresses[i].Node = rename(n.Attach.Addresses[i].Node)
		}
	}
}

// RenameNetwork renames the docker network old to name everywhere the
// topology refers to it (router, client, syslog, TMM interfaces), so two
// labs on one machine can keep their networks apart. It reports whether
// old was a network of the topology.
func (t *Topology) RenameNetwork(old, name string) bool {
	found := false
	for i := range t.Networks {
		if t.Networks[i].Name == old {
			t.Networks[i].Name, found = name, true
		}
	}
	if !found {
		return false
	}
	swap := func(s *string) {
		if *s == old {
			*s = name
		}
	}
	for i := range t.Router.Interfaces {
		swap(&t.Router.Interfaces[i].Network)
	}
	for i := range t.TMM.Interfaces {
		swap(&t.TMM.Interfaces[i].Network)
	}
	swap(&t.Client.Network)
	swap(&t.Syslog.Network)
	return true
}

// RouterRoute is a host route the lab router must have once BGP has
// converged, with exactly these next hops (TMM self IPs on the BGP VLAN).
type RouterRoute struct {
	Prefix   netip.Prefix
	NextHops []netip.Addr
	// What the route is for: "VIP red-ingress", "SNAT red-snat row 1".
	What string
}

// ExpectedRouterRoutes are the routes the TMMs' BGP gives the router:
// every VIP via every replica (ECMP), every SNAT address via the replica
// whose row holds it. Replicas without a self IP of the family on the BGP
// VLAN are left out; nil without BGP neighbors.
func (t *Topology) ExpectedRouterRoutes() []RouterRoute {
	v := t.BGPVLAN()
	if v == nil || len(t.TMM.BGP.Neighbors) == 0 {
		return nil
	}
	replicas := min(t.TMM.Replicas, len(v.SelfIPs))
	hop := func(i int, is4 bool) netip.Addr {
		s := v.SelfIPs[i].IPv6
		if is4 {
			s = v.SelfIPs[i].IPv4
		}
		a, _ := netip.ParseAddr(s)
		return a
	}
	var out []RouterRoute
	host := func(s string) (netip.Prefix, bool) {
		a, err := netip.ParseAddr(s)
		return netip.PrefixFrom(a, a.BitLen()), err == nil
	}
	for _, tn := range t.Tenants {
		if in := tn.Ingress; in != nil {
			for _, s := range []string{in.IPv4, in.IPv6} {
				p, ok := host(s)
				if !ok {
					continue
				}
				r := RouterRoute{Prefix: p, What: "VIP " + in.Name}
				for i := range replicas {
					if h := hop(i, p.Addr().Is4()); h.IsValid() {
						r.NextHops = append(r.NextHops, h)
					}
				}
				out = append(out, r)
			}
		}
		if sp := tn.SNATPool; sp != nil {
			for i, row := range sp.Rows {
				if i >= replicas {
					break
				}
				for _, s := range row {
					p, ok := host(s)
					if h := hop(i, p.Addr().Is4()); ok && h.IsValid() {
						out = append(out, RouterRoute{Prefix: p, NextHops: []netip.Addr{h}, What: fmt.Sprintf("SNAT %s row %d", sp.Name, i)})
					}
				}
			}
		}
	}
	return out
}
