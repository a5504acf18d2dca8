package spk

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spklab/spklab/dataplane/config"
)

// labObjects is the default lab's CRs plus endpoints and a route, as the
// netns runtime writes them.
func labObjects(t *testing.T) *Objects {
	t.Helper()
	o := FromTopology(builtin(t, "default"))
	for _, ns := range []string{"red", "blue"} {
		se := StaticEndpoints{TypeMeta: typeMeta(APIVersionStaticEndpoints, KindStaticEndpoints)}
		se.Name, se.Namespace = "nginx-app-svc", ns
		base := map[string]string{"red": "10.244.1.", "blue": "10.244.1.1"}[ns]
		se.Endpoints = []StaticEndpoint{
			{IP: base + "2", Port: 80, Node: "bnk-worker", NodeAddress: "198.18.100.3"},
			{IP: base + "3", Port: 80, Node: "bnk-worker", NodeAddress: "198.18.100.3"},
		}
		o.Endpoints = append(o.Endpoints, se)
	}
	nodes := StaticNodes{TypeMeta: typeMeta(APIVersionStaticNodes, KindStaticNodes),
		Nodes: []StaticNode{{Name: "bnk-worker", IPv4: "198.18.100.3"}, {Name: "bnk-worker2", IPv4: "198.18.100.4"}}}
	nodes.Name = "nodes"
	o.Nodes = append(o.Nodes, nodes)
	r := F5SPKStaticRoute{TypeMeta: typeMeta(APIVersionStaticRoute, KindStaticRoute),
		Spec: F5SPKStaticRouteSpec{Destination: "198.51.100.0", PrefixLen: 24, Gateway: "192.0.2.250"}}
	r.Name, r.Namespace = "to-clients", "spk-ingress"
	o.Routes = append(o.Routes, r)
	return o
}

func TestCompileDefaultLab(t *testing.T) {
	o := labObjects(t)
	if got := o.Replicas(); got != 2 {
		t.Fatalf("Replicas() = %d, want 2", got)
	}
	out := Compile(o, 2)
	if len(out.Problems) > 0 {
		t.Fatalf("problems:\n%s", out)
	}
	if len(out.Configs) != 2 {
		t.Fatalf("%d configs, want 2", len(out.Configs))
	}
	for r, cfg := range out.Configs {
		if cfg.Replica != r || cfg.Version == "" {
			t.Errorf("config %d: replica %d version %q", r, cfg.Replica, cfg.Version)
		}
		vlan := func(name string) config.VLAN {
			i := slices.IndexFunc(cfg.VLANs, func(v config.VLAN) bool { return v.Name == name })
			if i < 0 {
				t.Fatalf("replica %d has no VLAN %s: %+v", r, name, cfg.VLANs)
			}
			return cfg.VLANs[i]
		}
		ext := vlan("external")
		want := []netip.Prefix{
			netip.MustParsePrefix([]string{"192.0.2.201/24", "192.0.2.202/24"}[r]),
			netip.MustParsePrefix([]string{"2001::192:0:2:201/112", "2001::192:0:2:202/112"}[r]),
		}
		if ext.Name != "external" || ext.Interface != "1.1" || ext.Internal || !slices.Equal(ext.SelfIPs, want) {
			t.Errorf("replica %d external VLAN = %+v, want self IPs %v", r, ext, want)
		}
		if eg := vlan("egress"); eg.Name != "egress" || !eg.Internal || eg.Interface != "1.2" {
			t.Errorf("replica %d egress VLAN = %+v", r, eg)
		}
		if len(cfg.VirtualServers) != 4 {
			t.Fatalf("replica %d: %d virtual servers, want 4 (2 tenants × v4, v6)", r, len(cfg.VirtualServers))
		}
		vs := cfg.VirtualServers[slices.IndexFunc(cfg.VirtualServers, func(vs config.VirtualServer) bool {
			return vs.Name == "red/red-ingress" && vs.Address.Is4()
		})]
		if vs.Name != "red/red-ingress" || vs.Address != netip.MustParseAddr("198.19.19.100") || vs.Port != 80 ||
			vs.Method != config.RoundRobin || vs.IdleTimeout != 300 || len(vs.Members) != 2 ||
			vs.Members[0].NodeAddress != netip.MustParseAddr("198.18.100.3") {
			t.Errorf("replica %d first virtual server = %+v", r, vs)
		}
		if len(cfg.Tenants) != 2 {
			t.Fatalf("replica %d: %d tenants", r, len(cfg.Tenants))
		}
		tenant := func(ns string) config.Tenant {
			i := slices.IndexFunc(cfg.Tenants, func(tn config.Tenant) bool { return tn.Namespace == ns })
			if i < 0 {
				t.Fatalf("replica %d has no tenant %s", r, ns)
			}
			return cfg.Tenants[i]
		}
		red := tenant("red")
		wantSNAT := []netip.Addr{
			netip.MustParseAddr([]string{"192.0.2.100", "192.0.2.101"}[r]),
			netip.MustParseAddr([]string{"2001::192:0:2:100", "2001::192:0:2:101"}[r]),
		}
		if red.VNI != 100 || red.Namespace != "red" || !slices.Equal(red.SNAT, wantSNAT) {
			t.Errorf("replica %d red tenant = %+v, want VNI 100 SNAT %v", r, red, wantSNAT)
		}
		if blue := tenant("blue"); blue.VNI != 200 {
			t.Errorf("blue VNI = %d", blue.VNI)
		}
		if len(cfg.Routes) != 1 || cfg.Routes[0].Gateway != netip.MustParseAddr("192.0.2.250") {
			t.Errorf("routes = %+v", cfg.Routes)
		}
	}
	if out.Configs[0].Version == out.Configs[1].Version {
		t.Error("both replicas have the same version though their self IPs differ")
	}
	again := Compile(labObjects(t), 2)
	if again.Configs[0].Version != out.Configs[0].Version {
		t.Error("compiling the same objects twice gave different versions")
	}
}

