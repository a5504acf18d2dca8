// Package cni embeds the pod networking manifests of the kind lab: Calico
// (VXLAN across subnets, no BIRD, no outgoing NAT, no XDP), Multus thin and the CNI
// reference plugins. Every image they name is built offline by
// images/cni (or images/kindnode for pause).
package cni

import (
	_ "embed"
)

var (
	//go:embed calico.yaml
	calico []byte
	//go:embed multus.yaml
	multus []byte
	//go:embed cni-plugins.yaml
	plugins []byte
)

// Manifest is one YAML file of Kubernetes objects, applied as a whole.
type Manifest struct {
	Name string // file name, for messages
	YAML []byte
}

// Manifests returns the manifests in the order to apply them: Calico first
// (Multus wraps the node's first CNI config, which Calico writes), then
// Multus, then the plugins Multus attachments use. Each call returns fresh
// copies, so callers may change them.
func Manifests() []Manifest {
	return []Manifest{
		{Name: "calico.yaml", YAML: clone(calico)},
		{Name: "multus.yaml", YAML: clone(multus)},
		{Name: "cni-plugins.yaml", YAML: clone(plugins)},
	}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
