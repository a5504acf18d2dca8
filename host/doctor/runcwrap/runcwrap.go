// Package runcwrap is spklab-runc: a runc wrapper that dockerd runs as its
// default runtime on machines whose capability bounding set lacks some
// capabilities (CAP_SYS_RESOURCE on the lab's VMs). Docker before 23 asks
// for every capability the kernel knows for --privileged containers
// (moby#42906) and runc then fails with "unable to apply caps: operation
// not permitted". The wrapper removes the capabilities missing from its own
// bounding set from the container's OCI config (create, run) or the
// process spec (exec) and then execs the real runc, which sits next to it
// as a symlink named "runc".
//
// The same binary, run under the name spklab-probe, prints its capability
// sets (or, given "sleep", waits to be killed): the doctor puts it alone
// into a tiny image to test privileged containers without a registry. Standard library only, so it is small,
// static and quick to start (runc runs several times per container).
package runcwrap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spklab/spklab/host/doctor/capset"
)

// Names the binary answers to.
const (
	// WrapperName is the wrapper's file name when installed.
	WrapperName = "spklab-runc"
	// ProbeName makes the binary print its capability sets and exit.
	ProbeName = "spklab-probe"
	// RealRuncLink is the symlink next to the wrapper that names the real runc.
	RealRuncLink = "runc"
	// ProbeGreeting starts the probe's output line.
	ProbeGreeting = "spklab-probe: running"
)

// Invocation is what the wrapper needs to know of one runc command line.
type Invocation struct {
	Command string // runc subcommand: create, run, exec, start, … ("" if none)
	Bundle  string // create/run: the bundle directory given ("" means the working directory)
	Process string // exec: the --process JSON file ("" if none)
}

// globalFlagIsBool tells runc's global flags that take no value from those
// that take one (--root, --log, --log-format, --criu, --rootless).
func globalFlagIsBool(name string) bool {
	switch name {
	case "debug", "systemd-cgroup", "help", "h", "version", "v":
		return true
	}
	return false
}

// commandFlagIsBool tells, for the subcommands whose files the wrapper
// edits (edits is false for the others), the flags that take no value.
func commandFlagIsBool(command, name string) (isBool, edits bool) {
	switch command {
	case "create":
		return name == "no-pivot" || name == "no-new-keyring", true
	case "run":
		switch name {
		case "no-pivot", "no-new-keyring", "detach", "d", "keep", "no-subreaper":
			return true, true
		}
		return false, true
	case "exec":
		switch name {
		case "tty", "t", "detach", "d", "no-new-privs", "ignore-paused":
			return true, true
		}
		return false, true
	}
	return false, false
}

// flagName splits "--name=value", "-name value" (urfave/cli accepts one or
// two dashes) into the name and, if inline, the value.
func flagName(arg string) (name, value string, inline bool) {
	name = strings.TrimLeft(arg, "-")
	name, value, inline = strings.Cut(name, "=")
	return name, value, inline
}

// ParseArgs reads a runc command line (without argv[0]) the way runc's flag
// parser does: global flags, the subcommand, then its flags up to the first
// positional argument (the container ID).
func ParseArgs(args []string) Invocation {
	var inv Invocation
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			break
		}
		name, _, inline := flagName(a)
		if !inline && !globalFlagIsBool(name) {
			i++ // the flag's value
		}
	}
	if i >= len(args) {
		return inv
	}
	inv.Command = args[i]
	if _, edits := commandFlagIsBool(inv.Command, ""); !edits {
		return inv
	}
	for i++; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") || a == "-" {
			break
		}
		name, value, inline := flagName(a)
		if isBool, _ := commandFlagIsBool(inv.Command, name); !inline && !isBool {
			if i+1 < len(args) {
				value = args[i+1]
			}
			i++
		}
		switch {
		case (name == "bundle" || name == "b") && inv.Command != "exec":
			inv.Bundle = value
		case (name == "process" || name == "p") && inv.Command == "exec":
			inv.Process = value
		}
	}
	return inv
}

// filterCapabilities removes, from an OCI "capabilities" object (bounding,
// effective, inheritable, permitted, ambient lists), every capability this
// package knows that is not in bound. Names it does not know are kept:
// runc decides about those. It returns the new object and what it removed.
func filterCapabilities(raw json.RawMessage, bound capset.Set) (json.RawMessage, []string, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return raw, nil, nil
	}
	var lists map[string]json.RawMessage
	if err := json.Unmarshal(raw, &lists); err != nil {
		return nil, nil, fmt.Errorf("capabilities: %w", err)
	}
	var removed []string
	for key, listRaw := range lists {
		var names []string
		if err := json.Unmarshal(listRaw, &names); err != nil {
			return nil, nil, fmt.Errorf("capabilities.%s: %w", key, err)
		}
		kept := names[:0:0]
		for _, n := range names {
			if num, known := capset.Number(n); known && !bound.Has(num) {
				removed = append(removed, n)
				continue
			}
			kept = append(kept, n)
		}
		if len(kept) == len(names) {
			continue
		}
		enc, err := json.Marshal(kept)
		if err != nil {
			return nil, nil, err
		}
		lists[key] = enc
	}
	if len(removed) == 0 {
		return raw, nil, nil
	}
	slices.Sort(removed)
	out, err := json.Marshal(lists)
	return out, slices.Compact(removed), err
}

