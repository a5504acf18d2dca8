// Package manifests embeds the lab's Kubernetes YAML: the SPK CRDs and Helm
// chart, Calico, Multus, the CNI plugins installer and the tenants.
//
// This build embeds none yet: the NADs are rendered from the topology
// (spklab render nads).
package manifests
