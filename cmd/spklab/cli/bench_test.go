package cli

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/spklab/spklab/bench"
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
		{[]string{"--runtime", "kind"}, ExitUsage, "the benchmark runs on the netns lab only"},
		{[]string{"--duration", "100ms"}, ExitUsage, "at least 1s"},
		{[]string{"--duration", "2h"}, ExitUsage, "at most 10m"},
		{[]string{"--duration", "soon"}, ExitUsage, "invalid argument"},
		{[]string{"--connections", "0"}, ExitUsage, "--connections 0"},
		{[]string{"--connections", "5000"}, ExitUsage, "connections 5000"},
		{[]string{"--only", "throughput,bgpx"}, ExitUsage, `unknown workload(s) "bgpx": known are bringup, throughput, keepalive, conn, bgp, offloads, memory`},
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

func TestBenchOutcome(t *testing.T) {
	spec := bench.Spec{Name: "new connections/s", Unit: "conn/s", Better: bench.Higher, Target: 0.5}
	report := func(tmm, kernel bench.Result, errs ...string) *bench.Report {
		return &bench.Report{Metrics: []bench.Metric{{Spec: spec, TMM: tmm, Kernel: kernel}}, Errors: errs}
	}
	code := func(err error) int {
		var ee *ExitError
		if err == nil {
			return 0
		}
		if errors.As(err, &ee) {
			return ee.Code
		}
		return -1
	}
	for _, tc := range []struct {
		name   string
		rep    *bench.Report
		runErr error
		code   int
		want   string
	}{
		{"pass", report(bench.Result{Value: 6}, bench.Result{Value: 10}), nil, 0, ""},
		{"target missed", report(bench.Result{Value: 4}, bench.Result{Value: 10}), nil, ExitProblems, `failed: "new connections/s"`},
		{"spk-tmm failed", report(bench.Result{Err: "wrk: no request was answered"}, bench.Result{Value: 10}), nil, ExitProblems, "failed"},
		{"no kernel value", report(bench.Result{Value: 6}, bench.Result{Err: "x"}), nil, ExitBenchError, "could not judge"},
		{"lab error", report(bench.Result{Value: 6}, bench.Result{Value: 10}, "the kernel lab did not come up"), nil, ExitBenchError, "1 error(s)"},
		{"interrupted", report(bench.Result{Value: 6}, bench.Result{Value: 10}), context.Canceled, ExitBenchError, "interrupted"},
	} {
		err := benchOutcome(tc.rep, tc.runErr)
		if code(err) != tc.code || (tc.want != "" && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v (code %d), want code %d and %q", tc.name, err, code(err), tc.code, tc.want)
		}
	}
}