func TestCompileDoesNotChangeInput(t *testing.T) {
	o := labObjects(t)
	o.Ingresses[0].Spec.IdleTimeout = 0
	Compile(o, 2)
	if o.Ingresses[0].Spec.IdleTimeout != 0 {
		t.Error("Compile set a default in its input")
	}
}

func TestCompileRejects(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Objects)
		want   string
	}{
		{"ingress without a service", func(o *Objects) { o.Endpoints = o.Endpoints[1:] },
			`F5SPKIngressTCP red/red-ingress:service.name: no Service "nginx-app-svc" in namespace "red" (no endpoints known for it)`},
		{"egress with a missing snatpool", func(o *Objects) { o.Egresses[0].Spec.EgressSnatpool = "nope" },
			`F5SPKEgress red/red-egress:spec.egressSnatpool: no F5SPKSnatpool has spec.name "nope" (snatpools: blue-snat, red-snat)`},
		{"fewer snat rows than replicas", func(o *Objects) { o.Snatpools[0].Spec.AddressList = o.Snatpools[0].Spec.AddressList[:1] },
			`F5SPKEgress red/red-egress:spec.maxTmmReplicas: 2 replicas but F5SPKSnatpool "spk-ingress/red-snat" has 1 rows (row i is replica i's)`},
		{"fewer snat rows than replicas, maxTmmReplicas unset", func(o *Objects) {
			o.Snatpools[0].Spec.AddressList = o.Snatpools[0].Spec.AddressList[:1]
			o.Egresses[0].Spec.MaxTmmReplicas = 0
		}, `F5SPKEgress red/red-egress:spec.egressSnatpool: F5SPKSnatpool "red-snat" has 1 rows for 2 TMM replicas (row i is replica i's)`},
		{"fewer self IPs than replicas", func(o *Objects) { o.VLANs[1].Spec.SelfIPv4s = o.VLANs[1].Spec.SelfIPv4s[:1] },
			`F5SPKVlan spk-ingress/vlan-egress:spec.selfip_v4s: has 1 self IPs for 2 TMM replicas (element i is replica i's)`},
		// Equal creation times (files): name order decides who keeps the key.
		{"two tenants on one VXLAN key", func(o *Objects) { o.Egresses[0].Annotations[AnnotationVXLANKey] = "200" },
			`F5SPKEgress red/red-egress:metadata.annotations[spklab.io/vxlan-key]: VXLAN key 200 is already used by F5SPKEgress "blue/blue-egress"; each tenant needs its own`},
		{"listen VLAN unknown", func(o *Objects) { o.Ingresses[0].Spec.VLANs = &VLANList{VLANList: []string{"nope"}} },
			`F5SPKIngressTCP red/red-ingress:spec.vlans.vlanList[0]: no F5SPKVlan has spec.name "nope" (VLANs: egress, external)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := labObjects(t)
			tc.mutate(o)
			out := Compile(o, 2)
			var got []string
			for _, p := range out.Problems {
				got = append(got, p.String())
			}
			if !slices.Contains(got, tc.want) {
				t.Fatalf("missing problem\n  %s\ngot:\n  %s", tc.want, strings.Join(got, "\n  "))
			}
			if len(out.Configs) != 2 {
				t.Fatalf("a rejected object must not stop the others: %d configs", len(out.Configs))
			}
		})
	}
}

func TestCompileLeavesOutOnlyTheBadObject(t *testing.T) {
	o := labObjects(t)
	o.Ingresses[1].Spec.DestinationAddress = "not-an-ip"
	out := Compile(o, 2)
	if len(out.Configs) != 2 {
		t.Fatalf("%d configs", len(out.Configs))
	}
	if reason, ok := out.Rejected["F5SPKIngressTCP blue/blue-ingress"]; !ok || !strings.Contains(reason, "not-an-ip") {
		t.Errorf("rejected = %v", out.Rejected)
	}
	for _, vs := range out.Configs[0].VirtualServers {
		if vs.Name == "blue/blue-ingress" {
			t.Errorf("the bad ingress was compiled: %+v", vs)
		}
	}
	if n := len(out.Configs[0].VirtualServers); n != 2 {
		t.Errorf("%d virtual servers, want red's 2", n)
	}
}

func TestCompileIgnoresInputOrder(t *testing.T) {
	want := Compile(labObjects(t), 2)
	o := labObjects(t)
	slices.Reverse(o.VLANs)
	slices.Reverse(o.Ingresses)
	slices.Reverse(o.Snatpools)
	slices.Reverse(o.Egresses)
	slices.Reverse(o.Endpoints)
	got := Compile(o, 2)
	for i := range want.Configs {
		if got.Configs[i].Version != want.Configs[i].Version {
			t.Fatalf("replica %d: version %s from reversed input, %s from the original order", i, got.Configs[i].Version, want.Configs[i].Version)
		}
	}
}

// Objects from the API server carry creation times, objects from files do
// not; the config must not depend on them unless two objects conflict.
func TestCompileIgnoresCreationTimes(t *testing.T) {
	want := Compile(labObjects(t), 2)
	o := labObjects(t)
	// Ages against name order: the object whose namespace/name sorts last
	// is the oldest, a second apart each, so creation order reverses name
	// order in every kind.
	stamp := func(ms []*metav1.ObjectMeta) {
		slices.SortFunc(ms, func(a, b *metav1.ObjectMeta) int {
			return strings.Compare(b.Namespace+"/"+b.Name, a.Namespace+"/"+a.Name)
		})
		for i, m := range ms {
			m.CreationTimestamp = metav1.NewTime(time.Unix(int64(1000+i), 0))
		}
	}
	metas := func(n int, at func(int) *metav1.ObjectMeta) []*metav1.ObjectMeta {
		var out []*metav1.ObjectMeta
		for i := range n {
			out = append(out, at(i))
		}
		return out
	}
	stamp(metas(len(o.VLANs), func(i int) *metav1.ObjectMeta { return &o.VLANs[i].ObjectMeta }))
	stamp(metas(len(o.Ingresses), func(i int) *metav1.ObjectMeta { return &o.Ingresses[i].ObjectMeta }))
	stamp(metas(len(o.Snatpools), func(i int) *metav1.ObjectMeta { return &o.Snatpools[i].ObjectMeta }))
	stamp(metas(len(o.Egresses), func(i int) *metav1.ObjectMeta { return &o.Egresses[i].ObjectMeta }))
	stamp(metas(len(o.Routes), func(i int) *metav1.ObjectMeta { return &o.Routes[i].ObjectMeta }))
	got := Compile(o, 2)
	for i := range want.Configs {
		if got.Configs[i].Version != want.Configs[i].Version {
			t.Errorf("replica %d: version %s with creation times, %s without", i, got.Configs[i].Version, want.Configs[i].Version)
		}
	}
	if len(got.Configs[0].VirtualServers) < 2 || got.Configs[0].VirtualServers[0].Name > got.Configs[0].VirtualServers[len(got.Configs[0].VirtualServers)-1].Name {
		t.Errorf("virtual servers not in name order: %+v", got.Configs[0].VirtualServers)
	}
}

func TestCompileOlderObjectKeepsAVXLANKey(t *testing.T) {
	o := labObjects(t)
	// red is older, so blue (which sorts first by name) loses the key.
	o.Egresses[0].CreationTimestamp = metav1.NewTime(time.Unix(1000, 0))
	o.Egresses[1].CreationTimestamp = metav1.NewTime(time.Unix(2000, 0))
	o.Egresses[1].Annotations[AnnotationVXLANKey] = "100"
	out := Compile(o, 2)
	if why := out.Rejected["F5SPKEgress blue/blue-egress"]; !strings.Contains(why, `already used by F5SPKEgress "red/red-egress"`) {
		t.Fatalf("blue: %q; rejected: %v", why, out.Rejected)
	}
}
