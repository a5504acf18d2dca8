package cmdrun

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRunCarriesWhereCommandExitAndOutput(t *testing.T) {
	ctx := context.Background()
	out, err := Host().Run(ctx, "sh", "-c", "echo progress; echo verdict >&2; exit 3")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want an *Error, got %v", err)
	}
	if string(out) != "progress\n" || e.ExitCode != 3 || ExitCode(err) != 3 || strings.TrimSpace(e.Stderr) != "verdict" {
		t.Errorf("out %q, exit %d, stderr %q", out, e.ExitCode, e.Stderr)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "host: sh -c echo progress") || !strings.Contains(msg, "exit status 3") || !strings.HasSuffix(msg, "progress\nverdict") {
		t.Errorf("message %q: want where, command, status, then stdout and stderr last", msg)
	}
	if out, err := (Cmd{Where: "prefixed", Prefix: []string{"sh", "-c", `printf "%s" "$0"`}, Stdin: nil}).Run(ctx, "arg0"); err != nil || string(out) != "arg0" {
		t.Errorf("prefix: %q %v", out, err)
	}
	if out, err := (Cmd{Combined: true}).Run(ctx, "sh", "-c", "echo a; echo b >&2; exit 7"); string(out) != "a\nb\n" || ExitCode(err) != 7 {
		t.Errorf("combined: %q %v", out, err)
	}
	if out, err := (Cmd{Stdin: []byte("fed")}).Run(ctx, "cat"); err != nil || string(out) != "fed" {
		t.Errorf("stdin: %q %v", out, err)
	}
}

func TestRunWithoutAProgram(t *testing.T) {
	ctx := context.Background()
	if _, err := Host().Run(ctx); ExitCode(err) != -1 || err == nil {
		t.Errorf("no command: %v", err)
	}
	if _, err := Host().Run(ctx, "/nonexistent/program"); err == nil || ExitCode(err) != -1 {
		t.Errorf("missing program: exit %d, %v", ExitCode(err), err)
	}
	if ExitCode(errors.New("plain")) != -1 {
		t.Error("a plain error has an exit code")
	}
}

func TestRunEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Host().Run(ctx, "sleep", "30")
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("after %v: %v, want the deadline in the error", time.Since(start), err)
	}
}
