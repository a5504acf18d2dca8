// Package e2e holds the Ginkgo suites (ingress, snat, bgp) that assert the
// lab guide's checks against a running lab, and their helpers (executor, FRR
// JSON, connection checker).
//
// This build has no suites yet.
package e2e
