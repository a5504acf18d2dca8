// Package lab is the lab as the CLI sees it: one Runtime interface (up,
// down, status, the e2e suites' target, logs) with two implementations
// opened by name — kind (the guide's steps on a kind cluster, lab/kind) and
// netns (the same topology in network namespaces on this host, lab/netns) —
// each runtime giving the suites its own target. See docs/architecture.md,
// "Two runtimes".
package lab
