package spk

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"testing"

	"github.com/spklab/spklab/internal/golden"
)

// compiledDocument is what the golden files hold: every replica's config and
// every rejection, in a stable order.
func compiledDocument(t *testing.T, out *Compiled) []byte {
	t.Helper()
	type rejection struct{ Object, Reason string }
	doc := struct {
		Configs  any         `json:"configs"`
		Rejected []rejection `json:"rejected,omitempty"`
	}{Configs: out.Configs}
	for k, v := range out.Rejected {
		doc.Rejected = append(doc.Rejected, rejection{k, v})
	}
	sort.Slice(doc.Rejected, func(i, j int) bool { return doc.Rejected[i].Object < doc.Rejected[j].Object })
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestCompileGolden pins what the compiler makes of known inputs: the
// default lab (CRs, endpoints, a static route, the topology's BGP block)
// and the seed's own CR files with its values block. Any change to a
// config a TMM runs shows up here as a diff to review (go test -update).
func TestCompileGolden(t *testing.T) {
	seed, err := LoadDir("testdata/seed")
	if err != nil {
		t.Fatal(err)
	}
	if seed.Routing, err = ParseValues("values.yaml", []byte(seedValues)); err != nil {
		t.Fatal(err)
	}
	// The seed has no nodes (a cluster's come from the Node objects): one
	// standalone node, so its egress is compiled.
	seedNodes := StaticNodes{TypeMeta: typeMeta(APIVersionStaticNodes, KindStaticNodes), Nodes: []StaticNode{{Name: "worker", IPv4: "10.1.30.3"}}}
	seedNodes.Name = "nodes"
	seed.Nodes = append(seed.Nodes, seedNodes)
	def := labObjects(t)
	def.Routing = ValuesFromTopology(builtin(t, "default"))
	for _, tc := range []struct {
		name     string
		o        *Objects
		replicas int
	}{
		{"default", def, 2},
		{"seed", seed, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := Compile(tc.o, tc.replicas)
			golden.Check(t, filepath.Join("testdata", "compile", tc.name+".json"), compiledDocument(t, out))
			again := Compile(tc.o, tc.replicas)
			for i := range out.Configs {
				if out.Configs[i].Version != again.Configs[i].Version {
					t.Fatalf("replica %d: two compiles of the same objects differ", i)
				}
			}
		})
	}
}
