package spk

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/spklab/spklab/internal/golden"
	"github.com/spklab/spklab/topology"
)

func builtin(t *testing.T, name string) *topology.Topology {
	t.Helper()
	topo, err := topology.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	if ps := topology.Validate(topo); ps != nil {
		t.Fatalf("built-in %s does not validate:\n%v", name, ps)
	}
	return topo
}

func TestFromTopologyGolden(t *testing.T) {
	for _, name := range topology.Builtins() {
		t.Run(name, func(t *testing.T) {
			got, err := FromTopology(builtin(t, name)).YAML()
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "testdata/"+name+".yaml", got)
		})
	}
}

// What the lab applies must load back into the same objects and check clean.
func TestFromTopologyRoundTrip(t *testing.T) {
	for _, name := range topology.Builtins() {
		t.Run(name, func(t *testing.T) {
			want := FromTopology(builtin(t, name))
			if ps := want.Check(); ps != nil {
				t.Fatalf("FromTopology objects have problems:\n%v", ps)
			}
			data, err := want.YAML()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(name+".yaml", data)
			if err != nil {
				t.Fatalf("Parse of YAML():\n%v", err)
			}
			if ps := got.Check(); ps != nil {
				t.Fatalf("parsed objects have problems:\n%v", ps)
			}
			clearSources(got)
			// The routing values are Helm values, not CRs: YAML leaves them out.
			if want.Routing == nil {
				t.Errorf("FromTopology gave no routing values")
			}
			want.Routing = nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip changed the objects\n got: %+v\nwant: %+v", got, want)
			}
		})
	}
}

func clearSources(o *Objects) {
	for i := range o.VLANs {
		o.VLANs[i].Source = ""
	}
	for i := range o.Ingresses {
		o.Ingresses[i].Source = ""
	}
	for i := range o.Snatpools {
		o.Snatpools[i].Source = ""
	}
	for i := range o.Egresses {
		o.Egresses[i].Source = ""
	}
	for i := range o.Endpoints {
		o.Endpoints[i].Source = ""
	}
}

func TestFromTopologyDefault(t *testing.T) {
	o := FromTopology(builtin(t, topology.BuiltinDefault))
	if len(o.VLANs) != 2 || len(o.Ingresses) != 2 || len(o.Snatpools) != 2 || len(o.Egresses) != 2 || len(o.Endpoints) != 0 {
		t.Fatalf("counts: %d VLANs, %d ingresses, %d snatpools, %d egresses, %d endpoints",
			len(o.VLANs), len(o.Ingresses), len(o.Snatpools), len(o.Egresses), len(o.Endpoints))
	}
	ext := o.VLANs[0]
	wantExt := F5SPKVlanSpec{
		Name: "external", Tag: 0, Interfaces: []string{"1.1"},
		SelfIPv4s: []string{"192.0.2.201", "192.0.2.202"}, PrefixLenV4: 24,
		SelfIPv6s: []string{"2001::192:0:2:201", "2001::192:0:2:202"}, PrefixLenV6: 112,
		MTU: 1500,
	}
	if ext.Name != "vlan-external" || ext.Namespace != "spk-ingress" || !reflect.DeepEqual(ext.Spec, wantExt) {
		t.Errorf("external VLAN = %s/%s %+v", ext.Namespace, ext.Name, ext.Spec)
	}
	if !o.VLANs[1].Spec.Internal {
		t.Errorf("egress VLAN not internal: %+v", o.VLANs[1].Spec)
	}
	red := o.Ingresses[0]
	if red.Namespace != "red" || red.Service != (ServiceRef{"nginx-app-svc", 80}) || red.Spec.DestinationAddress != "198.19.19.100" ||
		red.Spec.DestinationPort != 80 || red.Spec.IdleTimeout != 300 || red.Spec.LoadBalancingMethod != RoundRobin || red.Spec.SNAT != SNATAutomap {
		t.Errorf("red ingress = %+v", red)
	}
	if sp := o.Snatpools[1]; sp.Namespace != "spk-ingress" || sp.Spec.Name != "blue-snat" || len(sp.Spec.AddressList) != 2 {
		t.Errorf("blue snatpool = %+v", sp)
	}
	if e := o.Egresses[0]; e.Namespace != "red" || e.Spec.EgressSnatpool != "red-snat" || e.Spec.SNATType != SNATPool ||
		!e.Spec.DualStackEnabled || e.Spec.MaxTmmReplicas != 2 {
		t.Errorf("red egress = %+v", e)
	}
	if got := ext.Labels[LabelManagedBy]; got != ManagedBySPKLab {
		t.Errorf("managed-by label = %q", got)
	}
}

// A tenant without IPv6 SNAT addresses gets no dual stack; one without a
// SNAT pool gets no egress; one without ingress no F5SPKIngressTCP.
func TestFromTopologyOptionalParts(t *testing.T) {
	topo := builtin(t, topology.BuiltinDefault)
	topo.Tenants[0].SNATPool.Rows = [][]string{{"192.0.2.100"}, {"192.0.2.101"}}
	topo.Tenants[1].SNATPool = nil
	topo.Tenants[1].Ingress = nil
	o := FromTopology(topo)
	if len(o.Ingresses) != 1 || len(o.Snatpools) != 1 || len(o.Egresses) != 1 {
		t.Fatalf("counts: %d ingresses, %d snatpools, %d egresses", len(o.Ingresses), len(o.Snatpools), len(o.Egresses))
	}
	if o.Egresses[0].Spec.DualStackEnabled {
		t.Error("dual stack without IPv6 SNAT addresses")
	}
}

// The stream has only what a CR file holds: no status, no server fields,
// even when the objects carry status.
func TestYAMLHasNoNoise(t *testing.T) {
	o := FromTopology(builtin(t, topology.BuiltinSeedExample))
	o.VLANs[0].Status.ObservedGeneration = 3
	o.Endpoints = []StaticEndpoints{{
		TypeMeta:   typeMeta(APIVersionStaticEndpoints, KindStaticEndpoints),
		ObjectMeta: labelledMeta("nginx-app-svc", "spk-apps"),
		Endpoints:  []StaticEndpoint{{IP: "10.244.1.5", Port: 80, NodeAddress: "10.20.20.3"}},
	}}
	data, err := o.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, noise := range []string{"status", "creationTimestamp", "null", "observedGeneration"} {
		if bytes.Contains(data, []byte(noise)) {
			t.Errorf("YAML holds %q:\n%s", noise, data)
		}
	}
	// Endpoints come last.
	if i, j := bytes.Index(data, []byte("kind: F5SPKIngressTCP")), bytes.Index(data, []byte("kind: StaticEndpoints")); i < 0 || j < i {
		t.Errorf("StaticEndpoints not after the ingresses:\n%s", data)
	}
}
