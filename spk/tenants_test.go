package spk

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNodeEgressAddresses(t *testing.T) {
	const custom = "example.com/egress-addr"
	node := func(annotations map[string]string) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "w1", Annotations: annotations}}
	}
	for _, tc := range []struct {
		name       string
		node       *corev1.Node
		annotation string
		v4, v6     string
		err        string
	}{
		{name: "ipv4 with prefix", node: node(map[string]string{DefaultNodeAddressAnnotation: `{"ipv4":"198.18.100.3/24"}`}), v4: "198.18.100.3/24"},
		{name: "both families", node: node(map[string]string{DefaultNodeAddressAnnotation: `{"ipv4":"198.18.100.3/24","ipv6":"2001::198:18:100:3/112"}`}),
			v4: "198.18.100.3/24", v6: "2001::198:18:100:3/112"},
		{name: "bare address is a host prefix", node: node(map[string]string{DefaultNodeAddressAnnotation: `{"ipv4":"198.18.100.3"}`}), v4: "198.18.100.3/32"},
		{name: "ipv6 only", node: node(map[string]string{DefaultNodeAddressAnnotation: `{"ipv6":"2001::3/64"}`}), v6: "2001::3/64"},
		{name: "renamed annotation", annotation: custom, node: node(map[string]string{custom: `{"ipv4":"198.18.100.4/24"}`}), v4: "198.18.100.4/24"},
		{name: "renamed annotation ignores the default", annotation: custom,
			node: node(map[string]string{DefaultNodeAddressAnnotation: `{"ipv4":"198.18.100.3/24"}`}), err: "node w1 has no " + custom + " annotation"},
		{name: "missing", node: node(nil), err: "node w1 has no " + DefaultNodeAddressAnnotation + " annotation"},
		{name: "not json", node: node(map[string]string{DefaultNodeAddressAnnotation: `198.18.100.3/24`}), err: "is not {\"ipv4\""},
		{name: "not an address", node: node(map[string]string{DefaultNodeAddressAnnotation: `{"ipv4":"eth2"}`}), err: `"eth2" is not an address`},
		{name: "ipv6 in the ipv4 field", node: node(map[string]string{DefaultNodeAddressAnnotation: `{"ipv4":"2001::3/64"}`}), err: "is not an IPv4 address"},
		{name: "ipv4 in the ipv6 field", node: node(map[string]string{DefaultNodeAddressAnnotation: `{"ipv6":"198.18.100.3/24"}`}), err: "is not an IPv6 address"},
		{name: "empty", node: node(map[string]string{DefaultNodeAddressAnnotation: `{}`}), err: "holds no address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v4, v6, err := NodeEgressAddresses(tc.node, tc.annotation)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := prefixString(v4); got != tc.v4 {
				t.Errorf("v4 = %q, want %q", got, tc.v4)
			}
			if got := prefixString(v6); got != tc.v6 {
				t.Errorf("v6 = %q, want %q", got, tc.v6)
			}
		})
	}
}

func prefixString(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

func TestTunnelRemotes(t *testing.T) {
	vlan := func(name string, internal bool, v4s ...string) F5SPKVlan {
		return F5SPKVlan{
			ObjectMeta: metav1.ObjectMeta{Namespace: "spk", Name: name},
			Spec:       F5SPKVlanSpec{Name: name, Interfaces: []string{"1.1"}, Internal: internal, SelfIPv4s: v4s, PrefixLenV4: 24},
		}
	}
	deleting := vlan("old", true, "198.18.100.9")
	deleting.DeletionTimestamp = &metav1.Time{}
	for _, tc := range []struct {
		name    string
		vlans   []F5SPKVlan
		remotes []string
		vlan    string
		err     string
	}{
		{name: "internal VLAN's self IPs in replica order",
			vlans:   []F5SPKVlan{vlan("external", false, "192.0.2.201", "192.0.2.202"), vlan("egress", true, "198.18.100.202", "198.18.100.201")},
			remotes: []string{"198.18.100.202", "198.18.100.201"}, vlan: "F5SPKVlan spk/egress"},
		{name: "a VLAN being deleted does not count",
			vlans:   []F5SPKVlan{deleting, vlan("egress", true, "198.18.100.201")},
			remotes: []string{"198.18.100.201"}, vlan: "F5SPKVlan spk/egress"},
		{name: "no VLAN", err: "no F5SPKVlan has internal: true"},
		{name: "no internal VLAN", vlans: []F5SPKVlan{vlan("external", false, "192.0.2.201")}, err: "no F5SPKVlan has internal: true"},
		{name: "two internal VLANs", vlans: []F5SPKVlan{vlan("b", true, "198.18.100.201"), vlan("a", true, "198.18.101.201")},
			err: "2 F5SPKVlans have internal: true (F5SPKVlan spk/a, F5SPKVlan spk/b)"},
		{name: "internal VLAN without IPv4", vlans: []F5SPKVlan{vlan("egress", true)}, err: "internal F5SPKVlan spk/egress has no selfip_v4s"},
		{name: "bad self IP", vlans: []F5SPKVlan{vlan("egress", true, "198.18.100.201", "nope")}, err: `selfip_v4s[1] "nope" is not an IPv4 address`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			remotes, name, err := TunnelRemotes(tc.vlans)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range remotes {
				got = append(got, a.String())
			}
			if !slices.Equal(got, tc.remotes) || name != tc.vlan {
				t.Errorf("got %v from %q, want %v from %q", got, name, tc.remotes, tc.vlan)
			}
		})
	}
}
