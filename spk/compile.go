package spk

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/spklab/spklab/dataplane/config"
)

// Compiled is what Compile makes of a set of CRs: one config per TMM replica,
// and the objects it could not use, each with the reason (their status says
// Accepted=False with it).
type Compiled struct {
	Configs []*config.Config
	// Rejected maps an object's location (file, or "Kind ns/name") to why
	// it is left out. Problems lists the same as "location:path: reason".
	Rejected map[string]string
	Problems Problems
}

// Replicas is the number of TMM replicas the VLANs provide self IPs for: the
// longest self IP list (a standalone TMM is told its index, not the count).
func (o *Objects) Replicas() int {
	n := 0
	for _, v := range o.VLANs {
		n = max(n, len(v.Spec.SelfIPv4s), len(v.Spec.SelfIPv6s))
	}
	return n
}

// Compile turns CRs into one config per TMM
// replica. It is pure: the controller feeds it objects read from the API
// server (EndpointSlices turned into StaticEndpoints), spk-tmm --config the
// files of a directory; both get the same configs for the same objects.
// Cross-object problems (an egress naming a missing snatpool, an ingress
// whose Service has no endpoints object, fewer self IPs than replicas) leave
// the object out and are reported, as do Check's problems: each object with
// one is left out, the others are compiled.
func Compile(o *Objects, replicas int) *Compiled {
	out := &Compiled{Rejected: map[string]string{}}
	o = out.withoutBad(o)
	o = o.deepDefaults()
	c := &compiler{o: o, out: out}
	for i := 0; i < replicas; i++ {
		c.out.Configs = append(c.out.Configs, &config.Config{Replica: i})
	}
	vlanNames := c.vlans(replicas)
	for i := range o.Ingresses {
		c.ingress(&o.Ingresses[i], vlanNames)
	}
	vteps := o.vteps()
	for _, cfg := range c.out.Configs {
		cfg.VTEPs = vteps
	}
	vnis := map[uint32]string{}
	poolUsers := map[string]*F5SPKEgress{}
	for i := range o.Egresses {
		c.egress(&o.Egresses[i], vnis, poolUsers, replicas)
	}
	for i := range o.Routes {
		c.route(&o.Routes[i])
	}
	for _, cfg := range c.out.Configs {
		canonicalOrder(cfg)
	}
	c.bgp()
	for _, cfg := range c.out.Configs {
		cfg.Seal()
	}
	return c.out
}

// canonicalOrder puts the config's lists in name order. Which object wins
// a conflict follows claim order (Older), but the config itself, and so
// its version, depends only on what the objects say, not on their ages.
func canonicalOrder(cfg *config.Config) {
	slices.SortStableFunc(cfg.VLANs, func(a, b config.VLAN) int { return strings.Compare(a.Name, b.Name) })
	// Stable: an ingress's IPv4 virtual server stays before its IPv6 one.
	slices.SortStableFunc(cfg.VirtualServers, func(a, b config.VirtualServer) int { return strings.Compare(a.Name, b.Name) })
	slices.SortStableFunc(cfg.Tenants, func(a, b config.Tenant) int { return strings.Compare(a.Name, b.Name) })
	slices.SortStableFunc(cfg.Routes, func(a, b config.Route) int {
		return cmp.Or(a.Prefix.Addr().Compare(b.Prefix.Addr()), cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits()), a.Gateway.Compare(b.Gateway))
	})
}

