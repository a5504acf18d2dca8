package render

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	"sigs.k8s.io/yaml"

	"github.com/spklab/spklab/internal/golden"
	"github.com/spklab/spklab/topology"
)

func TestNADsGolden(t *testing.T) {
	for _, name := range topology.Builtins() {
		t.Run(name, func(t *testing.T) {
			got, err := NADsYAML(renderBuiltin(t, name))
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "testdata/nads/"+name+".yaml", got)
		})
	}
}

func TestNADsDefault(t *testing.T) {
	topo := renderBuiltin(t, topology.BuiltinDefault)
	nads := NADs(topo)
	want := []struct{ name, master string }{{"external-net", "eth1"}, {"egress-net", "eth2"}}
	if len(nads) != len(want) {
		t.Fatalf("%d NADs, want %d", len(nads), len(want))
	}
	for i, w := range want {
		nad := nads[i]
		if nad.Name != w.name || nad.Namespace != "spk-ingress" {
			t.Errorf("NAD %d = %s/%s, want spk-ingress/%s", i, nad.Namespace, nad.Name, w.name)
		}
		if nad.Labels["io.spklab.lab"] != "bnk" {
			t.Errorf("NAD %s labels = %v", nad.Name, nad.Labels)
		}
		wantConfig := `{"cniVersion":"0.3.1","name":"` + w.name + `","type":"macvlan","master":"` + w.master + `","mode":"bridge","ipam":{}}`
		if nad.Spec.Config != wantConfig {
			t.Errorf("NAD %s config = %s\nwant %s", nad.Name, nad.Spec.Config, wantConfig)
		}
		var conf map[string]any
		if err := json.Unmarshal([]byte(nad.Spec.Config), &conf); err != nil {
			t.Errorf("NAD %s config is not JSON: %v", nad.Name, err)
		}
	}
	if got := MultusAnnotation(topo); got != "external-net,egress-net" {
		t.Errorf("MultusAnnotation = %q", got)
	}
}

// The NAD's master must follow the network's attachment, whatever the TMM
// interface order.
func TestNADsFollowInterfaceOrder(t *testing.T) {
	topo := renderBuiltin(t, topology.BuiltinDefault)
	topo.TMM.Interfaces = []topology.TMMInterface{{Name: "1.1", Network: "egress-net"}, {Name: "1.2", Network: "external-net"}}
	topo.Networks[2].Attach.Interface = "eth7"
	nads := NADs(topo)
	if len(nads) != 2 || nads[0].Name != "egress-net" || !strings.Contains(nads[0].Spec.Config, `"master":"eth7"`) ||
		nads[1].Name != "external-net" || !strings.Contains(nads[1].Spec.Config, `"master":"eth1"`) {
		t.Errorf("NADs = %+v", nads)
	}
	if got := MultusAnnotation(topo); got != "egress-net,external-net" {
		t.Errorf("MultusAnnotation = %q", got)
	}
}

func TestNADsYAMLRoundTrip(t *testing.T) {
	for _, name := range topology.Builtins() {
		t.Run(name, func(t *testing.T) {
			topo := renderBuiltin(t, name)
			data, err := NADsYAML(topo)
			if err != nil {
				t.Fatal(err)
			}
			for _, noise := range []string{"creationTimestamp", "status"} {
				if strings.Contains(string(data), noise) {
					t.Errorf("YAML carries %s:\n%s", noise, data)
				}
			}
			docs := strings.Split(string(data), "---\n")
			want := NADs(topo)
			if len(docs) != len(want) {
				t.Fatalf("%d documents, want %d", len(docs), len(want))
			}
			for i, doc := range docs {
				var got nadv1.NetworkAttachmentDefinition
				if err := yaml.UnmarshalStrict([]byte(doc), &got); err != nil {
					t.Fatalf("document %d: %v", i, err)
				}
				if got.APIVersion != "k8s.cni.cncf.io/v1" || got.Kind != "NetworkAttachmentDefinition" {
					t.Errorf("document %d TypeMeta = %+v", i, got.TypeMeta)
				}
				if !reflect.DeepEqual(got, want[i]) {
					t.Errorf("document %d decodes to %+v, want %+v", i, got, want[i])
				}
			}
		})
	}
}
