package topology

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/spklab/spklab/internal/ipcheck"
)

// Limits of the values Validate checks.
const (
	MaxASN      = 4294967295
	MaxVLANTag  = 4094
	MaxVXLANKey = 16777215
	MinMTU      = 1500
	MaxMTU      = 9000
	// MaxIdleTimeout is the longest idleTimeout accepted, in seconds (one day).
	MaxIdleTimeout = 86400
	// MaxGracefulRestartTime is the largest BGP restart time (a 12-bit field).
	MaxGracefulRestartTime = 4095
	// MaxClusterNameLen keeps "<name>-control-plane2" a valid hostname.
	MaxClusterNameLen = 40
)

var (
	dnsLabel       = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsSubdomain   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
	dockerName     = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	composeProject = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	semver         = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`)
	tmmIfName      = regexp.MustCompile(`^1\.[0-9]+$`)
)

var taintEffects = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}

// Validate checks the whole topology and returns every problem found, each
// as "path: reason"; nil means the lab can be built.
func Validate(t *Topology) Problems {
	v := &validator{t: t, addrs: map[netip.Addr]string{}, vips: map[netip.Addr]bool{}}
	v.cluster()
	v.cni()
	v.images()
	v.networks()
	v.tmmVLANSubnets()
	v.subnetOverlaps()
	v.infra()
	v.router()
	v.client()
	v.tmm()
	v.syslog()
	v.tenants()
	if len(v.list) == 0 {
		return nil
	}
	return v.list
}

type validator struct {
	problemList
	t *Topology
	// addrs maps every address claimed so far to the path that claimed it.
	addrs map[netip.Addr]string
	// vips are the addresses in addrs that are VIPs.
	vips map[netip.Addr]bool
	// subnets are every subnet of the lab, for overlap and VIP checks.
	subnets []ownedPrefix
	// vlanSubnets holds each valid VLAN's effective subnets by VLAN index.
	vlanSubnets map[int][2]netip.Prefix
}

// claim records that path uses a; a second user of the same address is a
// problem.
func (v *validator) claim(path string, a netip.Addr) {
	if owner, ok := v.addrs[a]; ok {
		v.add(path, "%s is already used by %s", a, owner)
		return
	}
	v.addrs[a] = path
}

// host parses s as an address of family f inside subnet (when subnet is
// valid) and claims it. Empty s is not checked.
func (v *validator) host(path, s string, f ipcheck.Family, subnet netip.Prefix) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	a, ok := v.parseAddr(path, s, f)
	if !ok {
		return a, false
	}
	if subnet.IsValid() && !v.hostIn(path, a, subnet) {
		return a, false
	}
	v.claim(path, a)
	return a, true
}

// unique reports the second and later uses of a name.
type uniqueNames map[string]string

func (u uniqueNames) check(l *problemList, path, what, name string) {
	if name == "" {
		return
	}
	if first, ok := u[name]; ok {
		l.add(path, "%s %q is already used by %s", what, name, first)
		return
	}
	u[name] = path
}

func (v *validator) cluster() {
	c := v.t.Cluster
	if c.Name == "" {
		v.add("cluster.name", "must not be empty")
	} else if !dnsLabel.MatchString(c.Name) || len(c.Name) > MaxClusterNameLen {
		v.add("cluster.name", "%q is not a valid cluster name (lowercase letters, digits and '-', at most %d characters)", c.Name, MaxClusterNameLen)
	}
	if !semver.MatchString(c.KubernetesVersion) {
		v.add("cluster.kubernetesVersion", "%q is not a version like v1.32.0", c.KubernetesVersion)
	}
	if p, ok := v.parsePrefix("cluster.podSubnet", c.PodSubnet, ipcheck.Any); ok {
		v.subnets = append(v.subnets, ownedPrefix{"cluster.podSubnet", p})
	}
	if p, ok := v.parsePrefix("cluster.serviceSubnet", c.ServiceSubnet, ipcheck.Any); ok {
		v.subnets = append(v.subnets, ownedPrefix{"cluster.serviceSubnet", p})
	}
	controlPlanes := 0
	for i, n := range c.Nodes {
		switch n.Role {
		case RoleControlPlane:
			controlPlanes++
		case RoleWorker:
		default:
			v.add(fmt.Sprintf("cluster.nodes[%d].role", i), "%q is not one of %s, %s", n.Role, RoleControlPlane, RoleWorker)
		}
	}
	if controlPlanes == 0 {
		v.add("cluster.nodes", "no %s node (kind needs at least one)", RoleControlPlane)
	}
	names := c.NodeNames()
	seen := uniqueNames{}
	for i, n := range c.TMMNodes {
		path := fmt.Sprintf("cluster.tmmNodes[%d]", i)
		role := v.nodeRole(n)
		switch {
		case role == "":
			v.add(path, "%q is not a node of the cluster (nodes: %s)", n, strings.Join(names, ", "))
		case role != RoleWorker:
			v.add(path, "%q is a %s node; TMM runs on workers", n, role)
		default:
			seen.check(&v.problemList, path, "node", n)
		}
	}
	if k, _, ok := SplitLabel(c.TMMNodeLabel); !ok || k == "" {
		v.add("cluster.tmmNodeLabel", "%q is not key=value", c.TMMNodeLabel)
	}
	if _, _, effect, ok := SplitTaint(c.TMMNodeTaint); !ok {
		v.add("cluster.tmmNodeTaint", "%q is not key=value:Effect", c.TMMNodeTaint)
	} else if !slices.Contains(taintEffects, effect) {
		v.add("cluster.tmmNodeTaint", "effect %q is not one of %s", effect, strings.Join(taintEffects, ", "))
	}
}

// nodeRole returns the role of the named node, or "" if there is none.
func (v *validator) nodeRole(name string) string {
	for i, n := range v.t.Cluster.NodeNames() {
		if n == name {
			return v.t.Cluster.Nodes[i].Role
		}
	}
	return ""
}

func (v *validator) cni() {
	c := v.t.CNI
	for _, f := range []struct{ path, value string }{
		{"cni.calicoVersion", c.CalicoVersion},
		{"cni.multusVersion", c.MultusVersion},
		{"cni.cniPluginsVersion", c.CNIPluginsVersion},
	} {
		if !semver.MatchString(f.value) {
			v.add(f.path, "%q is not a version like v1.2.3", f.value)
		}
	}
}

func (v *validator) images() {
	im := v.t.Images
	for _, f := range []struct{ path, value string }{
		{"images.node", im.Node}, {"images.router", im.Router}, {"images.client", im.Client},
		{"images.syslog", im.Syslog}, {"images.tmm", im.TMM}, {"images.controller", im.Controller},
		{"images.nodeAgent", im.NodeAgent}, {"images.app", im.App},
	} {
		if f.value == "" {
			v.add(f.path, "must not be empty")
		} else if strings.ContainsAny(f.value, " \t\n") {
			v.add(f.path, "%q is not an image reference", f.value)
		}
	}
}

func (v *validator) networks() {
	names := uniqueNames{}
	// ifaces maps node/interface to the network path that uses it.
	ifaces := map[string]string{}
	for i, n := range v.t.Networks {
		p := itemPath("networks", i, n.Name)
		if n.Name == "" {
			v.add(p+".name", "must not be empty")
		} else if !dockerName.MatchString(n.Name) {
			v.add(p+".name", "%q is not a valid docker network name", n.Name)
		}
		names.check(&v.problemList, fmt.Sprintf("networks[%d].name", i), "network name", n.Name)
		if n.Driver != DriverBridge && n.Driver != DriverMacvlan {
			v.add(p+".driver", "%q is not one of %s, %s", n.Driver, DriverBridge, DriverMacvlan)
		}
		if n.IPv4Subnet == "" && n.IPv6Subnet == "" {
			v.add(p, "needs ipv4Subnet or ipv6Subnet")
		}
		s4 := v.subnet(p+".ipv4Subnet", n.IPv4Subnet, ipcheck.IPv4)
		s6 := v.subnet(p+".ipv6Subnet", n.IPv6Subnet, ipcheck.IPv6)
		v.gateway(p+".ipv4Gateway", n.IPv4Gateway, ipcheck.IPv4, n.IPv4Subnet, s4)
		v.gateway(p+".ipv6Gateway", n.IPv6Gateway, ipcheck.IPv6, n.IPv6Subnet, s6)
		if n.Attach != nil {
			v.attachment(p+".attach", n, s4, s6, ifaces)
		}
	}
}

// subnet parses an optional network subnet and records it for overlap checks.
func (v *validator) subnet(path, s string, f ipcheck.Family) netip.Prefix {
	if s == "" {
		return netip.Prefix{}
	}
	p, ok := v.parsePrefix(path, s, f)
	if !ok {
		return netip.Prefix{}
	}
	v.subnets = append(v.subnets, ownedPrefix{path, p})
	return p
}

func (v *validator) gateway(path, s string, f ipcheck.Family, subnetText string, subnet netip.Prefix) {
	if s == "" {
		return
	}
	if subnetText == "" {
		v.add(path, "is set but the network has no %s subnet", f)
		return
	}
	v.host(path, s, f, subnet)
}

func (v *validator) attachment(path string, n Network, s4, s6 netip.Prefix, ifaces map[string]string) {
	a := n.Attach
	if a.Interface == "" {
		v.add(path+".interface", "must not be empty")
	} else if a.Interface == "eth0" {
		v.add(path+".interface", "eth0 is the node's kind network; use eth1, eth2, …")
	}
	attached := map[string]bool{}
	seen := uniqueNames{}
	for i, node := range a.Nodes {
		np := fmt.Sprintf("%s.nodes[%d]", path, i)
		if v.nodeRole(node) == "" {
			v.add(np, "%q is not a node of the cluster (nodes: %s)", node, strings.Join(v.t.Cluster.NodeNames(), ", "))
			continue
		}
		seen.check(&v.problemList, np, "node", node)
	}
	for _, node := range v.t.AttachedNodes(n) {
		attached[node] = true
		if a.Interface == "" {
			continue
		}
		key := node + "/" + a.Interface
		if other, ok := ifaces[key]; ok {
			v.add(path+".interface", "%s is already used on %s by %s", a.Interface, node, other)
		} else {
			ifaces[key] = path
		}
	}
	if a.VLAN != 0 {
		// Node addresses live on the tagged VLAN, in its subnets.
		var ok bool
		if s4, s6, ok = v.taggedVLANSubnets(path+".vlan", n.Name, a.VLAN); !ok {
			return
		}
	}
	seenAddr := uniqueNames{}
	for i, na := range a.Addresses {
		ap := fmt.Sprintf("%s.addresses[%d]", path, i)
		if !attached[na.Node] {
			v.add(ap+".node", "%q is not attached to %s", na.Node, n.Name)
			continue
		}
		seenAddr.check(&v.problemList, ap+".node", "node", na.Node)
		v.familyHost(ap+".ipv4", na.IPv4, ipcheck.IPv4, s4, "the network has no IPv4 subnet")
		v.familyHost(ap+".ipv6", na.IPv6, ipcheck.IPv6, s6, "the network has no IPv6 subnet")
	}
	if a.Annotation != "" && strings.ContainsAny(a.Annotation, " \t\n") {
		v.add(path+".annotation", "%q is not an annotation key", a.Annotation)
	}
}

// taggedVLANSubnets resolves the subnets of the TMM VLAN with that tag on the
// network, for addresses a router or node puts on that VLAN.
func (v *validator) taggedVLANSubnets(path, network string, tag int) (netip.Prefix, netip.Prefix, bool) {
	if tag < 1 || tag > MaxVLANTag {
		v.add(path, "%d is out of range 1–%d", tag, MaxVLANTag)
		return netip.Prefix{}, netip.Prefix{}, false
	}
	vl := v.t.VLANByTag(network, tag)
	if vl == nil {
		v.add(path, "no TMM VLAN with tag %d runs over %s", tag, network)
		return netip.Prefix{}, netip.Prefix{}, false
	}
	s4, s6 := v.t.VLANSubnets(*vl)
	return s4, s6, true
}

// familyHost checks an optional address of family f that must sit in subnet;
// an invalid subnet means the owner has no subnet of that family.
func (v *validator) familyHost(path, s string, f ipcheck.Family, subnet netip.Prefix, noSubnet string) {
	if s == "" {
		return
	}
	if !subnet.IsValid() {
		if _, ok := v.parseAddr(path, s, f); ok {
			v.add(path, "%s is set but %s", s, noSubnet)
		}
		return
	}
	v.host(path, s, f, subnet)
}

// tmmVLANSubnets checks the subnets VLANs declare themselves and records
// every VLAN's effective subnets.
func (v *validator) tmmVLANSubnets() {
	v.vlanSubnets = map[int][2]netip.Prefix{}
	for i, vl := range v.t.TMM.VLANs {
		p := itemPath("tmm.vlans", i, vl.Name)
		n := v.t.VLANNetwork(vl)
		for _, f := range []struct {
			field, value, networkValue string
			fam                        ipcheck.Family
		}{{"ipv4Subnet", vl.IPv4Subnet, networkSubnet(n, ipcheck.IPv4), ipcheck.IPv4}, {"ipv6Subnet", vl.IPv6Subnet, networkSubnet(n, ipcheck.IPv6), ipcheck.IPv6}} {
			if f.value == "" {
				continue
			}
			pr, ok := v.parsePrefix(p+"."+f.field, f.value, f.fam)
			switch {
			case !ok:
			case vl.Tag != 0:
				v.subnets = append(v.subnets, ownedPrefix{p + "." + f.field, pr})
			case f.networkValue != "" && f.networkValue != pr.String():
				// An untagged VLAN shares its network's L2 and L3.
				v.add(p+"."+f.field, "%s differs from %s's subnet %s; an untagged VLAN uses its network's subnet", pr, n.Name, f.networkValue)
			}
		}
		if vl.Tag != 0 && vl.IPv4Subnet == "" && vl.IPv6Subnet == "" {
			v.add(p, "a tagged VLAN needs ipv4Subnet or ipv6Subnet")
		}
		s4, s6 := v.t.VLANSubnets(vl)
		v.vlanSubnets[i] = [2]netip.Prefix{s4, s6}
	}
}

func networkSubnet(n *Network, f ipcheck.Family) string {
	switch {
	case n == nil:
		return ""
	case f == ipcheck.IPv4:
		return n.IPv4Subnet
	}
	return n.IPv6Subnet
}

func (v *validator) subnetOverlaps() {
	for i, a := range v.subnets {
		for _, b := range v.subnets[:i] {
			if a.prefix.Overlaps(b.prefix) {
				v.add(a.path, "%s overlaps %s", a.prefix, b)
			}
		}
	}
}

func (v *validator) infra() {
	if !composeProject.MatchString(v.t.Infra.Project) {
		v.add("infra.project", "%q is not a valid compose project name (lowercase letters, digits, '-' and '_')", v.t.Infra.Project)
	}
}

func (v *validator) serviceName(path, s string) {
	if !dnsLabel.MatchString(s) {
		v.add(path, "%q is not a valid compose service name (lowercase letters, digits and '-')", s)
	}
}

func (v *validator) asn(path string, asn int64) {
	if asn < 1 || asn > MaxASN {
		v.add(path, "%d is out of range 1–%d", asn, int64(MaxASN))
	}
}

func (v *validator) router() {
	r := v.t.Router
	v.serviceName("router.service", r.Service)
	v.asn("router.asn", r.ASN)
	if r.RouterID == "" {
		v.add("router.routerID", "must not be empty")
	} else {
		v.parseAddr("router.routerID", r.RouterID, ipcheck.IPv4)
	}
	seen := uniqueNames{}
	for i, ri := range r.Interfaces {
		p := fmt.Sprintf("router.interfaces[%d]", i)
		n := v.t.Network(ri.Network)
		if n == nil {
			v.add(p+".network", "%q is not a network (networks: %s)", ri.Network, strings.Join(v.networkNames(), ", "))
			continue
		}
		seen.check(&v.problemList, p, "network/VLAN", fmt.Sprintf("%s/%d", ri.Network, ri.VLAN))
		if ri.IPv4 == "" && ri.IPv6 == "" {
			v.add(p, "needs ipv4 or ipv6")
		}
		s4, s6 := n.Subnets()
		if ri.VLAN != 0 {
			var ok bool
			if s4, s6, ok = v.taggedVLANSubnets(p+".vlan", n.Name, ri.VLAN); !ok {
				continue
			}
		}
		v.familyHost(p+".ipv4", ri.IPv4, ipcheck.IPv4, s4, "its network has no IPv4 subnet")
		v.familyHost(p+".ipv6", ri.IPv6, ipcheck.IPv6, s6, "its network has no IPv6 subnet")
	}
	for i, s := range r.ListenRanges {
		v.parsePrefix(fmt.Sprintf("router.listenRanges[%d]", i), s, ipcheck.Any)
	}
	for i, s := range r.Announce {
		v.parsePrefix(fmt.Sprintf("router.announce[%d]", i), s, ipcheck.Any)
	}
	if r.MaximumPaths < 1 || r.MaximumPaths > 64 {
		v.add("router.maximumPaths", "%d is out of range 1–64", r.MaximumPaths)
	}
	if r.MultipathHashPolicy < 0 || r.MultipathHashPolicy > 3 {
		v.add("router.multipathHashPolicy", "%d is not a Linux fib_multipath_hash_policy (0–3)", r.MultipathHashPolicy)
	}
}

func (v *validator) networkNames() []string {
	names := make([]string, len(v.t.Networks))
	for i, n := range v.t.Networks {
		names[i] = n.Name
	}
	return names
}

// memberNetwork resolves a container's network and checks its addresses.
func (v *validator) memberNetwork(path, network string) *Network {
	n := v.t.Network(network)
	if n == nil {
		v.add(path, "%q is not a network (networks: %s)", network, strings.Join(v.networkNames(), ", "))
	}
	return n
}

func (v *validator) client() {
	c := v.t.Client
	v.serviceName("client.service", c.Service)
	if c.Service == v.t.Router.Service {
		v.add("client.service", "%q is also the router's service name", c.Service)
	}
	n := v.memberNetwork("client.network", c.Network)
	if n == nil {
		return
	}
	if c.IPv4 == "" && c.IPv6 == "" {
		v.add("client", "needs ipv4 or ipv6")
	}
	s4, s6 := n.Subnets()
	v.familyHost("client.ipv4", c.IPv4, ipcheck.IPv4, s4, "its network has no IPv4 subnet")
	v.familyHost("client.ipv6", c.IPv6, ipcheck.IPv6, s6, "its network has no IPv6 subnet")
	gw, ok := v.t.RouterInterfaceOn(c.Network)
	if !ok {
		v.add("client.network", "the router has no untagged interface on %s (the client's default route goes through it)", c.Network)
		return
	}
	if c.IPv4 != "" && gw.IPv4 == "" {
		v.add("client.ipv4", "the router has no IPv4 address on %s to route the client's IPv4 through", c.Network)
	}
	if c.IPv6 != "" && gw.IPv6 == "" {
		v.add("client.ipv6", "the router has no IPv6 address on %s to route the client's IPv6 through", c.Network)
	}
}

func (v *validator) syslog() {
	s := v.t.Syslog
	v.serviceName("syslog.service", s.Service)
	if s.Service == v.t.Router.Service || s.Service == v.t.Client.Service {
		v.add("syslog.service", "%q is also the router's or client's service name", s.Service)
	}
	if !dockerName.MatchString(s.ContainerName) {
		v.add("syslog.containerName", "%q is not a valid container name", s.ContainerName)
	}
	if s.Port < 1 || s.Port > 65535 {
		v.add("syslog.port", "%d is out of range 1–65535", s.Port)
	}
	n := v.memberNetwork("syslog.network", s.Network)
	if n == nil {
		return
	}
	s4, _ := n.Subnets()
	if s.IPv4 == "" {
		v.add("syslog.ipv4", "must not be empty")
		return
	}
	a, ok := v.host("syslog.ipv4", s.IPv4, ipcheck.IPv4, s4)
	if !ok {
		return
	}
	if !v.reachableFromTMM(a) {
		v.add("syslog.ipv4", "%s is not reachable from TMM: it is in no TMM VLAN subnet and in no prefix the router announces", a)
	}
}

// reachableFromTMM reports whether TMM has a connected or BGP-learned route
// to a.
func (v *validator) reachableFromTMM(a netip.Addr) bool {
	for _, s := range v.vlanSubnets {
		if (s[0].IsValid() && s[0].Contains(a)) || (s[1].IsValid() && s[1].Contains(a)) {
			return true
		}
	}
	for _, s := range v.t.Router.Announce {
		if p, err := netip.ParsePrefix(s); err == nil && p.Contains(a) {
			return true
		}
	}
	return false
}

func (v *validator) tmm() {
	tm := v.t.TMM
	if tm.Replicas < 1 {
		v.add("tmm.replicas", "%d must be at least 1", tm.Replicas)
	} else if tm.Replicas > len(v.t.Cluster.TMMNodes) {
		v.add("tmm.replicas", "%d replicas but only %d TMM nodes (cluster.tmmNodes); each replica needs its own node", tm.Replicas, len(v.t.Cluster.TMMNodes))
	}
	v.tmmInterfaces()
	v.vlans()
	v.bgp()
}

func (v *validator) tmmInterfaces() {
	tm := v.t.TMM
	if len(tm.Interfaces) == 0 {
		v.add("tmm.interfaces", "TMM needs at least one interface")
	}
	seen := uniqueNames{}
	for i, ifc := range tm.Interfaces {
		p := itemPath("tmm.interfaces", i, ifc.Name)
		if want := fmt.Sprintf("1.%d", i+1); ifc.Name != want {
			v.add(p+".name", "%q must be %q (interface 1.N is the TMM pod's N-th network attachment)", ifc.Name, want)
		}
		n := v.memberNetwork(p+".network", ifc.Network)
		if n == nil {
			continue
		}
		seen.check(&v.problemList, p+".network", "network", ifc.Network)
		if n.Attach == nil {
			v.add(p+".network", "%s has no node attachment (attach), so TMM pods cannot use it", n.Name)
			continue
		}
		attached := map[string]bool{}
		for _, node := range v.t.AttachedNodes(*n) {
			attached[node] = true
		}
		for _, node := range v.t.Cluster.TMMNodes {
			if v.nodeRole(node) == RoleWorker && !attached[node] {
				v.add(p+".network", "%s is not attached to TMM node %s", n.Name, node)
			}
		}
	}
}

func (v *validator) vlans() {
	tm := v.t.TMM
	names := uniqueNames{}
	tags := uniqueNames{}
	untagged := map[string]string{}
	internal, external := 0, 0
	for i, vl := range tm.VLANs {
		p := itemPath("tmm.vlans", i, vl.Name)
		if vl.Name == "" {
			v.add(p+".name", "must not be empty")
		} else if !dnsLabel.MatchString(vl.Name) {
			v.add(p+".name", "%q is not a valid VLAN name (lowercase letters, digits and '-')", vl.Name)
		}
		names.check(&v.problemList, fmt.Sprintf("tmm.vlans[%d].name", i), "VLAN name", vl.Name)
		if vl.Internal {
			internal++
		} else {
			external++
		}
		if v.t.TMMInterface(vl.Interface) == nil {
			v.add(p+".interface", "%q is not a TMM interface (tmm.interfaces)", vl.Interface)
		} else if !tmmIfName.MatchString(vl.Interface) {
			v.add(p+".interface", "%q is not a TMM interface name like 1.1", vl.Interface)
		}
		switch {
		case vl.Tag < 0 || vl.Tag > MaxVLANTag:
			v.add(p+".tag", "%d is out of range 0–%d (0 = untagged)", vl.Tag, MaxVLANTag)
		case vl.Tag == 0:
			if other, ok := untagged[vl.Interface]; ok {
				v.add(p+".tag", "interface %s already has an untagged VLAN (%s); only one per interface", vl.Interface, other)
			} else {
				untagged[vl.Interface] = p
			}
		default:
			tags.check(&v.problemList, p+".tag", "tag", fmt.Sprint(vl.Tag))
		}
		if vl.MTU < MinMTU || vl.MTU > MaxMTU {
			v.add(p+".mtu", "%d is out of range %d–%d", vl.MTU, MinMTU, MaxMTU)
		}
		v.selfIPs(p, i, vl)
	}
	if len(tm.VLANs) > 0 && external == 0 {
		v.add("tmm.vlans", "no external VLAN (internal: false); ingress and BGP need one")
	}
	if internal == 0 && v.anyTenant(func(t Tenant) bool { return t.SNATPool != nil || t.Ingress != nil }) {
		v.add("tmm.vlans", "no internal VLAN (internal: true); tenant ingress and egress need one")
	}
}

func (v *validator) selfIPs(p string, index int, vl VLAN) {
	if len(vl.SelfIPs) < v.t.TMM.Replicas {
		v.add(p+".selfIPs", "%d entries for %d TMM replicas (entry i is replica i's self IP)", len(vl.SelfIPs), v.t.TMM.Replicas)
	}
	s := v.vlanSubnets[index]
	for j, sip := range vl.SelfIPs {
		sp := fmt.Sprintf("%s.selfIPs[%d]", p, j)
		if sip.IPv4 == "" && sip.IPv6 == "" {
			v.add(sp, "needs ipv4 or ipv6")
			continue
		}
		if first := vl.SelfIPs[0]; j > 0 && ((first.IPv4 == "") != (sip.IPv4 == "") || (first.IPv6 == "") != (sip.IPv6 == "")) {
			v.add(sp, "has other address families than selfIPs[0]; every replica needs the same")
		}
		v.familyHost(sp+".ipv4", sip.IPv4, ipcheck.IPv4, s[0], "the VLAN has no IPv4 subnet")
		v.familyHost(sp+".ipv6", sip.IPv6, ipcheck.IPv6, s[1], "the VLAN has no IPv6 subnet")
	}
}

func (v *validator) anyTenant(f func(Tenant) bool) bool {
	for _, t := range v.t.Tenants {
		if f(t) {
			return true
		}
	}
	return false
}

func (v *validator) bgp() {
	b := v.t.TMM.BGP
	v.asn("tmm.bgp.asn", b.ASN)
	if b.ASN == v.t.Router.ASN {
		v.add("tmm.bgp.asn", "%d is the router's AS; the router peers with remote-as external, so TMM needs another AS", b.ASN)
	}
	if b.Hostname != "" && !dnsSubdomain.MatchString(b.Hostname) {
		v.add("tmm.bgp.hostname", "%q is not a valid hostname", b.Hostname)
	}
	if gr := b.GracefulRestart; gr.Enabled && (gr.RestartTime < 1 || gr.RestartTime > MaxGracefulRestartTime) {
		v.add("tmm.bgp.gracefulRestart.restartTime", "%d is out of range 1–%d seconds", gr.RestartTime, MaxGracefulRestartTime)
	}
	routerAddrs := map[netip.Addr]bool{}
	for _, ri := range v.t.Router.Interfaces {
		for _, s := range []string{ri.IPv4, ri.IPv6} {
			if a, err := netip.ParseAddr(s); err == nil {
				routerAddrs[a] = true
			}
		}
	}
	seen := map[netip.Addr]string{}
	for i, nb := range b.Neighbors {
		p := fmt.Sprintf("tmm.bgp.neighbors[%d]", i)
		v.asn(p+".asn", nb.ASN)
		if nb.EBGPMultihop < 0 || nb.EBGPMultihop > 255 {
			v.add(p+".ebgpMultihop", "%d is out of range 0–255", nb.EBGPMultihop)
		}
		a, ok := v.parseAddr(p+".ip", nb.IP, ipcheck.Any)
		if !ok {
			continue
		}
		if first, dup := seen[a]; dup {
			v.add(p+".ip", "%s is already a neighbor (%s)", a, first)
			continue
		}
		seen[a] = p
		if !routerAddrs[a] {
			v.add(p+".ip", "%s is not an address of the router %s", a, v.t.RouterContainer())
		} else if nb.ASN != v.t.Router.ASN {
			v.add(p+".asn", "%d but the router %s is AS %d", nb.ASN, v.t.RouterContainer(), v.t.Router.ASN)
		}
		if nb.Password != "" && (len(nb.Password) > 80 || strings.ContainsFunc(nb.Password, func(r rune) bool { return r <= ' ' || r > '~' })) {
			v.add(p+".password", "may hold only 1–80 printable ASCII characters without spaces")
		} else if i > 0 && nb.Password != b.Neighbors[0].Password {
			v.add(p+".password", "differs from neighbors[0]'s; the router's one peer group for TMM sessions holds one password")
		}
		if !nb.AcceptsIPv4 && !nb.AcceptsIPv6 {
			v.add(p, "accepts neither IPv4 nor IPv6 routes (set acceptsIPv4 or acceptsIPv6)")
		}
	}
}

func (v *validator) tenants() {
	namespaces := uniqueNames{}
	pools := uniqueNames{}
	keys := uniqueNames{}
	vips := uniqueNames{}
	for i, tn := range v.t.Tenants {
		p := itemPath("tenants", i, tn.Namespace)
		if !dnsLabel.MatchString(tn.Namespace) {
			v.add(p+".namespace", "%q is not a valid Kubernetes namespace name (RFC 1123 label)", tn.Namespace)
		}
		namespaces.check(&v.problemList, fmt.Sprintf("tenants[%d].namespace", i), "namespace", tn.Namespace)
		if tn.Namespace == v.t.SPK.Namespace {
			v.add(p+".namespace", "%q is the SPK namespace (spk.namespace)", tn.Namespace)
		}
		if !dnsSubdomain.MatchString(tn.Deployment) {
			v.add(p+".deployment", "%q is not a valid Kubernetes name", tn.Deployment)
		}
		if tn.Replicas < 1 {
			v.add(p+".replicas", "%d must be at least 1", tn.Replicas)
		}
		if !dnsLabel.MatchString(tn.Service.Name) {
			v.add(p+".service.name", "%q is not a valid Kubernetes Service name (RFC 1123 label)", tn.Service.Name)
		}
		if tn.Service.Port < 1 || tn.Service.Port > 65535 {
			v.add(p+".service.port", "%d is out of range 1–65535", tn.Service.Port)
		}
		if tn.VXLANKey < 1 || tn.VXLANKey > MaxVXLANKey {
			v.add(p+".vxlanKey", "%d is out of range 1–%d", tn.VXLANKey, MaxVXLANKey)
		} else {
			keys.check(&v.problemList, p+".vxlanKey", "VXLAN key", fmt.Sprint(tn.VXLANKey))
		}
		if tn.Ingress != nil {
			v.ingress(p+".ingress", tn.Ingress, vips)
		}
		if tn.SNATPool != nil {
			v.snatPool(p+".snatPool", tn.SNATPool, pools)
		}
	}
	if !dnsLabel.MatchString(v.t.SPK.Namespace) {
		v.add("spk.namespace", "%q is not a valid Kubernetes namespace name (RFC 1123 label)", v.t.SPK.Namespace)
	}
}

func (v *validator) ingress(p string, ing *Ingress, vips uniqueNames) {
	if !dnsSubdomain.MatchString(ing.Name) {
		v.add(p+".name", "%q is not a valid Kubernetes name", ing.Name)
	}
	if ing.IPv4 == "" && ing.IPv6 == "" {
		v.add(p, "needs ipv4 or ipv6 (the virtual server's address)")
	}
	if ing.Port < 0 || ing.Port > 65535 {
		v.add(p+".port", "%d is out of range 0–65535 (0 = every port)", ing.Port)
	}
	switch ing.LoadBalancingMethod {
	case LBRoundRobin, LBRatioLeastConnMember:
	default:
		v.add(p+".loadBalancingMethod", "%q is not one of %s, %s", ing.LoadBalancingMethod, LBRoundRobin, LBRatioLeastConnMember)
	}
	if ing.IdleTimeout < 1 || ing.IdleTimeout > MaxIdleTimeout {
		v.add(p+".idleTimeout", "%d is out of range 1–%d seconds", ing.IdleTimeout, MaxIdleTimeout)
	}
	for _, f := range []struct {
		field, value string
		fam          ipcheck.Family
	}{{"ipv4", ing.IPv4, ipcheck.IPv4}, {"ipv6", ing.IPv6, ipcheck.IPv6}} {
		if f.value == "" {
			continue
		}
		path := p + "." + f.field
		a, ok := v.parseAddr(path, f.value, f.fam)
		if !ok {
			continue
		}
		if s, inside := v.insideLabSubnet(a); inside {
			v.add(path, "%s is inside %s; a VIP must be outside the lab's subnets (BGP would shadow the on-link addresses)", a, s)
			continue
		}
		// A VIP may be shared by virtual servers on different ports, not
		// with anything else.
		if owner, used := v.addrs[a]; used && !v.vips[a] {
			v.add(path, "%s is already used by %s", a, owner)
			continue
		}
		if !v.vips[a] {
			v.addrs[a], v.vips[a] = path, true
		}
		vips.check(&v.problemList, path, "VIP:port", fmt.Sprintf("%s:%d", a, ing.Port))
	}
}

// insideLabSubnet returns the lab subnet holding a, if any.
func (v *validator) insideLabSubnet(a netip.Addr) (ownedPrefix, bool) {
	for _, s := range v.subnets {
		if s.prefix.Contains(a) {
			return s, true
		}
	}
	return ownedPrefix{}, false
}

func (v *validator) snatPool(p string, sp *SNATPool, pools uniqueNames) {
	if !dnsSubdomain.MatchString(sp.Name) {
		v.add(p+".name", "%q is not a valid snatpool name", sp.Name)
	}
	pools.check(&v.problemList, p+".name", "snatpool name", sp.Name)
	if len(sp.Rows) < v.t.TMM.Replicas {
		v.add(p+".rows", "%d rows for %d TMM replicas (row i is replica i's SNAT addresses)", len(sp.Rows), v.t.TMM.Replicas)
	}
	var shape []string
	for i, row := range sp.Rows {
		rp := fmt.Sprintf("%s.rows[%d]", p, i)
		if len(row) == 0 {
			v.add(rp, "is empty; each row needs at least one address")
			continue
		}
		var fams []string
		for j, s := range row {
			ap := fmt.Sprintf("%s[%d]", rp, j)
			a, ok := v.parseAddr(ap, s, ipcheck.Any)
			if !ok {
				continue
			}
			fams = append(fams, ipcheck.FamilyOf(a))
			if sub, inside := v.insideLabSubnet(a); inside && !v.onExternalVLAN(a) {
				v.add(ap, "%s is inside %s, which TMM does not answer on; use an address outside the lab's subnets or on an external TMM VLAN", a, sub)
				continue
			}
			v.claim(ap, a)
		}
		if shape == nil {
			shape = fams
		} else if strings.Join(fams, " ") != strings.Join(shape, " ") {
			v.add(rp, "has families [%s] but rows[0] has [%s]; every row needs the same shape", strings.Join(fams, " "), strings.Join(shape, " "))
		}
	}
}

// onExternalVLAN reports whether a is inside a non-internal TMM VLAN subnet.
func (v *validator) onExternalVLAN(a netip.Addr) bool {
	for i, vl := range v.t.TMM.VLANs {
		s := v.vlanSubnets[i]
		if !vl.Internal && ((s[0].IsValid() && s[0].Contains(a)) || (s[1].IsValid() && s[1].Contains(a))) {
			return true
		}
	}
	return false
}
