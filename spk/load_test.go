package spk

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The seed's own CR examples must load unchanged and check clean.
func TestSeedLoads(t *testing.T) {
	o, err := LoadDir("testdata/seed")
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if ps := o.Check(); ps != nil {
		t.Fatalf("Check:\n%v", ps)
	}
	if len(o.VLANs) != 2 || len(o.Ingresses) != 1 || len(o.Snatpools) != 1 || len(o.Egresses) != 1 {
		t.Fatalf("got %d VLANs, %d ingresses, %d snatpools, %d egresses; want 2, 1, 1, 1",
			len(o.VLANs), len(o.Ingresses), len(o.Snatpools), len(o.Egresses))
	}
	ext := o.VLANs[0]
	if ext.Kind != KindVLAN || ext.APIVersion != APIVersionVLAN || ext.Name != "vlan-external" ||
		ext.Spec.Tag != 3334 || ext.Spec.PrefixLenV6 != 112 || !slices.Equal(ext.Spec.SelfIPv6s, []string{"2002::198:51:100:120"}) {
		t.Errorf("external VLAN = %+v", ext)
	}
	if want := filepath.Join("testdata", "seed", "vlans.yaml") + "#2"; o.VLANs[1].Source != want {
		t.Errorf("second VLAN's source = %q, want %q", o.VLANs[1].Source, want)
	}
	in := o.Ingresses[0]
	if in.Service != (ServiceRef{Name: "k8s-service", Port: 8050}) || in.Spec.ClientTimeout != 30 ||
		in.Spec.DestinationAddress != "10.11.22.33" || in.Spec.IPv6DestinationAddress != "2002:0007::0008" || in.Spec.DestinationPort != 8050 {
		t.Errorf("ingress = %+v", in)
	}
	if want := filepath.Join("testdata", "seed", "ingress.yaml"); in.Source != want {
		t.Errorf("ingress source = %q, want %q (a one-document file is named alone)", in.Source, want)
	}
	if sp := o.Snatpools[0]; sp.Spec.Name != "snatpool1" || len(sp.Spec.AddressList) != 4 {
		t.Errorf("snatpool = %+v", sp)
	}
	e := o.Egresses[0]
	if e.Spec.EgressSnatpool != "snatpool1" || e.Spec.NAT64Ipv6Subnet != "64:ff9b::/96" || e.Spec.MaxTmmReplicas != 1 ||
		e.Spec.MaxDNS46TTL != 120 || e.EffectiveSNATType() != SNATPool {
		t.Errorf("egress = %+v", e)
	}
}

