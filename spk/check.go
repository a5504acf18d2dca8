package spk

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spklab/spklab/internal/ipcheck"
)

// Limits of the values Check accepts.
const (
	MaxVLANTag = 4094
	MinMTU     = 1500
	MaxMTU     = 9000
	// MaxTimeout caps idle/client timeouts and monitor intervals (one day),
	// as the topology does.
	MaxTimeout = 86400
)

var (
	// Kubernetes object names (DNS-1123 subdomain) and namespaces (label).
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	tmmInterface = regexp.MustCompile(`^1\.[1-9][0-9]*$`)
)

// Check checks every object and the references between them, and returns
// every problem found as "file:path: reason" (objects built in code are
// named "Kind namespace/name" instead of a file); nil means none. Of two
// objects claiming one thing (a VIP and port, a name, a tag) the newer
// gets the problem (see Older), whatever order they are listed in.
func (o *Objects) Check() Problems {
	o = o.inClaimOrder()
	c := &checker{o: o, names: map[string]string{}, vlanNames: map[string]string{}, snatpoolNames: map[string]string{}}
	for i := range o.VLANs {
		c.vlan(&o.VLANs[i])
	}
	c.vlanTags()
	c.vlanSubnets()
	for i := range o.Snatpools {
		c.snatpool(&o.Snatpools[i])
	}
	vips := map[string]string{}
	for i := range o.Ingresses {
		c.ingress(&o.Ingresses[i], vips)
	}
	for i := range o.Egresses {
		c.egress(&o.Egresses[i])
	}
	for i := range o.Routes {
		c.route(&o.Routes[i])
	}
	for i := range o.Endpoints {
		c.endpoints(&o.Endpoints[i])
	}
	for i := range o.Nodes {
		c.nodes(&o.Nodes[i])
	}
	if len(c.list) == 0 {
		return nil
	}
	return c.list
}

type checker struct {
	list Problems
	o    *Objects
	// names maps kind/namespace/name to the first object's location.
	names map[string]string
	// vlanNames and snatpoolNames map spec.name to the first owner.
	vlanNames     map[string]string
	snatpoolNames map[string]string
}

func (c *checker) add(loc, path, format string, args ...any) {
	c.list = append(c.list, Problem{Path: loc + ":" + path, Reason: fmt.Sprintf(format, args...)})
}

// location names an object in problems: its file, else its kind and name.
func location(source, kind string, m *metav1.ObjectMeta) string {
	if source != "" {
		return source
	}
	return kind + " " + qualified(m)
}

func qualified(m *metav1.ObjectMeta) string {
	if m.Namespace == "" {
		return m.Name
	}
	return m.Namespace + "/" + m.Name
}

// ref names another object in a reason: `F5SPKVlan "ns/name" (file)`.
func ref(source, kind string, m *metav1.ObjectMeta) string {
	s := fmt.Sprintf("%s %q", kind, qualified(m))
	if source != "" {
		s += " (" + source + ")"
	}
	return s
}

// meta checks the metadata every object has, and that no other object of
// the kind has the same namespace and name.
func (c *checker) meta(loc, source, kind string, m *metav1.ObjectMeta) {
	switch {
	case m.Name == "":
		c.add(loc, "metadata.name", "must not be empty")
	case len(m.Name) > 253 || !dnsSubdomain.MatchString(m.Name):
		c.add(loc, "metadata.name", "%q is not a valid name (lowercase letters, digits, '-' and '.', at most 253 characters)", m.Name)
	default:
		key := kind + "\x00" + m.Namespace + "\x00" + m.Name
		if first, ok := c.names[key]; ok {
			c.add(loc, "metadata.name", "%s %q is already defined by %s", kind, qualified(m), first)
		} else {
			c.names[key] = ref(source, kind, m)
		}
	}
	if m.Namespace != "" && (len(m.Namespace) > 63 || !dnsLabel.MatchString(m.Namespace)) {
		c.add(loc, "metadata.namespace", "%q is not a valid namespace (lowercase letters, digits and '-', at most 63 characters)", m.Namespace)
	}
}

