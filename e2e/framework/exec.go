// Package framework is what the e2e suites run through: executors (host,
// network namespace, container, pod), the Target a suite needs from a lab,
// a connection checker, FRR helpers and the evidence dump. It knows nothing
// of Ginkgo, so its pieces are tested with plain Go tests.
package framework

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spklab/spklab/internal/cmdrun"
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

// ExecError is a failed command: where, what, its exit code and what it
// printed (the project's one command error, internal/cmdrun).
type ExecError = cmdrun.Error

// ExitCode returns the exit code carried by err (an *ExecError), or -1.
func ExitCode(err error) int { return cmdrun.ExitCode(err) }

// Prefixed runs commands on this host behind a fixed prefix, e.g.
// "ip netns exec NAME" or "docker exec NAME", through cmdrun. The
// executors below are all Prefixed; Command shows the full argv they run.
type Prefixed struct {
	cmd cmdrun.Cmd
	// netns finds the network namespace the commands run in (nil: none
	// known, as for a pod or the host).
	netns func(ctx context.Context) (string, error)
}

// Prefix runs commands behind any prefix; name says where they run.
func Prefix(name string, prefix ...string) Prefixed {
	return Prefixed{cmd: cmdrun.Cmd{Where: name, Prefix: prefix}}
}

// Host runs commands on this host as they are.
func Host() Prefixed { return Prefixed{cmd: cmdrun.Host()} }

// Netns runs commands in a named network namespace (ip netns exec).
func Netns(name string) Prefixed {
	return Prefixed{cmd: cmdrun.Netns(name), netns: func(context.Context) (string, error) { return "/run/netns/" + name, nil }}
}

// Container runs commands in a docker container (docker exec).
func Container(name string) Prefixed {
	return Prefixed{cmd: cmdrun.Container(name), netns: func(ctx context.Context) (string, error) {
		out, err := cmdrun.Host().Run(ctx, "docker", "inspect", "--format", "{{.State.Pid}}", name)
		if err != nil {
			return "", err
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil || pid <= 0 {
			return "", fmt.Errorf("container %s: no running process (pid %q)", name, strings.TrimSpace(string(out)))
		}
		return fmt.Sprintf("/proc/%d/ns/net", pid), nil
	}}
}

// NetNS is the path of the network namespace e's commands run in
// (/run/netns/NAME, /proc/PID/ns/net of a container), for code that sends
// from inside it in-process (netnsdo.Path); an error for an executor
// without one (the host, a pod).
func NetNS(ctx context.Context, e Executor) (string, error) {
	if p, ok := e.(Prefixed); ok && p.netns != nil {
		return p.netns(ctx)
	}
	return "", fmt.Errorf("%s: no network namespace to enter", e.Name())
}

// Pod runs commands in a pod's first container (kubectl exec).
func Pod(namespace, name string) Prefixed {
	return Prefix("pod "+namespace+"/"+name, "kubectl", "exec", "--namespace", namespace, name, "--")
}

// Name says where commands run.
func (p Prefixed) Name() string { return p.cmd.Where }

// Command is the argv run on this host for argv.
func (p Prefixed) Command(argv ...string) []string {
	return append(slices.Clone(p.cmd.Prefix), argv...)
}

// Exec runs argv behind the prefix.
func (p Prefixed) Exec(ctx context.Context, argv ...string) ([]byte, error) {
	return p.cmd.Run(ctx, argv...)
}