// Each case is one kind of loading error and the exact problem it gives.
func TestParseErrors(t *testing.T) {
	vlanHead := "apiVersion: k8s.f5net.com/v1\nkind: F5SPKVlan\nmetadata:\n  name: v\n"
	cases := []struct {
		name, data string
		want       []string
	}{
		{name: "unknown field with line",
			data: vlanHead + "spec:\n  name: v\n  tga: 5\n",
			want: []string{`crs/vlan.yaml:7: unknown field "tga" (known fields here: auto_lasthop, bonded, interfaces, internal, mtu, name, prefixlen_v4, prefixlen_v6, selfip_v4s, selfip_v6s, tag)`}},
		{name: "unknown top-level field",
			data: vlanHead + "spek: {}\n",
			want: []string{`crs/vlan.yaml:5: unknown field "spek" (known fields here: apiVersion, kind, metadata, spec)`}},
		{name: "server-set metadata",
			data: "apiVersion: k8s.f5net.com/v1\nkind: F5SPKVlan\nmetadata:\n  name: v\n  uid: 1234\n",
			want: []string{`crs/vlan.yaml:5: unknown field "uid" (known fields here: annotations, creationTimestamp, labels, name, namespace)`}},
		{name: "bad creation time",
			data: "apiVersion: k8s.f5net.com/v1\nkind: F5SPKVlan\nmetadata:\n  name: v\n  creationTimestamp: yesterday\n",
			want: []string{`crs/vlan.yaml:5: "yesterday" is not a time like 2026-12-07T20:00:00Z (RFC 3339)`}},
		{name: "status",
			data: vlanHead + "status: {}\n",
			want: []string{`crs/vlan.yaml:5: unknown field "status" (known fields here: apiVersion, kind, metadata, spec); status is written by the controller, not read from CR files`}},
		{name: "unknown kind",
			data: "apiVersion: k8s.f5net.com/v1\nkind: F5SPKVlans\n",
			want: []string{`crs/vlan.yaml:1: unknown apiVersion "k8s.f5net.com/v1" kind "F5SPKVlans" (supported: k8s.f5net.com/v1 F5SPKVlan, ingresstcp.k8s.f5net.com/v1 F5SPKIngressTCP, k8s.f5net.com/v1 F5SPKSnatpool, k8s.f5net.com/v2 F5SPKEgress, k8s.f5net.com/v1 F5SPKStaticRoute, spklab.io/v1alpha1 StaticEndpoints, spklab.io/v1alpha1 StaticNodes)`}},
		{name: "unknown apiVersion of a known kind",
			data: "apiVersion: k8s.f5net.com/v3\nkind: F5SPKEgress\n",
			want: []string{`crs/vlan.yaml:1: unknown apiVersion "k8s.f5net.com/v3" kind "F5SPKEgress" (supported: k8s.f5net.com/v1 F5SPKVlan, ingresstcp.k8s.f5net.com/v1 F5SPKIngressTCP, k8s.f5net.com/v1 F5SPKSnatpool, k8s.f5net.com/v2 F5SPKEgress, k8s.f5net.com/v1 F5SPKStaticRoute, spklab.io/v1alpha1 StaticEndpoints, spklab.io/v1alpha1 StaticNodes)`}},
		{name: "missing kind",
			data: "apiVersion: k8s.f5net.com/v1\nmetadata: {name: v}\n",
			want: []string{`crs/vlan.yaml:1: missing kind (supported: k8s.f5net.com/v1 F5SPKVlan, ingresstcp.k8s.f5net.com/v1 F5SPKIngressTCP, k8s.f5net.com/v1 F5SPKSnatpool, k8s.f5net.com/v2 F5SPKEgress, k8s.f5net.com/v1 F5SPKStaticRoute, spklab.io/v1alpha1 StaticEndpoints, spklab.io/v1alpha1 StaticNodes)`}},
		{name: "kind not a string",
			data: "apiVersion: k8s.f5net.com/v1\nkind: [F5SPKVlan]\n",
			want: []string{`crs/vlan.yaml:2: kind must be a string, not a list`}},
		{name: "document not a mapping",
			data: "- apiVersion: k8s.f5net.com/v1\n",
			want: []string{`crs/vlan.yaml:1: a CR document must be a mapping with apiVersion and kind, not a list`}},
		{name: "wrong type",
			data: vlanHead + "spec:\n  name: v\n  tag: untagged\n",
			want: []string{`crs/vlan.yaml:7: "untagged" is a string where an integer is expected`}},
		{name: "wrong type, list for a string",
			data: vlanHead + "spec:\n  name: [v]\n",
			want: []string{`crs/vlan.yaml:6: a list where a string is expected`}},
		{name: "wrong type, enum",
			data: "apiVersion: k8s.f5net.com/v2\nkind: F5SPKEgress\nmetadata: {name: e}\nspec:\n  snatType: {a: b}\n",
			want: []string{`crs/vlan.yaml:5: a mapping where a string is expected`}},
		{name: "out of int32 range",
			data: vlanHead + "spec:\n  name: v\n  mtu: 99999999999\n",
			want: []string{`crs/vlan.yaml:7: "9999999..." is out of range for an int32`}},
		{name: "syntax error",
			data: vlanHead + "spec: [\n",
			want: []string{`crs/vlan.yaml:5: did not find expected node content`}},
		{name: "every problem of every document",
			data: vlanHead + "spec: {tga: 1}\n---\n" + vlanHead + "spec: {mtu: x}\n---\nkind: Foo\n",
			want: []string{
				`crs/vlan.yaml:5: unknown field "tga" (known fields here: auto_lasthop, bonded, interfaces, internal, mtu, name, prefixlen_v4, prefixlen_v6, selfip_v4s, selfip_v6s, tag)`,
				`crs/vlan.yaml:11: "x" is a string where an integer is expected`,
				`crs/vlan.yaml:13: missing apiVersion (supported: k8s.f5net.com/v1 F5SPKVlan, ingresstcp.k8s.f5net.com/v1 F5SPKIngressTCP, k8s.f5net.com/v1 F5SPKSnatpool, k8s.f5net.com/v2 F5SPKEgress, k8s.f5net.com/v1 F5SPKStaticRoute, spklab.io/v1alpha1 StaticEndpoints, spklab.io/v1alpha1 StaticNodes)`,
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := Parse("crs/vlan.yaml", []byte(tc.data))
			if err == nil {
				t.Fatalf("no error; objects %+v", o)
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %T is not Problems: %v", err, err)
			}
			got := strings.Split(ps.Error(), "\n")
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestParseEmptyAndComments(t *testing.T) {
	o, err := Parse("x.yaml", []byte("# nothing here\n---\n---\n# still nothing\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(o.VLANs)+len(o.Ingresses)+len(o.Snatpools)+len(o.Egresses)+len(o.Endpoints) != 0 {
		t.Errorf("objects from an empty stream: %+v", o)
	}
}

func TestStaticEndpointsLoad(t *testing.T) {
	data := `apiVersion: spklab.io/v1alpha1
kind: StaticEndpoints
metadata:
  name: nginx-app-svc
  namespace: red
endpoints:
  - {ip: 10.244.1.5, port: 80, node: bnk-worker, nodeAddress: 198.18.100.3}
  - {ip: "fd00:10:244:1::5", port: 80, nodeAddress: "2001::198:18:100:3"}
`
	o, err := Parse("ep.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if ps := o.Check(); ps != nil {
		t.Fatal(ps)
	}
	want := StaticEndpoint{IP: "10.244.1.5", Port: 80, Node: "bnk-worker", NodeAddress: "198.18.100.3"}
	if len(o.Endpoints) != 1 || o.Endpoints[0].Namespace != "red" || len(o.Endpoints[0].Endpoints) != 2 || o.Endpoints[0].Endpoints[0] != want {
		t.Errorf("endpoints = %+v", o.Endpoints)
	}
}

// LoadDir reads only *.yaml/*.yml, sorted, and reports the problems of every
// file at once.
func TestLoadDirEveryFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.yml", "apiVersion: k8s.f5net.com/v1\nkind: F5SPKVlan\nmetadata: {name: b}\nspec: {tga: 1}\n")
	write("a.yaml", "apiVersion: v1\nkind: Service\n")
	write("notes.txt", "not yaml: [")
	if err := os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := LoadDir(dir)
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 2 {
		t.Fatalf("want two problems, got %v", err)
	}
	if !strings.HasPrefix(ps[0].Path, filepath.Join(dir, "a.yaml")+":1") || !strings.HasPrefix(ps[1].Path, filepath.Join(dir, "b.yml")+":4") {
		t.Errorf("problems not in file order with lines: %v", ps)
	}

	if _, err := LoadDir(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "reading CR directory") {
		t.Errorf("missing dir: %v", err)
	}
	_, err = LoadFiles(filepath.Join(dir, "nope.yaml"))
	if !errors.As(err, &ps) || !strings.HasSuffix(ps[0].Path, "nope.yaml") || !strings.HasPrefix(ps[0].Reason, "cannot be read") {
		t.Errorf("missing file: %v", err)
	}
}
