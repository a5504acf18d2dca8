package render

import (
	"testing"

	"github.com/spklab/spklab/internal/golden"
	"github.com/spklab/spklab/topology"
)

func TestTenantsGolden(t *testing.T) {
	for _, name := range []string{"default", "seed-example"} {
		t.Run(name, func(t *testing.T) {
			topo, err := topology.Builtin(name)
			if err != nil {
				t.Fatal(err)
			}
			got, err := TenantsYAML(topo)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "testdata/tenants-"+name+".yaml", got)
		})
	}
}
