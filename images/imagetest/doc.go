// Package imagetest checks the offline images end to end: its test builds
// the kind node image and the CNI images (images/kindnode,
// images/cni), creates a 4-node kind cluster from them with kind as a
// library, and checks nodes, CoreDNS and a Multus macvlan attachment. It
// needs root and a Docker daemon that can run privileged containers.
package imagetest
