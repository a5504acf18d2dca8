package render

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	goyaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

	"github.com/spklab/spklab/internal/golden"
	"github.com/spklab/spklab/topology"
)

// renderBuiltin returns a fresh built-in lab for a renderer test.
func renderBuiltin(t *testing.T, name string) *topology.Topology {
	t.Helper()
	topo, err := topology.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func TestKindConfigGolden(t *testing.T) {
	for _, name := range topology.Builtins() {
		t.Run(name, func(t *testing.T) {
			got, err := KindConfigYAML(renderBuiltin(t, name))
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "testdata/kind/"+name+".yaml", got)
		})
	}
}

func TestKindConfigDefault(t *testing.T) {
	topo := renderBuiltin(t, topology.BuiltinDefault)
	cfg := KindConfig(topo)
	if cfg.Kind != "Cluster" || cfg.APIVersion != "kind.x-k8s.io/v1alpha4" {
		t.Errorf("TypeMeta = %+v", cfg.TypeMeta)
	}
	if cfg.Name != "bnk" {
		t.Errorf("name = %q, want bnk", cfg.Name)
	}
	wantRoles := []v1alpha4.NodeRole{v1alpha4.ControlPlaneRole, v1alpha4.WorkerRole, v1alpha4.WorkerRole, v1alpha4.WorkerRole}
	var roles []v1alpha4.NodeRole
	for _, n := range cfg.Nodes {
		roles = append(roles, n.Role)
		if n.Image != "spklab/node:v1.32.0" {
			t.Errorf("node image = %q", n.Image)
		}
		// TMM nodes are labelled and tainted by `spk install`, not by kind.
		if len(n.Labels) != 0 || len(n.KubeadmConfigPatches) != 0 {
			t.Errorf("node %+v carries labels or kubeadm patches", n)
		}
	}
	if !reflect.DeepEqual(roles, wantRoles) {
		t.Errorf("roles = %v, want %v", roles, wantRoles)
	}
	// kind names nodes <cluster>-<role>[N]; the lab's names must match.
	wantNames := []string{"bnk-control-plane", "bnk-worker", "bnk-worker2", "bnk-worker3"}
	if got := topo.Cluster.NodeNames(); !reflect.DeepEqual(got, wantNames) {
		t.Errorf("node names = %v, want %v", got, wantNames)
	}
	if !cfg.Networking.DisableDefaultCNI {
		t.Error("default CNI not disabled")
	}
	if cfg.Networking.PodSubnet != "10.244.0.0/16" || cfg.Networking.ServiceSubnet != "10.96.0.0/16" {
		t.Errorf("networking = %+v", cfg.Networking)
	}
	if len(cfg.ContainerdConfigPatches) != 1 {
		t.Fatalf("containerd patches = %q", cfg.ContainerdConfigPatches)
	}
	patch := cfg.ContainerdConfigPatches[0]
	section, rest, ok := strings.Cut(patch, "\n")
	if !ok || section != `[plugins."io.containerd.grpc.v1.cri"]` || strings.TrimSpace(rest) != "restrict_oom_score_adj = true" {
		t.Errorf("containerd patch = %q", patch)
	}
}

// TestKindConfigYAMLDecodes decodes the YAML the way kind's own loader does
// (sigs.k8s.io/kind/pkg/internal/apis/config/encoding is internal: it uses
// go.yaml.in/yaml/v3 with KnownFields), and strictly through sigs.k8s.io/yaml.
func TestKindConfigYAMLDecodes(t *testing.T) {
	for _, name := range topology.Builtins() {
		t.Run(name, func(t *testing.T) {
			topo := renderBuiltin(t, name)
			data, err := KindConfigYAML(topo)
			if err != nil {
				t.Fatal(err)
			}
			want := KindConfig(topo)

			var viaKind v1alpha4.Cluster
			dec := goyaml.NewDecoder(bytes.NewReader(data))
			dec.KnownFields(true)
			if err := dec.Decode(&viaKind); err != nil {
				t.Fatalf("kind-style strict decode: %v", err)
			}
			if !reflect.DeepEqual(&viaKind, want) {
				t.Errorf("kind-style decode differs:\n got %+v\nwant %+v", viaKind, *want)
			}

			var viaJSON v1alpha4.Cluster
			if err := yaml.UnmarshalStrict(data, &viaJSON); err != nil {
				t.Fatalf("strict decode: %v", err)
			}
			if !reflect.DeepEqual(&viaJSON, want) {
				t.Errorf("strict decode differs:\n got %+v\nwant %+v", viaJSON, *want)
			}
		})
	}
}
