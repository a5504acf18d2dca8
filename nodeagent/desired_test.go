package nodeagent

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spklab/spklab/nodeagent/tenantnet"
	"github.com/spklab/spklab/spk"
)

const thisNode = "bnk-worker"

var (
	clusterCIDRs = []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16"), netip.MustParsePrefix("10.96.0.0/16")}
	tmms         = addrs("198.18.100.201", "198.18.100.202")
)

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func node(annotation string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: thisNode}}
	if annotation != "" {
		n.Annotations = map[string]string{spk.DefaultNodeAddressAnnotation: annotation}
	}
	return n
}

func vlan(name string, internal bool, selfIPs ...string) spk.F5SPKVlan {
	return spk.F5SPKVlan{
		ObjectMeta: metav1.ObjectMeta{Namespace: "spk", Name: name},
		Spec:       spk.F5SPKVlanSpec{Name: name, Interfaces: []string{"1.1"}, Internal: internal, SelfIPv4s: selfIPs, PrefixLenV4: 24},
	}
}

var lab = []spk.F5SPKVlan{
	vlan("external", false, "192.0.2.201", "192.0.2.202"),
	vlan("egress", true, "198.18.100.201", "198.18.100.202"),
}

func egress(ns, name, key string) spk.F5SPKEgress {
	e := spk.F5SPKEgress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if key != "" {
		e.Annotations = map[string]string{spk.AnnotationVXLANKey: key}
	}
	return e
}

type podOpt func(*corev1.Pod)

func createdAt(e spk.F5SPKEgress, second int64) spk.F5SPKEgress {
	e.CreationTimestamp = metav1.NewTime(time.Unix(second, 0))
	return e
}

func pod(ns, name, nodeName string, ips []string, opts ...podOpt) corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.PodSpec{NodeName: nodeName},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	if len(ips) > 0 {
		p.Status.PodIP = ips[0]
	}
	for _, ip := range ips {
		p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: ip})
	}
	for _, o := range opts {
		o(&p)
	}
	return p
}

func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }
func terminating(p *corev1.Pod)       { p.DeletionTimestamp = &metav1.Time{} }
func hostNetwork(p *corev1.Pod)       { p.Spec.HostNetwork = true }
func onlyPodIP(p *corev1.Pod)         { p.Status.PodIPs = nil }