// withoutBad runs Check, records each object with a problem as rejected
// (with its first reason) and returns the objects without them, so one bad
// object never takes the others down.
func (c *Compiled) withoutBad(o *Objects) *Objects {
	ps := o.Check()
	if ps == nil {
		return o
	}
	c.Problems = append(c.Problems, ps...)
	bad := map[string]bool{}
	for _, p := range ps {
		loc, _, _ := strings.Cut(p.Path, ":")
		bad[loc] = true
		if _, seen := c.Rejected[loc]; !seen {
			c.Rejected[loc] = p.Reason
		}
	}
	return &Objects{
		VLANs:     keep(o.VLANs, bad, func(v *F5SPKVlan) string { return location(v.Source, KindVLAN, &v.ObjectMeta) }),
		Ingresses: keep(o.Ingresses, bad, func(v *F5SPKIngressTCP) string { return location(v.Source, KindIngressTCP, &v.ObjectMeta) }),
		Snatpools: keep(o.Snatpools, bad, func(v *F5SPKSnatpool) string { return location(v.Source, KindSnatpool, &v.ObjectMeta) }),
		Egresses:  keep(o.Egresses, bad, func(v *F5SPKEgress) string { return location(v.Source, KindEgress, &v.ObjectMeta) }),
		Routes:    keep(o.Routes, bad, func(v *F5SPKStaticRoute) string { return location(v.Source, KindStaticRoute, &v.ObjectMeta) }),
		Endpoints: keep(o.Endpoints, bad, func(v *StaticEndpoints) string { return location(v.Source, KindStaticEndpoints, &v.ObjectMeta) }),
		Nodes:     keep(o.Nodes, bad, func(v *StaticNodes) string { return location(v.Source, KindStaticNodes, &v.ObjectMeta) }),
		Routing:   o.Routing,
	}
}

func keep[T any](in []T, bad map[string]bool, loc func(*T) string) []T {
	var out []T
	for i := range in {
		if !bad[loc(&in[i])] {
			out = append(out, in[i])
		}
	}
	return out
}

// deepDefaults returns a copy in claim order with defaults set, so
// Compile never changes its input.
func (o *Objects) deepDefaults() *Objects {
	cp := o.inClaimOrder()
	cp.SetDefaults()
	return cp
}

type compiler struct {
	o   *Objects
	out *Compiled
}

func (c *compiler) reject(loc, path, format string, args ...any) {
	reason := fmt.Sprintf(format, args...)
	if _, seen := c.out.Rejected[loc]; !seen {
		c.out.Rejected[loc] = reason
	}
	c.out.Problems = append(c.out.Problems, Problem{Path: loc + ":" + path, Reason: reason})
}

// vlans adds every usable VLAN with each replica's self IPs and returns the
// set of their names (what spec.vlans lists may name).
func (c *compiler) vlans(replicas int) map[string]bool {
	names := map[string]bool{}
	for i := range c.o.VLANs {
		v := &c.o.VLANs[i]
		loc := location(v.Source, KindVLAN, &v.ObjectMeta)
		s := v.Spec
		if len(s.Interfaces) != 1 {
			c.reject(loc, "spec.interfaces", "spklab's TMM puts a VLAN on exactly one interface, not %d", len(s.Interfaces))
			continue
		}
		short := func(list string, n int) bool {
			if n > 0 && n < replicas {
				c.reject(loc, list, "has %d self IPs for %d TMM replicas (element i is replica i's)", n, replicas)
				return true
			}
			return false
		}
		if short("spec.selfip_v4s", len(s.SelfIPv4s)) || short("spec.selfip_v6s", len(s.SelfIPv6s)) {
			continue
		}
		names[s.Name] = true
		for r, cfg := range c.out.Configs {
			cv := config.VLAN{
				Name:        s.Name,
				Interface:   s.Interfaces[0],
				Tag:         uint16(s.Tag),
				MTU:         int(s.MTU),
				Internal:    s.Internal,
				AutoLasthop: s.AutoLasthop != AutoLasthopDisabled,
			}
			if len(s.SelfIPv4s) > 0 {
				cv.SelfIPs = append(cv.SelfIPs, netip.PrefixFrom(netip.MustParseAddr(s.SelfIPv4s[r]), int(s.PrefixLenV4)))
			}
			if len(s.SelfIPv6s) > 0 {
				cv.SelfIPs = append(cv.SelfIPs, netip.PrefixFrom(netip.MustParseAddr(s.SelfIPv6s[r]), int(s.PrefixLenV6)))
			}
			cfg.VLANs = append(cfg.VLANs, cv)
		}
	}
	return names
}

