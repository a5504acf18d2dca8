package cli

import (
	"strings"
	"testing"
)

// TestBenchFlagErrors: bad flags and topologies are refused before any lab
// is built (these need no root).
func TestBenchFlagErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", "base: default\ncluster:\n  name: Not_Valid\n")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-o", "yaml"}, ExitUsage, `-o "yaml"`},
		{[]string{"--runtime", "docker"}, ExitUsage, "kind, netns"},
		{[]string{"--runtime", "kind"}, ExitNotBuilt, "not built yet"},
		{[]string{"--duration", "100ms"}, ExitUsage, "at least 1s"},
		{[]string{"--duration", "2h"}, ExitUsage, "at most 10m"},
		{[]string{"--duration", "soon"}, ExitUsage, "invalid argument"},
		{[]string{"--connections", "0"}, ExitUsage, "--connections 0"},
		{[]string{"--connections", "5000"}, ExitUsage, "connections 5000"},
		{[]string{"--only", "throughput,bgp"}, ExitUsage, `unknown workload(s) "bgp": known are bringup, throughput, keepalive, conn, offloads, memory`},
		{[]string{"-f", bad}, ExitProblems, "cluster.name"},
	} {
		_, errOut, code := run(t, dir, append([]string{"bench"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("bench %q: code %d stderr %q; want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
	out, _, code := run(t, dir, "bench", "--help")
	if code != 0 || !strings.Contains(out, "--only") || !strings.Contains(out, "4 the benchmark could not measure") {
		t.Errorf("bench --help: code %d\n%s", code, out)
	}
}