func TestBuild(t *testing.T) {
	const addr = `{"ipv4":"198.18.100.3/24","ipv6":"2001::198:18:100:3/112"}`
	redVNI := spk.DerivedVXLANKey("red")
	labExempt := prefixes("10.96.0.0/16", "10.244.0.0/16", "198.18.100.0/24", "2001::198:18:100:0/112")
	deletedEgress := egress("gone", "e", "")
	deletedEgress.DeletionTimestamp = &metav1.Time{}

	for _, tc := range []struct {
		name     string
		in       Inputs
		want     tenantnet.Node
		skipped  []string // substrings, one per Skipped line, in order
		err      string
		noExempt bool
	}{
		{
			name: "two tenants",
			in: Inputs{
				Node:     node(addr),
				Egresses: []spk.F5SPKEgress{egress("red", "red-egress", ""), egress("blue", "blue-egress", "200")},
				VLANs:    lab,
				Pods: []corev1.Pod{
					pod("red", "r2", thisNode, []string{"10.244.1.3"}),
					pod("red", "r1", thisNode, []string{"10.244.1.2", "2001:db8::2"}),
					pod("blue", "b1", thisNode, []string{"10.244.1.4"}, onlyPodIP),
					pod("blue", "b-pending", thisNode, []string{"10.244.1.5"}, phase(corev1.PodPending)),
				},
			},
			want: tenantnet.Node{Local: netip.MustParseAddr("198.18.100.3"), Exempt: labExempt, Tenants: []tenantnet.Tenant{
				{Name: "blue", VNI: 200, TMMs: tmms, Pods: addrs("10.244.1.4", "10.244.1.5")},
				{Name: "red", VNI: redVNI, TMMs: tmms, Pods: addrs("10.244.1.2", "10.244.1.3", "2001:db8::2")},
			}},
		},
		{
			name: "pods that are not this node's to route are ignored",
			in: Inputs{
				Node:     node(addr),
				Egresses: []spk.F5SPKEgress{egress("red", "e", "100")},
				VLANs:    lab,
				Pods: []corev1.Pod{
					pod("red", "here", thisNode, []string{"10.244.1.2"}),
					pod("red", "other-node", "bnk-worker2", []string{"10.244.2.2"}),
					pod("red", "terminating", thisNode, []string{"10.244.1.3"}, terminating),
					pod("red", "host-network", thisNode, []string{"198.18.100.3"}, hostNetwork),
					pod("red", "succeeded", thisNode, []string{"10.244.1.4"}, phase(corev1.PodSucceeded)),
					pod("red", "failed", thisNode, []string{"10.244.1.5"}, phase(corev1.PodFailed)),
					pod("red", "pending-no-ip", thisNode, nil, phase(corev1.PodPending)),
					pod("green", "no-egress", thisNode, []string{"10.244.1.6"}),
				},
			},
			want: tenantnet.Node{Local: netip.MustParseAddr("198.18.100.3"), Exempt: labExempt, Tenants: []tenantnet.Tenant{
				{Name: "red", VNI: 100, TMMs: tmms, Pods: addrs("10.244.1.2")},
			}},
		},
		{
			name: "only pods on other nodes: no tenants, nothing else needed",
			in: Inputs{
				Node:     node(""),
				Egresses: []spk.F5SPKEgress{egress("red", "e", "100")},
				Pods:     []corev1.Pod{pod("red", "there", "bnk-worker2", []string{"10.244.2.2"})},
			},
			want: tenantnet.Node{},
		},
		{
			name: "egress being deleted is no tenant",
			in: Inputs{
				Node: node(addr), VLANs: lab,
				Egresses: []spk.F5SPKEgress{deletedEgress},
				Pods:     []corev1.Pod{pod("gone", "p", thisNode, []string{"10.244.1.2"})},
			},
			want: tenantnet.Node{},
		},
		{
			name: "missing annotation with egress pods here",
			in: Inputs{
				Node: node(""), VLANs: lab,
				Egresses: []spk.F5SPKEgress{egress("red", "e", "100")},
				Pods:     []corev1.Pod{pod("red", "p", thisNode, []string{"10.244.1.2"})},
			},
			err: "node bnk-worker has no k8s.ovn.org/node-primary-ifaddr annotation",
		},
		{
			name: "missing annotation without egress pods",
			in: Inputs{
				Node: node(""), VLANs: lab,
				Egresses: []spk.F5SPKEgress{egress("red", "e", "100")},
				Pods:     []corev1.Pod{pod("blue", "p", thisNode, []string{"10.244.1.2"})},
			},
			want: tenantnet.Node{},
		},
		{
			name: "renamed annotation",
			in: Inputs{
				Node:              &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: thisNode, Annotations: map[string]string{"example.com/egress": `{"ipv4":"198.18.100.9/24"}`}}},
				AddressAnnotation: "example.com/egress",
				VLANs:             lab,
				Egresses:          []spk.F5SPKEgress{egress("red", "e", "100")},
				Pods:              []corev1.Pod{pod("red", "p", thisNode, []string{"10.244.1.2"})},
			},
			want: tenantnet.Node{Local: netip.MustParseAddr("198.18.100.9"), Exempt: prefixes("10.96.0.0/16", "10.244.0.0/16", "198.18.100.0/24"),
				Tenants: []tenantnet.Tenant{{Name: "red", VNI: 100, TMMs: tmms, Pods: addrs("10.244.1.2")}}},
		},
		{
			name: "annotation without IPv4",
			in: Inputs{
				Node: node(`{"ipv6":"2001::3/112"}`), VLANs: lab,
				Egresses: []spk.F5SPKEgress{egress("red", "e", "100")},
				Pods:     []corev1.Pod{pod("red", "p", thisNode, []string{"10.244.1.2"})},
			},
			err: "has no IPv4 address (the tenant tunnels run over IPv4)",
		},
		{
			name: "no Node object",
			in: Inputs{
				VLANs:    lab,
				Egresses: []spk.F5SPKEgress{egress("red", "e", "100")},
				Pods:     []corev1.Pod{pod("red", "p", thisNode, []string{"10.244.1.2"})},
			},
			err: "its Node object could not be read",
		},
		{
			name: "no internal VLAN",
			in: Inputs{
				Node: node(addr), VLANs: lab[:1],
				Egresses: []spk.F5SPKEgress{egress("red", "e", "100")},
				Pods:     []corev1.Pod{pod("red", "p", thisNode, []string{"10.244.1.2"})},
			},
			err: "no F5SPKVlan has internal: true",
		},
		{
			name: "egress with a bad VXLAN key is skipped, the others stay",
			in: Inputs{
				Node: node(addr), VLANs: lab,
				Egresses: []spk.F5SPKEgress{egress("red", "e", "0x10"), egress("blue", "e", "200")},
				Pods: []corev1.Pod{
					pod("red", "p", thisNode, []string{"10.244.1.2"}),
					pod("blue", "p", thisNode, []string{"10.244.1.4"}),
				},
			},
			want: tenantnet.Node{Local: netip.MustParseAddr("198.18.100.3"), Exempt: labExempt, Tenants: []tenantnet.Tenant{
				{Name: "blue", VNI: 200, TMMs: tmms, Pods: addrs("10.244.1.4")},
			}},
			skipped: []string{`F5SPKEgress red/e: annotation spklab.io/vxlan-key "0x10" is not a VXLAN key (1–16777215); tenant red gets no egress tunnel`},
		},
		{
			name: "VXLAN key out of range",
			in: Inputs{
				Node: node(addr), VLANs: lab,
				Egresses: []spk.F5SPKEgress{egress("red", "e", "16777216")},
				Pods:     []corev1.Pod{pod("red", "p", thisNode, []string{"10.244.1.2"})},
			},
			want:    tenantnet.Node{},
			skipped: []string{`"16777216" is not a VXLAN key`},
		},
		{
			name: "two tenants with one key: the first by namespace keeps it",
			in: Inputs{
				Node: node(addr), VLANs: lab,
				Egresses: []spk.F5SPKEgress{egress("red", "e", "300"), egress("blue", "e", "300")},
				Pods: []corev1.Pod{
					pod("red", "p", thisNode, []string{"10.244.1.2"}),
					pod("blue", "p", thisNode, []string{"10.244.1.4"}),
				},
			},
			want: tenantnet.Node{Local: netip.MustParseAddr("198.18.100.3"), Exempt: labExempt, Tenants: []tenantnet.Tenant{
				{Name: "blue", VNI: 300, TMMs: tmms, Pods: addrs("10.244.1.4")},
			}},
			skipped: []string{"F5SPKEgress red/e: VXLAN key 300 is already used by F5SPKEgress blue/e"},
		},
		{
			name: "two tenants with one key: the older keeps it, whatever the names sort as",
			in: Inputs{
				Node: node(addr), VLANs: lab,
				Egresses: []spk.F5SPKEgress{createdAt(egress("red", "e", "300"), 1), createdAt(egress("blue", "e", "300"), 2)},
				Pods: []corev1.Pod{
					pod("red", "p", thisNode, []string{"10.244.1.2"}),
					pod("blue", "p", thisNode, []string{"10.244.1.4"}),
				},
			},
			want: tenantnet.Node{Local: netip.MustParseAddr("198.18.100.3"), Exempt: labExempt, Tenants: []tenantnet.Tenant{
				{Name: "red", VNI: 300, TMMs: tmms, Pods: addrs("10.244.1.2")},
			}},
			skipped: []string{"F5SPKEgress blue/e: VXLAN key 300 is already used by F5SPKEgress red/e"},
		},
		{
			name: "two egresses in one namespace: the first by name is the tenant",
			in: Inputs{
				Node: node(addr), VLANs: lab,
				Egresses: []spk.F5SPKEgress{egress("red", "z", "301"), egress("red", "a", "300")},
				Pods:     []corev1.Pod{pod("red", "p", thisNode, []string{"10.244.1.2"})},
			},
			want: tenantnet.Node{Local: netip.MustParseAddr("198.18.100.3"), Exempt: labExempt, Tenants: []tenantnet.Tenant{
				{Name: "red", VNI: 300, TMMs: tmms, Pods: addrs("10.244.1.2")},
			}},
			skipped: []string{"F5SPKEgress red/z: namespace red already has F5SPKEgress red/a"},
		},
		{
			name: "a pod IP that is not an address",
			in: Inputs{
				Node: node(addr), VLANs: lab,
				Egresses: []spk.F5SPKEgress{egress("red", "e", "100")},
				Pods:     []corev1.Pod{pod("red", "p", thisNode, []string{"10.244.1.2", "bogus"})},
			},
			want: tenantnet.Node{Local: netip.MustParseAddr("198.18.100.3"), Exempt: labExempt, Tenants: []tenantnet.Tenant{
				{Name: "red", VNI: 100, TMMs: tmms, Pods: addrs("10.244.1.2")},
			}},
			skipped: []string{`pod red/p: pod IP "bogus" is not an address`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.NodeName = thisNode
			if in.ClusterCIDRs == nil {
				in.ClusterCIDRs = clusterCIDRs
			}
			d, err := Build(in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The guard covers the internal VLAN's self IPs whenever the
			// VLANs name them, tenants on the node or not.
			if tc.want.Guard == nil && reflect.DeepEqual(in.VLANs, lab) {
				tc.want.Guard = tmms
			}
			if !reflect.DeepEqual(d.Node, tc.want) {
				t.Errorf("node =\n%+v\nwant\n%+v", d.Node, tc.want)
			}
			if len(d.Skipped) != len(tc.skipped) {
				t.Fatalf("skipped = %q, want %d lines like %q", d.Skipped, len(tc.skipped), tc.skipped)
			}
			for i, want := range tc.skipped {
				if !strings.Contains(d.Skipped[i], want) {
					t.Errorf("skipped[%d] = %q, want it to contain %q", i, d.Skipped[i], want)
				}
			}
		})
	}
}

