package frr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/spklab/spklab/internal/cmdrun"
	"os/exec"
	"slices"
	"strings"
)

// Exec runs a command somewhere (this host, a network namespace, a
// container) and returns its standard output. argv[0] is the program.
type Exec func(ctx context.Context, argv ...string) ([]byte, error)

// Command returns an Exec that runs prefix followed by argv on this host
// (through cmdrun): Command() runs argv as is, Command("ip", "netns",
// "exec", "router") runs it in a namespace, Command("docker", "exec",
// "infra-frr-1") in a container. A failing command's error carries what it
// printed; a missing vtysh is ErrNotInstalled.
func Command(prefix ...string) Exec {
	run := cmdrun.Cmd{Where: strings.Join(prefix, " "), Prefix: slices.Clone(prefix)}
	return func(ctx context.Context, argv ...string) ([]byte, error) {
		out, err := run.Run(ctx, argv...)
		if err != nil && errors.Is(err, exec.ErrNotFound) && len(run.Prefix) == 0 && len(argv) > 0 && argv[0] == "vtysh" {
			return nil, fmt.Errorf("%w: vtysh (Debian package frr: apt-get install frr): %v", ErrNotInstalled, err)
		}
		return out, err
	}
}

// VTY queries one FRR through vtysh.
type VTY struct {
	exec  Exec
	vtysh []string
}

// NewVTY returns a VTY that runs "vtysh <vtyshArgs...> -c <command>" through
// exec. vtyshArgs select the FRR when needed, e.g. "--vty_socket", dir.
func NewVTY(exec Exec, vtyshArgs ...string) *VTY {
	return &VTY{exec: exec, vtysh: append([]string{"vtysh"}, vtyshArgs...)}
}

// Run runs one vtysh command and returns what it printed.
func (v *VTY) Run(ctx context.Context, command string) ([]byte, error) {
	return v.exec(ctx, append(slices.Clone(v.vtysh), "-c", command)...)
}

// runDaemon runs a command on one daemon only (vtysh -d).
func (v *VTY) runDaemon(ctx context.Context, daemon, command string) ([]byte, error) {
	return v.exec(ctx, append(slices.Clone(v.vtysh), "-d", daemon, "-c", command)...)
}

// JSON runs a command that prints JSON (it should end in "json") and decodes
// it into out. An FRR warning object ({"warning": "..."}) is an error.
func (v *VTY) JSON(ctx context.Context, command string, out any) error {
	data, err := v.Run(ctx, command)
	if err != nil {
		return err
	}
	if err := decodeJSON(data, out); err != nil {
		return fmt.Errorf("%s: %w", command, err)
	}
	return nil
}

// decodeJSON decodes FRR's output, turning its warning objects into errors.
func decodeJSON(data []byte, out any) error {
	if err := frrWarning(data); err != nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding JSON: %w", err)
	}
	return nil
}

// frrWarning reports FRR's way of saying a JSON command found nothing to
// show: an object holding only a "warning" string, e.g. "Default BGP
// instance not found".
func frrWarning(data []byte) error {
	var w map[string]json.RawMessage
	if json.Unmarshal(data, &w) != nil || len(w) != 1 {
		return nil
	}
	var msg string
	if raw, ok := w["warning"]; ok && json.Unmarshal(raw, &msg) == nil {
		return fmt.Errorf("FRR warns: %s", msg)
	}
	return nil
}
