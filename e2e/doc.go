// Package e2e holds the Ginkgo suites that assert docs/architecture.md, "What the suites check" item by item
// against a running lab — ingress, snat and bgp, labelled by area and by IP
// family (ipv4, ipv6) — and RunSuites, which runs them inside any program
// (the spklab binary, a go test) against a framework.Target.
//
// Ginkgo and Gomega keep their suite in package-level state: specs are
// registered into it and RunSpecs may run once per process. That state is
// confined to this package: RunSuites registers the specs (closures over
// its target; our only mutable package variable is the run-once guard) and refuses
// a second run instead of letting Ginkgo exit the process.
package e2e
