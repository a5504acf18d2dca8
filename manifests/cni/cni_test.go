package cni

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// object is the part of a Kubernetes object the checks read.
type object struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Template struct {
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type podSpec struct {
	InitContainers []container `yaml:"initContainers"`
	Containers     []container `yaml:"containers"`
}

type container struct {
	Name  string `yaml:"name"`
	Image string `yaml:"image"`
	Env   []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	ReadinessProbe struct {
		Exec struct {
			Command []string `yaml:"command"`
		} `yaml:"exec"`
	} `yaml:"readinessProbe"`
}

func decodeAll(t *testing.T, m Manifest) []object {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(m.YAML))
	var out []object
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", m.Name, len(out)+1, err)
		}
		if o.Kind != "" {
			out = append(out, o)
		}
	}
}

func find(t *testing.T, objs []object, kind, name string) object {
	t.Helper()
	for _, o := range objs {
		if o.Kind == kind && o.Metadata.Name == name {
			return o
		}
	}
	t.Fatalf("no %s %s", kind, name)
	return object{}
}

func TestManifestsParseAndOrder(t *testing.T) {
	ms := Manifests()
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
		if objs := decodeAll(t, m); len(objs) == 0 {
			t.Errorf("%s holds no object", m.Name)
		}
	}
	if got := strings.Join(names, ","); got != "calico.yaml,multus.yaml,cni-plugins.yaml" {
		t.Fatalf("order %s: Calico must come first (Multus wraps its config)", got)
	}
	// Callers get copies.
	ms[0].YAML[0] = 'X'
	if Manifests()[0].YAML[0] == 'X' {
		t.Fatal("Manifests returns the embedded bytes themselves")
	}
}

func TestCalicoIsVXLANWithoutBIRDNATOrXDP(t *testing.T) {
	objs := decodeAll(t, Manifests()[0])
	if got := find(t, objs, "ConfigMap", "calico-config").Data["calico_backend"]; got != "vxlan" {
		t.Errorf("calico_backend %q, want vxlan (no BIRD)", got)
	}
	ds := find(t, objs, "DaemonSet", "calico-node")
	var node container
	for _, c := range ds.Spec.Template.Spec.Containers {
		if c.Name == "calico-node" {
			node = c
		}
	}
	env := map[string]string{}
	for _, e := range node.Env {
		env[e.Name] = e.Value
	}
	want := map[string]string{
		"CALICO_IPV4POOL_IPIP":         "Never",
		"CALICO_IPV4POOL_VXLAN":        "CrossSubnet",
		"CALICO_IPV4POOL_NAT_OUTGOING": "false",
		"FELIX_XDPENABLED":             "false",
		// Not first-found: the workers get external-net and egress-net later.
		"IP_AUTODETECTION_METHOD": "kubernetes-internal-ip",
		// Off 4789, SPK's tenant tunnel port, which felix would guard.
		"FELIX_VXLANPORT": "4799",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("calico-node env %s=%q, want %q", k, env[k], v)
		}
	}
	if probe := strings.Join(node.ReadinessProbe.Exec.Command, " "); strings.Contains(probe, "bird") {
		t.Errorf("readiness probe %q checks BIRD, which does not run", probe)
	}
}

// TestImagesArePinned: every container runs a pinned image of the set the
// offline build makes (the build package checks the refs themselves).
func TestImagesArePinned(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range Manifests() {
		for _, o := range decodeAll(t, m) {
			for _, c := range append(o.Spec.Template.Spec.InitContainers, o.Spec.Template.Spec.Containers...) {
				if c.Image == "" || strings.HasSuffix(c.Image, ":latest") || !strings.Contains(c.Image, ":") {
					t.Errorf("%s: %s %s container %s has unpinned image %q", m.Name, o.Kind, o.Metadata.Name, c.Name, c.Image)
				}
				seen[c.Image] = true
			}
		}
	}
	for _, want := range []string{
		"docker.io/calico/node:v3.30.1", "docker.io/calico/cni:v3.30.1", "docker.io/calico/kube-controllers:v3.30.1",
		"ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.3", "spklab/cni-plugins:v1.6.2", "registry.k8s.io/pause:3.10",
	} {
		if !seen[want] {
			t.Errorf("no container runs %s", want)
		}
	}
	if len(seen) != 6 {
		t.Errorf("images %v, want exactly the six above", seen)
	}
}
