package topology

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestInitFileRoundTrips(t *testing.T) {
	for _, name := range Builtins() {
		data, err := InitFile(name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse("spklab.yaml", data)
		if err != nil {
			t.Fatalf("%s: init file does not load: %v", name, err)
		}
		want, _ := Builtin(name)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: init file loads to a different topology", name)
		}
		if !strings.Contains(string(data), "# Cluster name; kind names the nodes") {
			t.Errorf("%s: init file lacks field comments:\n%s", name, data)
		}
	}
}

func TestParseOverridesBuiltin(t *testing.T) {
	got, err := Parse("f.yaml", []byte(`
cluster:
  name: lab
tmm:
  bgp:
    asn: 64999
tenants:
  - namespace: green
    service: {name: web, port: 8080}
    ingress: {ipv4: 198.19.30.1, port: 80}
    vxlanKey: 300
`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Cluster.Name != "lab" || got.Cluster.KubernetesVersion != "v1.32.0" {
		t.Errorf("cluster: got %+v, want name lab and the default version kept", got.Cluster)
	}
	if got.TMM.BGP.ASN != 64999 || len(got.TMM.BGP.Neighbors) != 2 {
		t.Errorf("bgp: got %+v, want asn 64999 and the default neighbors kept", got.TMM.BGP)
	}
	if len(got.Tenants) != 1 {
		t.Fatalf("tenants: a list in the file replaces the built-in list, got %d tenants", len(got.Tenants))
	}
	ing := got.Tenants[0].Ingress
	if ing.LoadBalancingMethod != LBRoundRobin || ing.IdleTimeout != 300 || ing.Name != "green-ingress" || got.Tenants[0].Replicas != 2 {
		t.Errorf("tenant field defaults not filled: %+v %+v", got.Tenants[0], ing)
	}
}

func TestParseBase(t *testing.T) {
	got, err := Parse("f.yaml", []byte("base: seed-example\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, SeedExample()) {
		t.Error("base: seed-example does not give the seed-example lab")
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"unknown field with line", "cluster:\n  name: x\n  nodez: []\n",
			`f.yaml:3: unknown field "nodez" (known fields here: kubernetesVersion, name, nodes, podSubnet, serviceSubnet, tmmNodeLabel, tmmNodeTaint, tmmNodes)`},
		{"unknown top-level field", "clusters: {}\n",
			`f.yaml:1: unknown field "clusters" (known fields here: base, client, cluster, cni, images, infra, networks, router, spk, syslog, tenants, tmm)`},
		{"wrong type", "tmm:\n  replicas: two\n",
			`f.yaml:2: "two" is a string where an integer is expected`},
		{"syntax", "cluster:\n  name: [\n",
			`f.yaml:2: did not find expected node content`},
		{"unknown base", "\n\nbase: prod\n",
			`f.yaml:3: base: unknown built-in topology "prod" (built-ins: default, seed-example)`},
		{"two documents", "cluster: {name: a}\n---\ncluster: {name: b}\n",
			`f.yaml: holds more than one YAML document; a topology is one document`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(c.yaml))
			if err == nil {
				t.Fatal("want an error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("want\n  %s\ngot\n  %s", c.want, err)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("want an error naming the file, got %v", err)
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spklab.yaml")
	if err := os.WriteFile(path, []byte("tmm:\n  replicas: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.TMM.Replicas != 1 {
		t.Errorf("replicas = %d, want 1", got.TMM.Replicas)
	}
}
