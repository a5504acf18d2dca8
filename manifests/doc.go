// Package manifests embeds the lab's Kubernetes YAML: the SPK Helm chart
// (ChartFS) and, from its crds/ directory, the SPK CRDs (CRDs, CRDYAML).
//
// The CRDs are generated: controller-gen reads spk/types.go (fields and
// their validation) through the crdgen packages (one per GroupVersion) and
// writes charts/spk/crds/. Regenerate after changing the types with
//
//	go generate ./spk ./manifests
//
// The NADs are rendered from the topology (spklab render nads).
package manifests