// listenVLANs resolves a VLAN list; nil = the default set.
func (c *compiler) listenVLANs(loc, path string, l *VLANList, names map[string]bool) ([]string, bool) {
	if l == nil || (len(l.VLANList) == 0 && !l.DisableListedVlans) {
		return nil, true
	}
	for i, n := range l.VLANList {
		if _, ok := names[n]; !ok {
			c.reject(loc, fmt.Sprintf("%s.vlanList[%d]", path, i), "no F5SPKVlan has spec.name %q", n)
			return nil, false
		}
	}
	if !l.DisableListedVlans {
		return slices.Clone(l.VLANList), true
	}
	var out []string
	for n := range names {
		if !slices.Contains(l.VLANList, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, true
}

func (c *compiler) endpoints(namespace, service string) *StaticEndpoints {
	for i := range c.o.Endpoints {
		e := &c.o.Endpoints[i]
		if e.Namespace == namespace && e.Name == service {
			return e
		}
	}
	return nil
}

func (c *compiler) ingress(in *F5SPKIngressTCP, vlanNames map[string]bool) {
	loc := location(in.Source, KindIngressTCP, &in.ObjectMeta)
	eps := c.endpoints(in.Namespace, in.Service.Name)
	if eps == nil {
		c.reject(loc, "service.name", "no Service %q in namespace %q (no endpoints known for it)", in.Service.Name, in.Namespace)
		return
	}
	vlans, ok := c.listenVLANs(loc, "spec.vlans", in.Spec.VLANs, vlanNames)
	if !ok {
		return
	}
	var members []config.Member
	for _, ep := range eps.Endpoints {
		members = append(members, config.Member{
			Address:     netip.AddrPortFrom(netip.MustParseAddr(ep.IP), uint16(ep.Port)),
			Node:        ep.Node,
			NodeAddress: netip.MustParseAddr(ep.NodeAddress),
		})
	}
	slices.SortFunc(members, func(a, b config.Member) int { return a.Address.Compare(b.Address) })
	name := in.Namespace + "/" + in.Name
	for _, addr := range []string{in.Spec.DestinationAddress, in.Spec.IPv6DestinationAddress} {
		if addr == "" {
			continue
		}
		vs := config.VirtualServer{
			Name:        name,
			Address:     netip.MustParseAddr(addr),
			Port:        uint16(in.Spec.DestinationPort),
			Method:      string(in.Spec.LoadBalancingMethod),
			IdleTimeout: int(in.Spec.IdleTimeout),
			VLANs:       vlans,
			Members:     members,
		}
		for _, cfg := range c.out.Configs {
			cfg.VirtualServers = append(cfg.VirtualServers, vs)
		}
	}
}

// vteps are every node's egress-net addresses, sorted, without repeats.
func (o *Objects) vteps() []netip.Addr {
	var out []netip.Addr
	for i := range o.Nodes {
		for _, n := range o.Nodes[i].Nodes {
			for _, s := range []string{n.IPv4, n.IPv6} {
				if a, err := netip.ParseAddr(s); err == nil {
					out = append(out, a)
				}
			}
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// tenantNamespaces are the namespaces holding an F5SPKEgress.
func (o *Objects) tenantNamespaces() map[string]bool {
	out := map[string]bool{}
	for i := range o.Egresses {
		out[o.Egresses[i].Namespace] = true
	}
	return out
}

// poolFor says whether egress e may use pool sp, given the first egress of
// another namespace that uses it (users, by the pool's spec.name): a pool
// in e's own namespace or in one that is no tenant's (the SPK namespace);
// one tenant per pool unless the pool is marked shared.
func (c *compiler) poolFor(e *F5SPKEgress, sp *F5SPKSnatpool, users map[string]*F5SPKEgress) string {
	if sp.Namespace != e.Namespace && c.o.tenantNamespaces()[sp.Namespace] {
		return fmt.Sprintf("%s is in namespace %s, another tenant's; an egress may name a pool in its own namespace or in the SPK namespace",
			ref(sp.Source, KindSnatpool, &sp.ObjectMeta), sp.Namespace)
	}
	if first := users[sp.Spec.Name]; first != nil && first.Namespace != e.Namespace && !sp.Shared() {
		return fmt.Sprintf("%s already serves tenant %s (%s); one pool serves one tenant unless annotated %s: \"true\"",
			ref(sp.Source, KindSnatpool, &sp.ObjectMeta), first.Namespace, ref(first.Source, KindEgress, &first.ObjectMeta), AnnotationSharedSnatpool)
	}
	return ""
}

func (c *compiler) egress(e *F5SPKEgress, vnis map[uint32]string, poolUsers map[string]*F5SPKEgress, replicas int) {
	loc := location(e.Source, KindEgress, &e.ObjectMeta)
	vni, ok := e.VXLANKey()
	if !ok {
		c.reject(loc, "metadata.annotations["+AnnotationVXLANKey+"]", "is not a VXLAN key")
		return
	}
	if first, dup := vnis[vni]; dup {
		c.reject(loc, "metadata.annotations["+AnnotationVXLANKey+"]", "VXLAN key %d is already used by %s; each tenant needs its own", vni, first)
		return
	}
	if len(c.out.Configs) > 0 && len(c.out.Configs[0].VTEPs) == 0 {
		c.reject(loc, "metadata", "no node's egress-net address is known (the nodes' address annotation in a cluster, StaticNodes in standalone mode), and a TMM takes tenant VXLAN only from those")
		return
	}
	typ := e.EffectiveSNATType()
	var rows [][]string
	if typ == SNATPool {
		sp := c.o.Snatpool(e.Spec.EgressSnatpool)
		if sp == nil {
			c.reject(loc, "spec.egressSnatpool", "no F5SPKSnatpool has spec.name %q", e.Spec.EgressSnatpool)
			return
		}
		if why := c.poolFor(e, sp, poolUsers); why != "" {
			c.reject(loc, "spec.egressSnatpool", "%s", why)
			return
		}
		rows = sp.Spec.AddressList
		if len(rows) < replicas {
			c.reject(loc, "spec.egressSnatpool", "F5SPKSnatpool %q has %d rows for %d TMM replicas (row i is replica i's)", sp.Spec.Name, len(rows), replicas)
			return
		}
		if poolUsers[sp.Spec.Name] == nil {
			poolUsers[sp.Spec.Name] = e
		}
	}
	vnis[vni] = ref(e.Source, KindEgress, &e.ObjectMeta)
	for r, cfg := range c.out.Configs {
		t := config.Tenant{
			Name:      e.Namespace + "/" + e.Name,
			Namespace: e.Namespace,
			VNI:       vni,
			SNATType:  string(typ),
			Snatpool:  e.Spec.EgressSnatpool,
			DualStack: e.Spec.DualStackEnabled,
		}
		if typ == SNATPool {
			for _, s := range rows[r] {
				if a := netip.MustParseAddr(s); a.Is4() || e.Spec.DualStackEnabled {
					t.SNAT = append(t.SNAT, a)
				}
			}
		}
		cfg.Tenants = append(cfg.Tenants, t)
	}
}

func (c *compiler) route(r *F5SPKStaticRoute) {
	dst := netip.MustParseAddr(r.Spec.Destination)
	rt := config.Route{
		Prefix:  netip.PrefixFrom(dst, int(r.Spec.PrefixLen)),
		Gateway: netip.MustParseAddr(r.Spec.Gateway),
	}
	for _, cfg := range c.out.Configs {
		cfg.Routes = append(cfg.Routes, rt)
	}
}

// String lists the rejected objects, one per line.
func (c *Compiled) String() string {
	var b strings.Builder
	for _, p := range c.Problems {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	return b.String()
}
