package spk

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// NodeEgressAddresses reads a node's egress-network addresses from its
// address annotation ({"ipv4":"198.18.100.3/24","ipv6":"…/112"}, as
// OVN-Kubernetes writes DefaultNodeAddressAnnotation). Each result keeps
// the address with its subnet's length (a bare address gets a host
// prefix); a family the annotation lacks is the zero Prefix. It fails when
// the annotation is missing, malformed or holds no address.
func NodeEgressAddresses(n *corev1.Node, annotation string) (v4, v6 netip.Prefix, err error) {
	if annotation == "" {
		annotation = DefaultNodeAddressAnnotation
	}
	raw, ok := n.Annotations[annotation]
	if !ok {
		return v4, v6, fmt.Errorf("node %s has no %s annotation (its egress-net address)", n.Name, annotation)
	}
	var v struct {
		IPv4 string `json:"ipv4"`
		IPv6 string `json:"ipv6"`
	}
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return v4, v6, fmt.Errorf("node %s annotation %s is not {\"ipv4\":…,\"ipv6\":…}: %w", n.Name, annotation, err)
	}
	parse := func(s string, family int) (netip.Prefix, error) {
		if s == "" {
			return netip.Prefix{}, nil
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return p, fmt.Errorf("node %s annotation %s: %q is not an address", n.Name, annotation, s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if is4 := p.Addr().Is4(); is4 != (family == 4) || p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("node %s annotation %s: %q is not an IPv%d address", n.Name, annotation, s, family)
		}
		return p, nil
	}
	if v4, err = parse(v.IPv4, 4); err != nil {
		return netip.Prefix{}, netip.Prefix{}, err
	}
	if v6, err = parse(v.IPv6, 6); err != nil {
		return netip.Prefix{}, netip.Prefix{}, err
	}
	if !v4.IsValid() && !v6.IsValid() {
		return v4, v6, fmt.Errorf("node %s annotation %s holds no address", n.Name, annotation)
	}
	return v4, v6, nil
}

// TunnelRemotes are where nodes send tenant egress: the IPv4 self IPs of
// the internal VLAN, element i TMM replica i's. TMM terminates the tenant
// VXLAN tunnels on its internal VLAN's self IP (the engine's "internal"
// VLAN), and the tunnels run over IPv4. VLANs being deleted do not count.
// It fails when no VLAN, or more than one, is internal (TMM would pick one
// by the order it was given, which the nodes cannot know) and when the
// internal VLAN has no usable IPv4 self IP.
func TunnelRemotes(vlans []F5SPKVlan) (remotes []netip.Addr, vlan string, err error) {
	var internal []*F5SPKVlan
	for i := range vlans {
		if vlans[i].Spec.Internal && vlans[i].DeletionTimestamp == nil {
			internal = append(internal, &vlans[i])
		}
	}
	switch len(internal) {
	case 0:
		return nil, "", fmt.Errorf("no F5SPKVlan has internal: true (TMM receives tenant egress on its internal VLAN's self IPs)")
	case 1:
	default:
		var names []string
		for _, v := range internal {
			names = append(names, ObjectKey(KindVLAN, &v.ObjectMeta))
		}
		slices.Sort(names)
		return nil, "", fmt.Errorf("%d F5SPKVlans have internal: true (%s); TMM tunnels tenant egress on one internal VLAN", len(names), strings.Join(names, ", "))
	}
	v := internal[0]
	key := ObjectKey(KindVLAN, &v.ObjectMeta)
	if len(v.Spec.SelfIPv4s) == 0 {
		return nil, key, fmt.Errorf("internal %s has no selfip_v4s (the tenant tunnels run over IPv4)", key)
	}
	for i, s := range v.Spec.SelfIPv4s {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return nil, key, fmt.Errorf("internal %s: selfip_v4s[%d] %q is not an IPv4 address", key, i, s)
		}
		remotes = append(remotes, a)
	}
	return remotes, key, nil
}