func (c *checker) vlan(v *F5SPKVlan) {
	loc := location(v.Source, KindVLAN, &v.ObjectMeta)
	c.meta(loc, v.Source, KindVLAN, &v.ObjectMeta)
	s := v.Spec
	if s.Name == "" {
		c.add(loc, "spec.name", "must not be empty (it names the VLAN in TMM)")
	} else if first, ok := c.vlanNames[s.Name]; ok {
		c.add(loc, "spec.name", "VLAN name %q is already used by %s", s.Name, first)
	} else {
		c.vlanNames[s.Name] = ref(v.Source, KindVLAN, &v.ObjectMeta)
	}
	if s.Tag < 0 || s.Tag > MaxVLANTag {
		c.add(loc, "spec.tag", "%d is out of range 0–%d (0 = untagged)", s.Tag, MaxVLANTag)
	}
	if len(s.Interfaces) == 0 {
		c.add(loc, "spec.interfaces", `must list at least one TMM interface ("1.1", "1.2", …)`)
	}
	for i, ifc := range s.Interfaces {
		if !tmmInterface.MatchString(ifc) {
			c.add(loc, fmt.Sprintf("spec.interfaces[%d]", i), `%q is not a TMM interface like "1.1" (1.N is the TMM pod's N-th network attachment)`, ifc)
		}
	}
	c.selfIPs(loc, "selfip_v4s", "prefixlen_v4", s.SelfIPv4s, s.PrefixLenV4, ipcheck.IPv4)
	c.selfIPs(loc, "selfip_v6s", "prefixlen_v6", s.SelfIPv6s, s.PrefixLenV6, ipcheck.IPv6)
	if s.MTU != 0 && (s.MTU < MinMTU || s.MTU > MaxMTU) {
		c.add(loc, "spec.mtu", "%d is out of range %d–%d", s.MTU, MinMTU, MaxMTU)
	}
	if s.AutoLasthop != "" {
		c.enum(loc, "spec.auto_lasthop", string(s.AutoLasthop), string(AutoLasthopEnabled), string(AutoLasthopDisabled), string(AutoLasthopDefault))
	}
}

// selfIPs checks one family's self IP list (element i is replica i's) and
// its prefix length.
func (c *checker) selfIPs(loc, list, lenField string, ips []string, prefixLen int32, f ipcheck.Family) {
	seen := map[netip.Addr]int{}
	for i, s := range ips {
		p := fmt.Sprintf("spec.%s[%d]", list, i)
		a, ok := c.parseAddr(loc, p, s, f)
		if !ok {
			continue
		}
		if j, dup := seen[a]; dup {
			c.add(loc, p, "%s is already replica %d's self IP (spec.%s[%d]); each replica needs its own", a, j, list, j)
			continue
		}
		seen[a] = i
	}
	maxLen := int32(f.Bits())
	switch {
	case prefixLen < 0 || prefixLen > maxLen:
		c.add(loc, "spec."+lenField, "%d is out of range 1–%d", prefixLen, maxLen)
	case prefixLen == 0 && len(ips) > 0:
		c.add(loc, "spec."+lenField, "is required when %s are given (1–%d)", list, maxLen)
	}
}

// vlanSubnets: no two VLANs' self-IP subnets overlap (the older VLAN keeps
// its subnet). A TMM learns a neighbour only on the VLAN whose subnet holds
// it, so with one VLAN per address no host on one VLAN can answer for an
// address on another.
func (c *checker) vlanSubnets() {
	type holder struct {
		prefix netip.Prefix
		vlan   string
	}
	var held []holder
	for i := range c.o.VLANs {
		v := &c.o.VLANs[i]
		loc := location(v.Source, KindVLAN, &v.ObjectMeta)
		me := ref(v.Source, KindVLAN, &v.ObjectMeta)
		var mine []holder
		for _, fam := range []struct {
			list string
			ips  []string
			bits int32
		}{{"selfip_v4s", v.Spec.SelfIPv4s, v.Spec.PrefixLenV4}, {"selfip_v6s", v.Spec.SelfIPv6s, v.Spec.PrefixLenV6}} {
			for j, s := range fam.ips {
				a, err := netip.ParseAddr(s)
				if err != nil || fam.bits <= 0 || int(fam.bits) > a.BitLen() {
					continue // reported by selfIPs
				}
				p := netip.PrefixFrom(a, int(fam.bits)).Masked()
				overlap := false
				for _, h := range held {
					if h.prefix.Overlaps(p) {
						c.add(loc, fmt.Sprintf("spec.%s[%d]", fam.list, j), "subnet %s overlaps %s of %s; a subnet belongs to one VLAN only", p, h.prefix, h.vlan)
						overlap = true
						break
					}
				}
				if !overlap {
					mine = append(mine, holder{p, me})
				}
			}
		}
		held = append(held, mine...)
	}
}

