// Package catalog assembles every image the lab needs for a topology: our
// own (spkimages), the kind node and what it preloads (kindnode), and the
// CNI images (cni), under the names the topology's images: block gives.
package catalog

import (
	"fmt"
	"log/slog"

	"github.com/spklab/spklab/images"
	"github.com/spklab/spklab/images/cni"
	"github.com/spklab/spklab/images/kindnode"
	"github.com/spklab/spklab/images/spkimages"
	"github.com/spklab/spklab/topology"
)

// Options tune Images; the zero value is ready to use.
type Options struct {
	// Spk configures our own images (source tree, binary cache, version);
	// its Refs are taken from the topology.
	Spk spkimages.Options
	// Kind configures the kind node image's builds.
	Kind kindnode.Options
	// Log receives the builders' progress; nil discards it.
	Log *slog.Logger
}

// Images returns every image the lab runs for topo, in groups: the Debian
// base and our images, the kind node and its preloaded images, the CNI
// images. Images of versions other than those the builders know (the
// topology's cluster.kubernetesVersion and cni.*Version) are an error.
func Images(topo *topology.Topology, o Options) ([]images.Image, error) {
	if topo == nil {
		return nil, fmt.Errorf("image catalog: no topology")
	}
	if v := topo.Cluster.KubernetesVersion; v != "" && v != kindnode.KubeVersion {
		return nil, fmt.Errorf("image catalog: cluster.kubernetesVersion %s: the node image is built for Kubernetes %s only", v, kindnode.KubeVersion)
	}
	for _, v := range []struct{ field, got, built string }{
		{"cni.calicoVersion", topo.CNI.CalicoVersion, cni.CalicoVersion},
		{"cni.multusVersion", topo.CNI.MultusVersion, cni.MultusVersion},
		{"cni.cniPluginsVersion", topo.CNI.CNIPluginsVersion, cni.PluginsVersion},
	} {
		if v.got != "" && v.got != v.built {
			return nil, fmt.Errorf("image catalog: %s %s: the images are built for %s only", v.field, v.got, v.built)
		}
	}
	im := topo.Images
	spk := o.Spk
	spk.Refs = spkimages.Refs{
		Router: im.Router, Client: im.Client, App: im.App, Syslog: im.Syslog,
		TMM: im.TMM, Controller: im.Controller, NodeAgent: im.NodeAgent,
	}
	out, err := spkimages.Images(spk)
	if err != nil {
		return nil, err
	}
	kind := o.Kind
	if kind.Log == nil {
		kind.Log = o.Log
	}
	for _, img := range kindnode.Images(kind) {
		// The topology names the node image the cluster runs; a registry
		// would still serve it as kind's own (img.Pull).
		if img.Name == kindnode.NameNode && im.Node != "" {
			img.Ref = im.Node
		}
		out = append(out, img)
	}
	out = append(out, cni.Images(cni.Options{Log: o.Log})...)
	if _, err := images.Order(out, nil); err != nil {
		return nil, fmt.Errorf("image catalog: %w", err)
	}
	return out, nil
}
