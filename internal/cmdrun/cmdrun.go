// Package cmdrun is spklab's one way to run a program on this host — as
// it is, or behind a prefix such as "ip netns exec NS" or "docker exec C" —
// and its one error: where it ran, the command, the exit status and what
// it printed. FRR's vtysh, the netns lab, the bench and the e2e executors
// all run through it, so a failure reads the same everywhere.
package cmdrun

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

// Error is a command that failed.
type Error struct {
	// Where says where it ran ("host", "netns spklab-bnk-router").
	Where string
	// Argv is the command as asked, without the prefix.
	Argv []string
	// ExitCode is the program's exit status; -1 when it did not run or
	// was killed by a signal.
	ExitCode int
	// Stdout and Stderr are what it printed.
	Stdout, Stderr string
	Err            error
}

// maxSaid bounds how much of the output the message carries.
const maxSaid = 500

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s: %s: %v", e.Where, strings.Join(e.Argv, " "), e.Err)
	// Programs complain on either stream (vtysh prints "% Unknown command"
	// on stdout), so both are said; stderr last, so the message's last line
	// is the program's verdict (kubectl's, after its progress on stdout).
	said := strings.TrimSpace(strings.TrimSpace(e.Stdout) + "\n" + strings.TrimSpace(e.Stderr))
	if len(said) > maxSaid {
		said = "…" + said[len(said)-maxSaid:]
	}
	if said != "" {
		msg += ": " + said
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// ExitCode returns the exit status carried by err (an *Error), or -1.
func ExitCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.ExitCode
	}
	return -1
}

// Cmd says how to run commands.
type Cmd struct {
	// Where names the place for messages; "host" when empty.
	Where string
	// Prefix goes before every command ("ip", "netns", "exec", NS).
	Prefix []string
	// Stdin, when set, is the command's standard input.
	Stdin []byte
	// Combined returns stdout and stderr interleaved, as a terminal shows
	// them (the error's Stdout then holds both).
	Combined bool
}

// waitDelay bounds the wait for a cancelled command's output pipes.
const waitDelay = 2 * time.Second

// Run runs argv behind the prefix and returns its standard output. A
// failure returns what it printed on stdout too, and an *Error. When ctx
// ends the program gets SIGTERM first: timeout(1), docker exec and kubectl
// exec pass it on to what they run, where SIGKILL would orphan it.
func (c Cmd) Run(ctx context.Context, argv ...string) ([]byte, error) {
	where := c.Where
	if where == "" {
		where = "host"
	}
	if len(argv) == 0 {
		return nil, &Error{Where: where, ExitCode: -1, Err: errors.New("no command")}
	}
	full := append(slices.Clone(c.Prefix), argv...)
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = waitDelay
	if c.Stdin != nil {
		cmd.Stdin = bytes.NewReader(c.Stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if c.Combined {
		cmd.Stderr = &stdout
	}
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
	return stdout.Bytes(), &Error{Where: where, Argv: slices.Clone(argv), ExitCode: code,
		Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
}

// Host runs commands on this host as they are.
func Host() Cmd { return Cmd{Where: "host"} }

// Netns runs commands in a named network namespace (ip netns exec).
func Netns(name string) Cmd {
	return Cmd{Where: "netns " + name, Prefix: []string{"ip", "netns", "exec", name}}
}

// Container runs commands in a docker container (docker exec).
func Container(name string) Cmd {
	return Cmd{Where: "container " + name, Prefix: []string{"docker", "exec", name}}
}
