package netns

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/spklab/spklab/nodeagent/tenantnet"
	"github.com/spklab/spklab/topology"
)

// Roles of the namespaces; a node's role is its name, a TMM's "tmm<i>" and a
// pod's "pod-<tenant>-<k>".
const (
	RoleSwitch = "sw"
	RoleRouter = "router"
	RoleClient = "client"
)

// NamespacePrefix starts every namespace of every netns lab.
const NamespacePrefix = "spklab-"

// PodGateway is the pods' default gateway, as Calico sets it: a link-local
// address every node answers for on every pod link.
var PodGateway = netip.MustParseAddr("169.254.1.1")

// PodPort is the port the tenant pods serve on (the Services' targetPort).
const PodPort = 80

// Pod is a tenant pod of the lab.
type Pod struct {
	Tenant string `json:"tenant"` // the tenant namespace
	Name   string `json:"name"`   // "<tenant>-<k>"
	// Namespace is the pod's network namespace.
	Namespace string     `json:"namespace"`
	Node      string     `json:"node"`
	IP        netip.Addr `json:"ip"`
	// HostLink is the node side of the pod's veth ("cali…").
	HostLink string `json:"hostLink"`
}

// plan is everything the lab is made of, derived from the topology alone.
type plan struct {
	cluster string
	prefix  string // "spklab-<cluster>-"
	sw      string
	bridges []bridge
	hosts   []*host
	pods    []Pod
	// nodes maps a node's namespace to its tenant egress (nil: none).
	nodes map[string]*tenantnet.Node
	tmms  []tmmProcess
	sites []nginxSite
	// staticRouting: the router has static routes instead of FRR.
	staticRouting bool
}

type bridge struct{ name, network string }

// host is one namespace other than the switch.
type host struct {
	role, ns string
	links    []link
	loAddrs  []netip.Prefix
	routes   []route
	// sysctls are applied in order once the links exist.
	sysctls []sysctl
}

// link is a veth pair: name in the host, peer in peerNS (the switch, where
// it joins bridge, or a node for a pod).
type link struct {
	name, peer, peerNS, bridge string
	addrs                      []netip.Prefix
	// peerSysctls and peerRoutes belong to peerNS (a pod's node side).
	peerSysctls []sysctl
	peerRoutes  []route
	vlans       []vlanLink
}

// vlanLink is an 802.1Q link on top of a host link.
type vlanLink struct {
	name  string
	tag   int
	addrs []netip.Prefix
	what  string // for errors: "router interface on external-net"
}

// route is a static route: dst via gws (several = ECMP), or onlink dev.
type route struct {
	dst netip.Prefix
	gws []netip.Addr
	dev string
}

type sysctl struct{ key, value string }

type tmmProcess struct {
	ns         string
	replica    int
	interfaces []string
}

type nginxSite struct {
	role, ns string
	// check is the address Up waits on to see nginx listening.
	check netip.Addr
	body  string // "/" answer
	pod   string // X-Pod header, for pods
}

// Namespace is the namespace name of a role in cluster c.
func Namespace(cluster, role string) string { return NamespacePrefix + cluster + "-" + role }

// TMMRole is the role of TMM replica i.
func TMMRole(i int) string { return "tmm" + strconv.Itoa(i) }

// PodRole is the role of a tenant's k-th pod.
func PodRole(tenant string, k int) string { return "pod-" + tenant + "-" + strconv.Itoa(k) }

