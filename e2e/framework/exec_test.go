package framework

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestExecutorCommands(t *testing.T) {
	for _, tc := range []struct {
		ex   Prefixed
		name string
		want []string
	}{
		{Host(), "host", []string{"curl", "-s", "http://x/"}},
		{Netns("spklab-bnk-client"), "netns spklab-bnk-client", []string{"ip", "netns", "exec", "spklab-bnk-client", "curl", "-s", "http://x/"}},
		{Container("infra-frr-1"), "container infra-frr-1", []string{"docker", "exec", "infra-frr-1", "curl", "-s", "http://x/"}},
		{Pod("red", "nginx-deployment-7d4b9"), "pod red/nginx-deployment-7d4b9", []string{"kubectl", "exec", "--namespace", "red", "nginx-deployment-7d4b9", "--", "curl", "-s", "http://x/"}},
	} {
		if got := tc.ex.Command("curl", "-s", "http://x/"); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
		if tc.ex.Name() != tc.name {
			t.Errorf("name %q, want %q", tc.ex.Name(), tc.name)
		}
	}
	// Command must not share the prefix's backing array between calls.
	n := Netns("a")
	x, y := n.Command("one"), n.Command("two")
	if x[len(x)-1] != "one" || y[len(y)-1] != "two" {
		t.Errorf("commands overwrote each other: %q %q", x, y)
	}
}

func TestHostExecReportsExitCodeAndStderr(t *testing.T) {
	ctx := context.Background()
	out, err := Host().Exec(ctx, "sh", "-c", "echo out; echo complaint >&2; exit 3")
	var ee *ExecError
	if !errors.As(err, &ee) {
		t.Fatalf("want an *ExecError, got %v", err)
	}
	if string(out) != "out\n" || ee.ExitCode != 3 || strings.TrimSpace(ee.Stderr) != "complaint" || ExitCode(err) != 3 {
		t.Errorf("out %q, exit %d, stderr %q", out, ee.ExitCode, ee.Stderr)
	}
	if !strings.Contains(err.Error(), "host: sh -c") || !strings.Contains(err.Error(), "complaint") {
		t.Errorf("error does not say what ran and what it said: %v", err)
	}

	out, err = Host().Exec(ctx, "sh", "-c", "printf ok")
	if err != nil || string(out) != "ok" {
		t.Errorf("out %q err %v", out, err)
	}
	if _, err := Host().Exec(ctx); ExitCode(err) != -1 {
		t.Errorf("no command: %v", err)
	}
	if _, err := Host().Exec(ctx, "/nonexistent/program"); err == nil || ExitCode(err) != -1 {
		t.Errorf("missing program: exit %d, %v", ExitCode(err), err)
	}
	if ExitCode(errors.New("plain")) != -1 {
		t.Error("a plain error has no exit code")
	}

	ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Host().Exec(ctx, "sleep", "5")
	if err == nil || time.Since(start) > 2*time.Second || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a cancelled command: %v after %s", err, time.Since(start))
	}
}
