package topology

import (
	"strings"
	"testing"
)

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

func TestRenameNetworkStaysValid(t *testing.T) {
	for _, name := range Builtins() {
		topo, err := Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		var olds []string
		for _, n := range topo.Networks {
			olds = append(olds, n.Name)
		}
		for _, old := range olds {
			if !topo.RenameNetwork(old, old+"-x") {
				t.Errorf("%s: %s not found", name, old)
			}
		}
		if topo.RenameNetwork("nosuchnet", "y") {
			t.Errorf("%s: renaming an absent network says it was found", name)
		}
		if ps := Validate(topo); ps != nil {
			t.Errorf("%s with every network renamed: %v", name, ps)
		}
		refs := []string{topo.Client.Network, topo.Syslog.Network}
		for _, i := range topo.Router.Interfaces {
			refs = append(refs, i.Network)
		}
		for _, i := range topo.TMM.Interfaces {
			refs = append(refs, i.Network)
		}
		for _, r := range refs {
			if !strings.HasSuffix(r, "-x") {
				t.Errorf("%s: reference %q was not renamed", name, r)
			}
		}
	}
}