// Build's result is independent of the order the cache lists objects in.
func TestBuildIgnoresListOrder(t *testing.T) {
	in := Inputs{
		NodeName: thisNode, Node: node(`{"ipv4":"198.18.100.3/24"}`), ClusterCIDRs: clusterCIDRs, VLANs: lab,
		Egresses: []spk.F5SPKEgress{egress("a", "e", "7"), egress("b", "e", "7"), egress("c", "e", ""), egress("c", "d", "")},
		Pods: []corev1.Pod{
			pod("a", "1", thisNode, []string{"10.244.1.1"}), pod("b", "1", thisNode, []string{"10.244.1.2"}),
			pod("c", "1", thisNode, []string{"10.244.1.3"}), pod("c", "2", thisNode, []string{"10.244.1.4"}),
		},
	}
	first, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		shuffled := in
		shuffled.Egresses = slices.Clone(in.Egresses)
		shuffled.Pods = slices.Clone(in.Pods)
		slices.Reverse(shuffled.Egresses)
		if i%2 == 0 {
			slices.Reverse(shuffled.Pods)
		}
		shuffled.Egresses[0], shuffled.Egresses[i%len(shuffled.Egresses)] = shuffled.Egresses[i%len(shuffled.Egresses)], shuffled.Egresses[0]
		got, err := Build(shuffled)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, first) {
			t.Fatalf("order %d: %+v, want %+v", i, got, first)
		}
	}
	if len(first.Node.Tenants) != 2 || len(first.Skipped) != 2 {
		t.Errorf("want tenants a and c, b and c/e skipped; got %+v", first)
	}
}