// vlanTags checks the rules that span VLANs: one untagged VLAN per
// interface, and a tag used by one VLAN only (across interfaces too).
func (c *checker) vlanTags() {
	untagged := map[string]string{}
	tags := map[int32]string{}
	for i := range c.o.VLANs {
		v := &c.o.VLANs[i]
		loc := location(v.Source, KindVLAN, &v.ObjectMeta)
		me := ref(v.Source, KindVLAN, &v.ObjectMeta)
		if v.Spec.Tag != 0 {
			if first, ok := tags[v.Spec.Tag]; ok {
				c.add(loc, "spec.tag", "tag %d is already used by %s; a tag is used by one VLAN only", v.Spec.Tag, first)
			} else {
				tags[v.Spec.Tag] = me
			}
			continue
		}
		for _, ifc := range v.Spec.Interfaces {
			if first, ok := untagged[ifc]; ok {
				c.add(loc, "spec.tag", "interface %s already has an untagged VLAN, %s; only one per interface", ifc, first)
			} else {
				untagged[ifc] = me
			}
		}
	}
}

func (c *checker) ingress(in *F5SPKIngressTCP, vips map[string]string) {
	loc := location(in.Source, KindIngressTCP, &in.ObjectMeta)
	c.meta(loc, in.Source, KindIngressTCP, &in.ObjectMeta)
	if in.Service.Name == "" {
		c.add(loc, "service.name", "must not be empty (the Service whose endpoints form the pool)")
	} else if len(in.Service.Name) > 63 || !dnsLabel.MatchString(in.Service.Name) {
		c.add(loc, "service.name", "%q is not a valid Service name", in.Service.Name)
	}
	if in.Service.Port < 1 || in.Service.Port > 65535 {
		c.add(loc, "service.port", "%d is out of range 1–65535", in.Service.Port)
	}
	s := in.Spec
	if s.DestinationAddress == "" && s.IPv6DestinationAddress == "" {
		c.add(loc, "spec", "needs destinationAddress or ipv6destinationAddress (or both)")
	}
	portOK := s.DestinationPort >= 0 && s.DestinationPort <= 65535
	if !portOK {
		c.add(loc, "spec.destinationPort", "%d is out of range 0–65535 (0 = every port)", s.DestinationPort)
	}
	for _, d := range []struct {
		path, value string
		f           ipcheck.Family
	}{
		{"spec.destinationAddress", s.DestinationAddress, ipcheck.IPv4},
		{"spec.ipv6destinationAddress", s.IPv6DestinationAddress, ipcheck.IPv6},
	} {
		if d.value == "" {
			continue
		}
		a, ok := c.parseAddr(loc, d.path, d.value, d.f)
		if !ok || !portOK {
			continue
		}
		vip := netip.AddrPortFrom(a, uint16(s.DestinationPort)).String()
		if first, dup := vips[vip]; dup {
			c.add(loc, d.path, "%s is already used by %s", vip, first)
		} else {
			vips[vip] = ref(in.Source, KindIngressTCP, &in.ObjectMeta)
		}
	}
	c.seconds(loc, "spec.idleTimeout", s.IdleTimeout)
	c.seconds(loc, "spec.clientTimeout", s.ClientTimeout)
	if s.LoadBalancingMethod != "" {
		c.enum(loc, "spec.loadBalancingMethod", string(s.LoadBalancingMethod), string(RoundRobin), string(RatioLeastConnMember))
	}
	if s.SNAT != "" {
		c.enum(loc, "spec.snat", string(s.SNAT), string(SNATAutomap), string(SNATNone))
	}
	c.vlanList(loc, "spec.vlans", s.VLANs)
	if m := s.Monitors; m != nil {
		for _, l := range []struct {
			name string
			list []Monitor
		}{{"icmp", m.ICMP}, {"tcp", m.TCP}} {
			for i, mon := range l.list {
				p := fmt.Sprintf("spec.monitors.%s[%d]", l.name, i)
				c.seconds(loc, p+".interval", int64(mon.Interval))
				c.seconds(loc, p+".timeout", int64(mon.Timeout))
			}
		}
	}
}

