package topology

import "testing"

func TestRenameClusterStaysValid(t *testing.T) {
	for _, name := range Builtins() {
		topo, err := Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		topo.RenameCluster("other")
		if ps := Validate(topo); ps != nil {
			t.Errorf("%s renamed: %v", name, ps)
		}
		if topo.Cluster.NodeNames()[0] != "other-control-plane" {
			t.Errorf("%s renamed: nodes %v", name, topo.Cluster.NodeNames())
		}
	}
}
