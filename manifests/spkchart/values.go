package spkchart

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/spklab/spklab/spk"
	"github.com/spklab/spklab/topology"
	"github.com/spklab/spklab/topology/render"
)

// ValuesFromTopology are the chart values of a lab: TMM replicas, the NADs
// of the TMM interfaces in order, the TMM nodes' label and taint, the images
// and the BGP block (spk.ValuesFromTopology). The release namespace is the
// topology's spk.namespace.
func ValuesFromTopology(t *topology.Topology) (map[string]any, error) {
	if t == nil {
		return nil, fmt.Errorf("chart values: no topology")
	}
	var networks []any
	for _, nad := range render.NADs(t) {
		networks = append(networks, nad.Name)
	}
	tmmImage, err := imageValues("images.tmm", t.Images.TMM)
	if err != nil {
		return nil, err
	}
	controllerImage, err := imageValues("images.controller", t.Images.Controller)
	if err != nil {
		return nil, err
	}
	nodeImage, err := imageValues("images.nodeAgent", t.Images.NodeAgent)
	if err != nil {
		return nil, err
	}
	key, value, ok := topology.SplitLabel(t.Cluster.TMMNodeLabel)
	if !ok || key == "" {
		return nil, fmt.Errorf("chart values: cluster.tmmNodeLabel %q is not key=value", t.Cluster.TMMNodeLabel)
	}
	tolerations := []any{}
	if t.Cluster.TMMNodeTaint != "" {
		tol, err := toleration(t.Cluster.TMMNodeTaint)
		if err != nil {
			return nil, err
		}
		tolerations = append(tolerations, tol)
	}
	dr, err := dynamicRoutingValues(spk.ValuesFromTopology(t))
	if err != nil {
		return nil, err
	}
	nodeSelector, err := replacingDefaults(map[string]any{key: value}, "tmm", "nodeSelector")
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"tmm": map[string]any{
			"image":          tmmImage,
			"replicas":       t.TMM.Replicas,
			"networks":       networks,
			"nodeSelector":   nodeSelector,
			"tolerations":    tolerations,
			"dynamicRouting": dr,
		},
		"controller": map[string]any{"image": controllerImage},
		"nodeAgent": map[string]any{
			"image":       nodeImage,
			"tolerations": tolerations,
		},
	}, nil
}

// replacingDefaults is m plus a null for every key the chart's default map
// at path has and m does not: Helm merges maps given at install with the
// defaults, and null is how a values file removes a default key.
func replacingDefaults(m map[string]any, path ...string) (map[string]any, error) {
	ch, err := Load()
	if err != nil {
		return nil, err
	}
	defaults, err := chartutil.Values(ch.Values).Table(strings.Join(path, "."))
	if err != nil {
		return nil, fmt.Errorf("chart values: default %s: %w", strings.Join(path, "."), err)
	}
	for k := range defaults {
		if _, ok := m[k]; !ok {
			m[k] = nil
		}
	}
	return m, nil
}

// imageValues splits "repo[:tag]" into the chart's {repository, tag}; an
// empty tag leaves the chart's default (its appVersion).
func imageValues(path, ref string) (map[string]any, error) {
	if ref == "" || strings.Contains(ref, "@") {
		return nil, fmt.Errorf("chart values: %s %q: want repository[:tag] (no digest)", path, ref)
	}
	repo, tag := ref, ""
	// A colon after the last slash starts the tag; before it, a registry port.
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		repo, tag = ref[:i], ref[i+1:]
	}
	return map[string]any{"repository": repo, "tag": tag}, nil
}

// toleration tolerates a "key=value:Effect" (or "key:Effect") taint.
func toleration(taint string) (map[string]any, error) {
	key, value, effect, ok := topology.SplitTaint(taint)
	if !ok {
		return nil, fmt.Errorf("chart values: cluster.tmmNodeTaint %q is not key=value:Effect", taint)
	}
	if value == "" {
		return map[string]any{"key": key, "operator": "Exists", "effect": effect}, nil
	}
	return map[string]any{"key": key, "operator": "Equal", "value": value, "effect": effect}, nil
}

// dynamicRoutingValues is the tmm.dynamicRouting block as values data. No
// BGP gives nil, which Helm reads as "remove the chart's default block".
func dynamicRoutingValues(dr *spk.DynamicRouting) (map[string]any, error) {
	if dr == nil {
		return nil, nil
	}
	// Through the block's own YAML encoding, so the keys are F5's.
	data, err := spk.ValuesYAML(dr)
	if err != nil {
		return nil, err
	}
	var doc struct {
		TMM struct {
			DynamicRouting map[string]any `yaml:"dynamicRouting"`
		} `yaml:"tmm"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("chart values: dynamic routing: %w", err)
	}
	return doc.TMM.DynamicRouting, nil
}
