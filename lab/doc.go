// Package lab orchestrates a lab from a topology: ordered, idempotent steps
// (cluster, CNI, networks, attachments, infra, SPK, tenants), each with check,
// apply and destroy, over the kind and netns runtimes. State lives only in
// docker labels and Kubernetes objects.
//
// This build has no steps yet; the CLI says so for the commands that need them.
package lab