// makePlan derives the lab from a valid topology. With staticRouting the
// router gets static routes to the VIPs and SNAT addresses (a data plane
// that speaks no BGP); otherwise FRR learns them from the TMMs.
func makePlan(t *topology.Topology, staticRouting bool) (*plan, error) {
	p := &plan{
		cluster:       t.Cluster.Name,
		staticRouting: staticRouting,
		prefix:        NamespacePrefix + t.Cluster.Name + "-",
		nodes:         map[string]*tenantnet.Node{},
	}
	p.sw = p.ns(RoleSwitch)
	for i, n := range t.Networks {
		name := n.Name
		if len(name) > 15 || strings.ContainsAny(name, "/ :") {
			name = "br" + strconv.Itoa(i)
		}
		p.bridges = append(p.bridges, bridge{name: name, network: n.Name})
	}
	for _, build := range []func(*topology.Topology) error{p.router, p.client, p.tmm, p.workers} {
		if err := build(t); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *plan) ns(role string) string { return p.prefix + role }

func (p *plan) bridgeOf(network string) (string, error) {
	for _, b := range p.bridges {
		if b.network == network {
			return b.name, nil
		}
	}
	return "", fmt.Errorf("network %q is not in the topology", network)
}

// swLink is a host link plugged into a network's bridge.
func (p *plan) swLink(name, peer, network string, addrs []netip.Prefix) (link, error) {
	br, err := p.bridgeOf(network)
	if err != nil {
		return link{}, err
	}
	return link{name: name, peer: peer, peerNS: p.sw, bridge: br, addrs: addrs}, nil
}

// hostAddrs parses a host's addresses with the prefix lengths of subnets.
func hostAddrs(what string, v4, v6 string, s4, s6 netip.Prefix) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, a := range []struct {
		s      string
		subnet netip.Prefix
	}{{v4, s4}, {v6, s6}} {
		if a.s == "" {
			continue
		}
		addr, err := netip.ParseAddr(a.s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if !a.subnet.IsValid() {
			return nil, fmt.Errorf("%s: %s has no subnet of its family", what, addr)
		}
		out = append(out, netip.PrefixFrom(addr, a.subnet.Bits()))
	}
	return out, nil
}

func (p *plan) router(t *topology.Topology) error {
	h := &host{role: RoleRouter, ns: p.ns(RoleRouter)}
	untagged := map[string]int{} // network → index in h.links
	for _, ri := range t.Router.Interfaces {
		if ri.VLAN != 0 {
			continue
		}
		n := t.Network(ri.Network)
		if n == nil {
			return fmt.Errorf("router interface on unknown network %q", ri.Network)
		}
		s4, s6 := n.Subnets()
		addrs, err := hostAddrs("router interface on "+ri.Network, ri.IPv4, ri.IPv6, s4, s6)
		if err != nil {
			return err
		}
		name := "eth" + strconv.Itoa(len(h.links))
		l, err := p.swLink(name, "rt-"+name, ri.Network, addrs)
		if err != nil {
			return err
		}
		untagged[ri.Network] = len(h.links)
		h.links = append(h.links, l)
	}
	for _, ri := range t.Router.Interfaces {
		if ri.VLAN == 0 {
			continue
		}
		i, ok := untagged[ri.Network]
		if !ok {
			return fmt.Errorf("router VLAN %d on %s: the router has no untagged interface on %s to carry it", ri.VLAN, ri.Network, ri.Network)
		}
		s4, s6 := t.TaggedVLANSubnets(ri.Network, ri.VLAN)
		what := fmt.Sprintf("router interface on %s VLAN %d", ri.Network, ri.VLAN)
		addrs, err := hostAddrs(what, ri.IPv4, ri.IPv6, s4, s6)
		if err != nil {
			return err
		}
		l := &h.links[i]
		l.vlans = append(l.vlans, vlanLink{name: l.name + "." + strconv.Itoa(ri.VLAN), tag: ri.VLAN, addrs: addrs, what: what})
	}
	policy := strconv.Itoa(t.Router.MultipathHashPolicy)
	h.sysctls = []sysctl{
		{"net/ipv4/ip_forward", "1"},
		{"net/ipv6/conf/all/forwarding", "1"},
		{"net/ipv4/fib_multipath_hash_policy", policy},
		{"net/ipv6/fib_multipath_hash_policy", policy},
	}
	if p.staticRouting {
		routes, err := routerRoutes(t)
		if err != nil {
			return err
		}
		h.routes = routes
	}
	p.hosts = append(p.hosts, h)
	return nil
}

// routerRoutes stand in for BGP when the TMMs do not speak it: every VIP via
// every replica's self IP on the BGP VLAN (ECMP), and each SNAT address of
// row i via replica i.
func routerRoutes(t *topology.Topology) ([]route, error) {
	v := t.BGPVLAN()
	if v == nil {
		return nil, nil
	}
	selfIPs := func(replica int) (v4, v6 netip.Addr) {
		if replica >= len(v.SelfIPs) {
			return
		}
		v4, _ = netip.ParseAddr(v.SelfIPs[replica].IPv4)
		v6, _ = netip.ParseAddr(v.SelfIPs[replica].IPv6)
		return
	}
	var out []route
	for _, tn := range t.Tenants {
		if ing := tn.Ingress; ing != nil {
			for _, s := range []string{ing.IPv4, ing.IPv6} {
				if s == "" {
					continue
				}
				vip, err := netip.ParseAddr(s)
				if err != nil {
					return nil, fmt.Errorf("tenant %s VIP: %w", tn.Namespace, err)
				}
				r := route{dst: netip.PrefixFrom(vip, vip.BitLen())}
				for i := range t.TMM.Replicas {
					v4, v6 := selfIPs(i)
					if gw := pick(vip, v4, v6); gw.IsValid() {
						r.gws = append(r.gws, gw)
					}
				}
				if len(r.gws) > 0 {
					out = append(out, r)
				}
			}
		}
		if sp := tn.SNATPool; sp != nil {
			for i, row := range sp.Rows {
				if i >= t.TMM.Replicas {
					break
				}
				v4, v6 := selfIPs(i)
				for _, s := range row {
					a, err := netip.ParseAddr(s)
					if err != nil {
						return nil, fmt.Errorf("snat pool %s: %w", sp.Name, err)
					}
					if gw := pick(a, v4, v6); gw.IsValid() {
						out = append(out, route{dst: netip.PrefixFrom(a, a.BitLen()), gws: []netip.Addr{gw}})
					}
				}
			}
		}
	}
	return out, nil
}

// pick returns the one of v4, v6 in a's family.
func pick(a, v4, v6 netip.Addr) netip.Addr {
	if a.Is4() {
		return v4
	}
	return v6
}

func (p *plan) client(t *topology.Topology) error {
	c := t.Client
	n := t.Network(c.Network)
	if n == nil {
		return fmt.Errorf("client network %q is not in the topology", c.Network)
	}
	s4, s6 := n.Subnets()
	addrs, err := hostAddrs("client", c.IPv4, c.IPv6, s4, s6)
	if err != nil {
		return err
	}
	l, err := p.swLink("eth0", "cl-eth0", c.Network, addrs)
	if err != nil {
		return err
	}
	h := &host{role: RoleClient, ns: p.ns(RoleClient), links: []link{l}}
	if gw, ok := t.RouterInterfaceOn(c.Network); ok {
		for _, s := range []struct{ gw, bits string }{{gw.IPv4, "0.0.0.0/0"}, {gw.IPv6, "::/0"}} {
			if a, err := netip.ParseAddr(s.gw); err == nil {
				h.routes = append(h.routes, route{dst: netip.MustParsePrefix(s.bits), gws: []netip.Addr{a}})
			}
		}
	}
	p.hosts = append(p.hosts, h)
	check, _ := netip.ParseAddr(c.IPv4)
	if !check.IsValid() {
		check, _ = netip.ParseAddr(c.IPv6)
	}
	p.sites = append(p.sites, nginxSite{role: RoleClient, ns: h.ns, check: check, body: "client " + t.ClientContainer() + "\n"})
	return nil
}

func (p *plan) tmm(t *topology.Topology) error {
	for i := range t.TMM.Replicas {
		h := &host{role: TMMRole(i), ns: p.ns(TMMRole(i))}
		proc := tmmProcess{ns: h.ns, replica: i}
		for _, ifc := range t.TMM.Interfaces {
			num, ok := strings.CutPrefix(ifc.Name, "1.")
			if !ok {
				return fmt.Errorf("TMM interface %q is not 1.N", ifc.Name)
			}
			name := "net" + num // the Multus name of attachment N
			l, err := p.swLink(name, "t"+strconv.Itoa(i)+"-"+name, ifc.Network, nil)
			if err != nil {
				return fmt.Errorf("TMM interface %s: %w", ifc.Name, err)
			}
			h.links = append(h.links, l)
			proc.interfaces = append(proc.interfaces, name)
			// The data plane owns the wire: the kernel neither answers ARP
			// nor keeps a link-local IPv6 address there.
			h.sysctls = append(h.sysctls,
				sysctl{"net/ipv6/conf/" + name + "/disable_ipv6", "1"},
				sysctl{"net/ipv4/conf/" + name + "/arp_ignore", "8"})
		}
		p.hosts = append(p.hosts, h)
		p.tmms = append(p.tmms, proc)
	}
	return nil
}

// egressVLAN is the internal (cluster-facing) TMM VLAN, whose network
// carries tenant egress from the nodes.
func egressVLAN(t *topology.Topology) *topology.VLAN {
	for i := range t.TMM.VLANs {
		if t.TMM.VLANs[i].Internal {
			return &t.TMM.VLANs[i]
		}
	}
	return nil
}

func (p *plan) workers(t *topology.Topology) error {
	workers := t.Cluster.Workers()
	podNet, err := netip.ParsePrefix(t.Cluster.PodSubnet)
	if err != nil || !podNet.Addr().Is4() || podNet.Bits() > 24 {
		return fmt.Errorf("pod subnet %q: the netns runtime needs an IPv4 subnet of /24 or larger (one /24 per node)", t.Cluster.PodSubnet)
	}
	if len(workers) >= 1<<(24-podNet.Bits()) {
		return fmt.Errorf("pod subnet %s has too few /24 blocks for %d nodes", podNet, len(workers))
	}
	nodes := map[string]*host{}
	nodeIndex := map[string]int{}
	underlay := map[string]string{}  // node → egress device
	local := map[string]netip.Addr{} // node → egress IPv4
	egress := egressVLAN(t)
	for j, node := range workers {
		h := &host{role: node, ns: p.ns(node)}
		h.sysctls = []sysctl{
			{"net/ipv4/ip_forward", "1"},
			{"net/ipv6/conf/all/forwarding", "1"},
			{"net/ipv4/conf/all/rp_filter", "0"},
			{"net/ipv4/conf/default/rp_filter", "0"},
		}
		// Pods ARP for PodGateway on their cali link; with no default
		// route in the namespace proxy_arp alone would not answer, so the
		// node owns the address, host-scoped so that it is never the
		// source of the node's own packets.
		h.loAddrs = []netip.Prefix{netip.PrefixFrom(PodGateway, 32)}
		for _, n := range t.Networks {
			a := n.Attach
			if a == nil || !a.KeepAddress || !attached(t, n, node) {
				continue
			}
			na, ok := a.NodeAddress(node)
			if !ok {
				return fmt.Errorf("node %s on %s: the netns runtime needs the node's address pinned in the attachment", node, n.Name)
			}
			s4, s6 := n.Subnets()
			if a.VLAN != 0 {
				s4, s6 = t.TaggedVLANSubnets(n.Name, a.VLAN)
			}
			addrs, err := hostAddrs("node "+node+" on "+n.Name, na.IPv4, na.IPv6, s4, s6)
			if err != nil {
				return err
			}
			dev := a.Interface
			var l link
			if a.VLAN == 0 {
				l, err = p.swLink(a.Interface, "n"+strconv.Itoa(j+1)+"-"+a.Interface, n.Name, addrs)
			} else {
				l, err = p.swLink(a.Interface, "n"+strconv.Itoa(j+1)+"-"+a.Interface, n.Name, nil)
				dev = a.Interface + "." + strconv.Itoa(a.VLAN)
				l.vlans = []vlanLink{{name: dev, tag: a.VLAN, addrs: addrs, what: fmt.Sprintf("node %s on %s VLAN %d", node, n.Name, a.VLAN)}}
			}
			if err != nil {
				return err
			}
			h.links = append(h.links, l)
			h.sysctls = append(h.sysctls, sysctl{"net/ipv4/conf/" + a.Interface + "/rp_filter", "0"})
			if egress != nil {
				if en := t.VLANNetwork(*egress); en != nil && en.Name == n.Name {
					underlay[node] = dev
					local[node], _ = netip.ParseAddr(na.IPv4)
				}
			}
		}
		nodes[node] = h
		nodeIndex[node] = j + 1
		p.hosts = append(p.hosts, h)
	}

	// Tenant pods go round robin over the workers TMM does not taint.
	var schedulable []string
	for _, w := range workers {
		if !t.Cluster.IsTMMNode(w) {
			schedulable = append(schedulable, w)
		}
	}
	next := map[string]netip.Addr{}
	for _, w := range workers {
		// The n-th node's block is the n-th /24 of the pod subnet; its
		// pods get the addresses after the block's first.
		block := podNet.Masked().Addr().As4()
		base := uint32(block[0])<<24 | uint32(block[1])<<16 | uint32(block[2])<<8 | uint32(block[3])
		base += uint32(nodeIndex[w]) << 8
		next[w] = netip.AddrFrom4([4]byte{byte(base >> 24), byte(base >> 16), byte(base >> 8), byte(base)})
	}
	k := 0
	for _, tn := range t.Tenants {
		if tn.Replicas > 0 && len(schedulable) == 0 {
			return fmt.Errorf("tenant %s: no worker without the TMM taint to run its pods", tn.Namespace)
		}
		for i := range tn.Replicas {
			node := schedulable[k%len(schedulable)]
			k++
			ip := next[node].Next()
			next[node] = ip
			pod := Pod{
				Tenant:    tn.Namespace,
				Name:      tn.Namespace + "-" + strconv.Itoa(i),
				Namespace: p.ns(PodRole(tn.Namespace, i)),
				Node:      node,
				IP:        ip,
			}
			pod.HostLink = caliName(pod.Namespace)
			p.pods = append(p.pods, pod)
			nodeNS := nodes[node].ns
			p.hosts = append(p.hosts, &host{
				role: PodRole(tn.Namespace, i),
				ns:   pod.Namespace,
				links: []link{{
					name: "eth0", peer: pod.HostLink, peerNS: nodeNS,
					addrs:       []netip.Prefix{netip.PrefixFrom(ip, 32)},
					peerSysctls: []sysctl{{"net/ipv4/conf/" + pod.HostLink + "/proxy_arp", "1"}},
					peerRoutes:  []route{{dst: netip.PrefixFrom(ip, 32), dev: pod.HostLink}},
				}},
				routes: []route{
					{dst: netip.PrefixFrom(PodGateway, 32), dev: "eth0"},
					{dst: netip.MustParsePrefix("0.0.0.0/0"), gws: []netip.Addr{PodGateway}},
				},
			})
			p.sites = append(p.sites, nginxSite{
				role: PodRole(tn.Namespace, i), ns: pod.Namespace, check: ip,
				body: "pod " + pod.Name + " node " + node + "\n", pod: pod.Name,
			})
		}
	}

	// Tenant egress on the nodes hosting pods of tenants with a SNAT pool.
	if egress == nil {
		return nil
	}
	var tmms []netip.Addr
	for i := 0; i < t.TMM.Replicas && i < len(egress.SelfIPs); i++ {
		if a, err := netip.ParseAddr(egress.SelfIPs[i].IPv4); err == nil {
			tmms = append(tmms, a)
		}
	}
	exempt := []netip.Prefix{podNet}
	if s, err := netip.ParsePrefix(t.Cluster.ServiceSubnet); err == nil {
		exempt = append(exempt, s.Masked())
	}
	e4, e6 := t.VLANSubnets(*egress)
	for _, s := range []netip.Prefix{e4, e6} {
		if s.IsValid() {
			exempt = append(exempt, s.Masked())
		}
	}
	for _, tn := range t.Tenants {
		if tn.SNATPool == nil {
			continue
		}
		for _, pod := range p.pods {
			if pod.Tenant != tn.Namespace {
				continue
			}
			nodeNS := nodes[pod.Node].ns
			tnode := p.nodes[nodeNS]
			if tnode == nil {
				if underlay[pod.Node] == "" || !local[pod.Node].Is4() {
					return fmt.Errorf("node %s hosts egress pods of %s but has no IPv4 address on the egress network", pod.Node, tn.Namespace)
				}
				tnode = &tenantnet.Node{Underlay: underlay[pod.Node], Local: local[pod.Node], Exempt: exempt, Guard: tmms}
				p.nodes[nodeNS] = tnode
			}
			ti := -1
			for i := range tnode.Tenants {
				if tnode.Tenants[i].Name == tn.Namespace {
					ti = i
				}
			}
			if ti < 0 {
				tnode.Tenants = append(tnode.Tenants, tenantnet.Tenant{Name: tn.Namespace, VNI: uint32(tn.VXLANKey), TMMs: tmms})
				ti = len(tnode.Tenants) - 1
			}
			tnode.Tenants[ti].Pods = append(tnode.Tenants[ti].Pods, pod.IP)
		}
	}
	return nil
}

func attached(t *topology.Topology, n topology.Network, node string) bool {
	for _, a := range t.AttachedNodes(n) {
		if a == node {
			return true
		}
	}
	return false
}

// caliName is the node side of a pod's veth: "cali" and 8 hex digits of a
// hash of the pod, as Calico names them.
func caliName(pod string) string {
	sum := sha1.Sum([]byte(pod))
	return "cali" + hex.EncodeToString(sum[:4])
}
