package catalog

import (
	"slices"
	"strings"
	"testing"

	"github.com/spklab/spklab/images"
	"github.com/spklab/spklab/images/cni"
	"github.com/spklab/spklab/images/kindnode"
	"github.com/spklab/spklab/images/spkimages"
	"github.com/spklab/spklab/topology"
)

func TestImagesFollowTheTopology(t *testing.T) {
	topo, err := topology.Builtin("default")
	if err != nil {
		t.Fatal(err)
	}
	topo.Images.TMM = "example.org/spk-tmm:v9"
	topo.Images.App = "example.org/app:1"
	topo.Images.Node = "example.org/node:v1.32.0"
	imgs, err := Images(topo, Options{Spk: spkimages.Options{BinDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]images.Image{}
	for _, img := range imgs {
		byName[img.Name] = img
	}
	for name, want := range map[string]string{
		spkimages.TMM:       "example.org/spk-tmm:v9",
		spkimages.App:       "example.org/app:1",
		spkimages.Client:    topo.Images.Client,
		spkimages.FRR:       topo.Images.Router,
		spkimages.Syslog:    topo.Images.Syslog,
		spkimages.NodeAgent: topo.Images.NodeAgent,
		kindnode.NameNode:   "example.org/node:v1.32.0",
	} {
		if got := byName[name].Ref; got != want {
			t.Errorf("%s: ref %q, want %q", name, got, want)
		}
	}
	// Every ref the topology names is in the catalog.
	refs := images.Refs(imgs)
	for _, r := range []string{topo.Images.Node, topo.Images.Router, topo.Images.Client, topo.Images.Syslog,
		topo.Images.TMM, topo.Images.Controller, topo.Images.NodeAgent, topo.Images.App} {
		if !slices.Contains(refs, r) {
			t.Errorf("%s is not in the catalog %v", r, refs)
		}
	}
	if byName[kindnode.NameNode].Pull != kindnode.RefNode {
		t.Errorf("node pull ref %q", byName[kindnode.NameNode].Pull)
	}
	if _, err := images.Order(imgs, nil); err != nil {
		t.Error(err)
	}

	for _, n := range []string{cni.NameCalicoNode, cni.NameMultus, cni.NamePlugins} {
		if _, ok := byName[n]; !ok {
			t.Errorf("%s is not in the catalog", n)
		}
	}

	multus := topo.CNI.MultusVersion
	topo.CNI.MultusVersion = "v4.2.1"
	if _, err := Images(topo, Options{}); err == nil || !strings.Contains(err.Error(), "cni.multusVersion v4.2.1") {
		t.Errorf("another Multus version: %v", err)
	}
	topo.CNI.MultusVersion = multus
	topo.Cluster.KubernetesVersion = "v1.31.0"
	if _, err := Images(topo, Options{}); err == nil || !strings.Contains(err.Error(), "v1.31.0") {
		t.Errorf("another Kubernetes version: %v", err)
	}
	if _, err := Images(nil, Options{}); err == nil {
		t.Error("nil topology")
	}
}