// FilterProcess filters the capabilities of an OCI process object (the
// JSON runc exec --process reads). Unchanged input comes back as is.
func FilterProcess(data []byte, bound capset.Set) ([]byte, []string, error) {
	var proc map[string]json.RawMessage
	if err := json.Unmarshal(data, &proc); err != nil {
		return nil, nil, fmt.Errorf("process spec: %w", err)
	}
	caps, removed, err := filterCapabilities(proc["capabilities"], bound)
	if err != nil || len(removed) == 0 {
		return data, nil, err
	}
	proc["capabilities"] = caps
	out, err := json.Marshal(proc)
	return out, removed, err
}

// FilterConfig filters the capabilities of an OCI bundle's config.json
// (its "process" object). Unchanged input comes back as is.
func FilterConfig(data []byte, bound capset.Set) ([]byte, []string, error) {
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, nil, fmt.Errorf("bundle config: %w", err)
	}
	proc, ok := cfg["process"]
	if !ok || string(bytes.TrimSpace(proc)) == "null" {
		return data, nil, nil
	}
	newProc, removed, err := FilterProcess(proc, bound)
	if err != nil || len(removed) == 0 {
		return data, nil, err
	}
	cfg["process"] = newProc
	out, err := json.Marshal(cfg)
	return out, removed, err
}

// FilterFile rewrites a config.json (filter = FilterConfig) or process
// file (FilterProcess) in place when something is removed, keeping its mode.
func FilterFile(path string, bound capset.Set, filter func([]byte, capset.Set) ([]byte, []string, error)) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out, removed, err := filter(data, bound)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(removed) == 0 {
		return nil, nil
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	// Write beside and rename, so runc never reads half a file.
	tmp := path + ".spklab-runc.tmp"
	if err := os.WriteFile(tmp, out, info.Mode().Perm()); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	return removed, nil
}

// Apply edits the file the invocation hands to runc so that it asks only for
// capabilities in bound. It returns the capabilities removed.
func Apply(inv Invocation, bound capset.Set) ([]string, error) {
	switch inv.Command {
	case "create", "run":
		return FilterFile(filepath.Join(inv.Bundle, "config.json"), bound, FilterConfig)
	case "exec":
		if inv.Process == "" {
			return nil, nil
		}
		return FilterFile(inv.Process, bound, FilterProcess)
	}
	return nil, nil
}

// RealRunc finds the runc the wrapper hands over to: the "runc" symlink
// beside the wrapper's own executable (made at install time), else runc on
// $PATH.
func RealRunc() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("locating myself: %w", err)
	}
	beside := filepath.Join(filepath.Dir(self), RealRuncLink)
	if _, err := os.Stat(beside); err == nil {
		return beside, nil
	}
	p, err := exec.LookPath("runc")
	if err != nil {
		return "", fmt.Errorf("no %s beside %s and none on $PATH: %w", RealRuncLink, self, err)
	}
	return p, nil
}

// ProbeSleep makes the probe stay up (until killed), so that tests can
// docker exec into a privileged container.
const ProbeSleep = "sleep"

// Main runs the binary: the probe when called spklab-probe, else the
// wrapper, which only returns if runc cannot be executed.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && filepath.Base(args[0]) == ProbeName {
		if len(args) > 1 && args[1] == ProbeSleep {
			for {
				time.Sleep(time.Hour)
			}
		}
		return probe(stdout, stderr)
	}
	inv := ParseArgs(args[1:])
	bound, err := capset.OfProcess("self", capset.Bounding)
	if err == nil {
		_, err = Apply(inv, bound)
	}
	if err != nil {
		// Never block a container on the wrapper's own trouble: runc
		// reports what it then fails on.
		fmt.Fprintf(stderr, "%s: leaving capabilities unchanged: %v\n", WrapperName, err)
	}
	real, err := RealRunc()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", WrapperName, err)
		return 127
	}
	argv := append([]string{real}, args[1:]...)
	err = syscall.Exec(real, argv, os.Environ())
	fmt.Fprintf(stderr, "%s: executing %s: %v\n", WrapperName, real, err)
	return 126
}

// probe prints the process's effective and bounding capability sets.
func probe(stdout, stderr io.Writer) int {
	eff, err := capset.OfProcess("self", capset.Effective)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	bnd, err := capset.OfProcess("self", capset.Bounding)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s with %d effective capabilities (CapEff=%s CapBnd=%s)\n",
		ProbeGreeting, len(eff.Names()), eff, bnd)
	return 0
}
