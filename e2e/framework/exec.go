// Package framework is what the e2e suites run through: executors (host,
// network namespace, container, pod), the Target a suite needs from a lab,
// a connection checker, FRR helpers and the evidence dump. It knows nothing
// of Ginkgo, so its pieces are tested with plain Go tests.
package framework

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Executor runs a command somewhere: on this host, in a network namespace,
// in a container, in a pod. Every check of the suites runs through one, so
// the same suite runs on the netns and the kind lab.
type Executor interface {
	// Name says where commands run, for diagnostics ("netns spklab-bnk-client").
	Name() string
	// Exec runs argv (argv[0] is the program) and returns its standard
	// output. A command that fails returns what it printed on stdout too,
	// and an *ExecError.
	Exec(ctx context.Context, argv ...string) ([]byte, error)
}

// ExecError is a failed command: its exit code and what it said on stderr.
type ExecError struct {
	// Where is the executor's name; Argv the command as asked (without the
	// executor's prefix).
	Where string
	Argv  []string
	// ExitCode is the program's exit status; -1 when it did not run or was
	// killed by a signal.
	ExitCode int
	Stderr   string
	Err      error
}

func (e *ExecError) Error() string {
	msg := fmt.Sprintf("%s: %s: %v", e.Where, strings.Join(e.Argv, " "), e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		if len(s) > 500 {
			s = s[:500] + "…"
		}
		msg += ": " + s
	}
	return msg
}

func (e *ExecError) Unwrap() error { return e.Err }

// ExitCode returns the exit code carried by err (an *ExecError), or -1.
func ExitCode(err error) int {
	var ee *ExecError
	if errors.As(err, &ee) {
		return ee.ExitCode
	}
	return -1
}

// Prefixed runs commands on this host behind a fixed prefix, e.g.
// "ip netns exec NAME" or "docker exec NAME". The executors below are all
// Prefixed; Command shows the full argv they run.
type Prefixed struct {
	name   string
	prefix []string
}

// Prefix runs commands behind any prefix; name says where they run.
func Prefix(name string, prefix ...string) Prefixed { return Prefixed{name: name, prefix: prefix} }

// Host runs commands on this host as they are.
func Host() Prefixed { return Prefixed{name: "host"} }

// Netns runs commands in a named network namespace (ip netns exec).
func Netns(name string) Prefixed {
	return Prefixed{name: "netns " + name, prefix: []string{"ip", "netns", "exec", name}}
}

// Container runs commands in a docker container (docker exec).
func Container(name string) Prefixed {
	return Prefixed{name: "container " + name, prefix: []string{"docker", "exec", name}}
}

// Pod runs commands in a pod's first container (kubectl exec).
func Pod(namespace, name string) Prefixed {
	return Prefixed{name: "pod " + namespace + "/" + name, prefix: []string{"kubectl", "exec", "--namespace", namespace, name, "--"}}
}

// Name says where commands run.
func (p Prefixed) Name() string { return p.name }

// Command is the argv run on this host for argv.
func (p Prefixed) Command(argv ...string) []string {
	return append(slices.Clone(p.prefix), argv...)
}

// Exec runs argv behind the prefix.
func (p Prefixed) Exec(ctx context.Context, argv ...string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, &ExecError{Where: p.name, ExitCode: -1, Err: errors.New("no command")}
	}
	full := p.Command(argv...)
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	// On cancel, SIGTERM first: timeout(1), docker exec and kubectl exec
	// pass it on to what they run, where SIGKILL would orphan it.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	code := -1
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	return stdout.Bytes(), &ExecError{Where: p.name, Argv: slices.Clone(argv), ExitCode: code, Stderr: stderr.String(), Err: err}
}