// seconds checks a duration in seconds; 0 means "the default".
func (c *checker) seconds(loc, path string, v int64) {
	if v != 0 && (v < 1 || v > MaxTimeout) {
		c.add(loc, path, "%d is out of range 1–%d seconds", v, MaxTimeout)
	}
}

func (c *checker) enum(loc, path, value string, allowed ...string) {
	if slices.Contains(allowed, value) {
		return
	}
	c.add(loc, path, "%q is not one of %s", value, strings.Join(allowed, ", "))
}

// vlanList checks that a VLAN list names existing F5SPKVlans.
func (c *checker) vlanList(loc, path string, l *VLANList) {
	if l == nil {
		return
	}
	for i, name := range l.VLANList {
		if _, ok := c.vlanNames[name]; !ok {
			c.add(loc, fmt.Sprintf("%s.vlanList[%d]", path, i), "no F5SPKVlan has spec.name %q (%s)", name, known("VLANs", c.vlanNames))
		}
	}
}

// known lists the names of a map for "there is no X" reasons.
func known(what string, m map[string]string) string {
	if len(m) == 0 {
		return "there are no " + what
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return what + ": " + strings.Join(names, ", ")
}

func (c *checker) snatpool(sp *F5SPKSnatpool) {
	loc := location(sp.Source, KindSnatpool, &sp.ObjectMeta)
	c.meta(loc, sp.Source, KindSnatpool, &sp.ObjectMeta)
	s := sp.Spec
	if s.Name == "" {
		c.add(loc, "spec.name", "must not be empty (F5SPKEgress egressSnatpool refers to it)")
	} else if first, ok := c.snatpoolNames[s.Name]; ok {
		c.add(loc, "spec.name", "snatpool name %q is already used by %s", s.Name, first)
	} else {
		c.snatpoolNames[s.Name] = ref(sp.Source, KindSnatpool, &sp.ObjectMeta)
	}
	if v, set := sp.Annotations[AnnotationSharedSnatpool]; set && v != "true" && v != "false" {
		c.add(loc, "metadata.annotations["+AnnotationSharedSnatpool+"]", "%q is not \"true\" or \"false\"", v)
	}
	if len(s.AddressList) == 0 {
		c.add(loc, "spec.addressList", "must have at least one row (row i holds TMM replica i's addresses)")
	}
	var shape []string
	for i, row := range s.AddressList {
		rp := fmt.Sprintf("spec.addressList[%d]", i)
		if len(row) == 0 {
			c.add(loc, rp, "is empty; each row needs at least one address")
			continue
		}
		fams := make([]string, 0, len(row))
		for j, a := range row {
			if addr, ok := c.parseAddr(loc, fmt.Sprintf("%s[%d]", rp, j), a, ipcheck.Any); ok {
				fams = append(fams, ipcheck.FamilyOf(addr))
			}
		}
		if len(fams) != len(row) {
			continue // a bad address says enough about this row
		}
		if shape == nil {
			shape = fams
		} else if strings.Join(fams, " ") != strings.Join(shape, " ") {
			c.add(loc, rp, "has families [%s] but the first row has [%s]; every row needs the same shape", strings.Join(fams, " "), strings.Join(shape, " "))
		}
	}
}

func (c *checker) egress(e *F5SPKEgress) {
	loc := location(e.Source, KindEgress, &e.ObjectMeta)
	c.meta(loc, e.Source, KindEgress, &e.ObjectMeta)
	s := e.Spec
	if s.SNATType != "" {
		c.enum(loc, "spec.snatType", string(s.SNATType), string(SNATNone), string(SNATPool), string(SNATAutomap))
	}
	if s.MaxTmmReplicas < 0 {
		c.add(loc, "spec.maxTmmReplicas", "%d must not be negative", s.MaxTmmReplicas)
	}
	switch {
	case s.EgressSnatpool == "" && s.SNATType == SNATPool:
		c.add(loc, "spec.egressSnatpool", "is required when snatType is %s", SNATPool)
	case s.EgressSnatpool != "":
		sp := c.o.Snatpool(s.EgressSnatpool)
		if sp == nil {
			c.add(loc, "spec.egressSnatpool", "no F5SPKSnatpool has spec.name %q (%s)", s.EgressSnatpool, known("snatpools", c.snatpoolNames))
		} else if rows := len(sp.Spec.AddressList); int(s.MaxTmmReplicas) > rows && rows > 0 {
			c.add(loc, "spec.maxTmmReplicas", "%d replicas but %s has %d rows (row i is replica i's)", s.MaxTmmReplicas, ref(sp.Source, KindSnatpool, &sp.ObjectMeta), rows)
		}
	}
	if s.NAT64Ipv6Subnet != "" {
		c.parsePrefix(loc, "spec.nat64Ipv6Subnet", s.NAT64Ipv6Subnet, ipcheck.IPv6)
	}
	if s.DNSNat46Ipv4Subnet != "" {
		c.parsePrefix(loc, "spec.dnsNat46Ipv4Subnet", s.DNSNat46Ipv4Subnet, ipcheck.IPv4)
	}
	if s.DNSNat46SorryIp != "" {
		c.parseAddr(loc, "spec.dnsNat46SorryIp", s.DNSNat46SorryIp, ipcheck.IPv4)
	}
	for i, a := range s.DNSNat46PoolIps {
		c.parseAddr(loc, fmt.Sprintf("spec.dnsNat46PoolIps[%d]", i), a, ipcheck.Any)
	}
	for _, f := range []struct {
		path string
		v    int64
	}{
		{"spec.maxReservedStaticIps", int64(s.MaxReservedStaticIps)},
		{"spec.maxDNS46TTL", int64(s.MaxDNS46TTL)},
		{"spec.dnsRateLimit", s.DNSRateLimit},
	} {
		if f.v < 0 {
			c.add(loc, f.path, "%d must not be negative", f.v)
		}
	}
	c.vlanList(loc, "spec.vlans", s.VLANs)
	// What spklab's TMM does not do is refused by name rather than
	// accepted and ignored: set, these would promise a behaviour nobody
	// gets. Unset, false or zero they are fine (the seeds set them so).
	for _, f := range []struct {
		path string
		set  bool
	}{
		{"spec.nat64Enabled", s.NAT64Enabled},
		{"spec.dnsNat46Enabled", s.DNSNat46Enabled},
		{"spec.dnsCacheName", s.DNSCacheName != ""},
		{"spec.dnsRateLimit", s.DNSRateLimit > 0},
		{"spec.maxReservedStaticIps", s.MaxReservedStaticIps > 0},
		{"spec.debugLogEnabled", s.DebugLogEnabled},
		{"spec.vlans", s.VLANs != nil && (len(s.VLANs.VLANList) > 0 || s.VLANs.DisableListedVlans)},
	} {
		if f.set {
			c.add(loc, f.path, "is not supported here: spklab's TMM does not implement it (leave it unset)")
		}
	}
	if v, set := e.Annotations[AnnotationVXLANKey]; set {
		if _, ok := e.VXLANKey(); !ok {
			c.add(loc, "metadata.annotations["+AnnotationVXLANKey+"]", "%q is not a VXLAN key (an integer 1–%d)", v, MaxVXLANKey)
		}
	}
}

func (c *checker) route(r *F5SPKStaticRoute) {
	loc := location(r.Source, KindStaticRoute, &r.ObjectMeta)
	c.meta(loc, r.Source, KindStaticRoute, &r.ObjectMeta)
	s := r.Spec
	dst, ok := c.parseAddr(loc, "spec.destination", s.Destination, ipcheck.Any)
	if ok {
		bits := int32(dst.BitLen())
		if s.PrefixLen < 0 || s.PrefixLen > bits {
			c.add(loc, "spec.prefixLen", "%d is out of range 0–%d for %s", s.PrefixLen, bits, ipcheck.FamilyOf(dst))
		} else if p := netip.PrefixFrom(dst, int(s.PrefixLen)); p.Masked() != p {
			c.add(loc, "spec.destination", "%s has host bits set for /%d (the network is %s)", s.Destination, s.PrefixLen, p.Masked().Addr())
		}
	}
	if s.Type != "" && s.Type != RouteTypeGateway {
		c.add(loc, "spec.type", "%q is not supported (supported: %s)", s.Type, RouteTypeGateway)
	}
	if s.Gateway == "" {
		c.add(loc, "spec.gateway", "must not be empty for a %s route", RouteTypeGateway)
		return
	}
	gw, gok := c.parseAddr(loc, "spec.gateway", s.Gateway, ipcheck.Any)
	if ok && gok && gw.Is4() != dst.Is4() {
		c.add(loc, "spec.gateway", "%s is %s but the destination is %s", s.Gateway, ipcheck.FamilyOf(gw), ipcheck.FamilyOf(dst))
	}
}

func (c *checker) endpoints(se *StaticEndpoints) {
	loc := location(se.Source, KindStaticEndpoints, &se.ObjectMeta)
	c.meta(loc, se.Source, KindStaticEndpoints, &se.ObjectMeta)
	seen := map[string]int{}
	for i, ep := range se.Endpoints {
		p := fmt.Sprintf("endpoints[%d]", i)
		a, ok := c.parseAddr(loc, p+".ip", ep.IP, ipcheck.Any)
		if ep.Port < 1 || ep.Port > 65535 {
			c.add(loc, p+".port", "%d is out of range 1–65535", ep.Port)
		} else if ok {
			key := netip.AddrPortFrom(a, uint16(ep.Port)).String()
			if j, dup := seen[key]; dup {
				c.add(loc, p, "%s is already endpoints[%d]", key, j)
			} else {
				seen[key] = i
			}
		}
		if ep.NodeAddress == "" {
			c.add(loc, p+".nodeAddress", "must not be empty (TMM sends the pod's packets to this node address)")
		} else {
			c.parseAddr(loc, p+".nodeAddress", ep.NodeAddress, ipcheck.Any)
		}
		if ep.Node != "" && (len(ep.Node) > 253 || !dnsSubdomain.MatchString(ep.Node)) {
			c.add(loc, p+".node", "%q is not a valid node name", ep.Node)
		}
	}
}

func (c *checker) nodes(sn *StaticNodes) {
	loc := location(sn.Source, KindStaticNodes, &sn.ObjectMeta)
	c.meta(loc, sn.Source, KindStaticNodes, &sn.ObjectMeta)
	seen := map[string]int{}
	for i, n := range sn.Nodes {
		p := fmt.Sprintf("nodes[%d]", i)
		switch {
		case n.Name == "":
			c.add(loc, p+".name", "must not be empty")
		case len(n.Name) > 253 || !dnsSubdomain.MatchString(n.Name):
			c.add(loc, p+".name", "%q is not a valid node name", n.Name)
		default:
			if j, dup := seen[n.Name]; dup {
				c.add(loc, p+".name", "node %s is already nodes[%d]", n.Name, j)
			}
			seen[n.Name] = i
		}
		if n.IPv4 == "" && n.IPv6 == "" {
			c.add(loc, p, "needs ipv4 or ipv6 (the node's egress-net address, where its tenant tunnels start)")
		}
		if n.IPv4 != "" {
			c.parseAddr(loc, p+".ipv4", n.IPv4, ipcheck.IPv4)
		}
		if n.IPv6 != "" {
			c.parseAddr(loc, p+".ipv6", n.IPv6, ipcheck.IPv6)
		}
	}
}

// parseAddr parses s as an address of family f, or records why not. Zones
// and IPv4-mapped IPv6 addresses are refused: TMM has neither.
func (c *checker) parseAddr(loc, path, s string, f ipcheck.Family) (netip.Addr, bool) {
	a, why := ipcheck.Addr(s, f)
	if why != "" {
		c.add(loc, path, "%s", why)
	}
	return a, why == ""
}

// parsePrefix parses s as a canonical CIDR of family f, or records why not.
func (c *checker) parsePrefix(loc, path, s string, f ipcheck.Family) {
	if _, why := ipcheck.Prefix(s, f); why != "" {
		c.add(loc, path, "%s", why)
	}
}
