// Package cli is the spklab command line: cobra commands that parse flags and
// call the topology, render and lab packages. It holds a lab.Runtime and
// never asks which one: the runtimes live in lab/.
package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/spklab/spklab/topology"
)

// DefaultTopologyFile is read when no -f is given and it exists.
const DefaultTopologyFile = "spklab.yaml"

// ExitError carries the process exit code a command wants.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Exit codes.
const (
	ExitProblems = 1 // invalid topology, failed command
	ExitUsage    = 2 // bad flags or arguments
)

// options are the flags every command shares.
type options struct {
	file     string
	topology string
	stdout   io.Writer
	stderr   io.Writer
}

// NewRootCommand builds the spklab command tree writing to the given streams.
func NewRootCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &options{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "spklab",
		Short: "Build and test the F5 SPK / BIG-IP Next for Kubernetes workshop lab on one machine",
		Long: `spklab recreates the KinD lab of the F5 "BIG-IP Next for Kubernetes / SPK" workshop
on one Linux machine — kind cluster, Calico + Multus, docker networks, an FRR router,
an nginx client, syslog, the SPK CRDs, controller and an open emulated TMM — and
proves with Ginkgo suites that ingress, egress SNAT and BGP behave as the guide says.

The lab is described by a topology: a built-in (--topology default|seed-example) or
a spklab.yaml file (-f; ./spklab.yaml is used when present). "spklab init" writes one.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVarP(&o.file, "file", "f", "", "topology file (default ./"+DefaultTopologyFile+" when it exists)")
	root.PersistentFlags().StringVar(&o.topology, "topology", "", "built-in topology: "+strings.Join(topology.Builtins(), "|")+" (default \"default\")")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%w\nsee '%s --help'", err, c.CommandPath())}
	})
	root.AddCommand(
		newValidateCommand(o),
		newInitCommand(o),
		newRenderCommand(o),
		newDiagramCommand(o),
		newVersionCommand(o),
	)
	root.AddCommand(newUpCommand(o), newDownCommand(o), newStatusCommand(o), newBenchCommand(o))
	root.AddCommand(newTestCommand(o), newLogsCommand(o), newCheckpointCommand(o))
	root.AddCommand(newImagesCommand(o), newDoctorCommand(o))
	root.AddCommand(kindStepCommands(o)...)
	return root
}

// Execute runs the CLI with os.Args and returns the process exit code.
func Execute() int {
	cmd := NewRootCommand(os.Stdout, os.Stderr)
	err := cmd.Execute()
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil && ee.Err.Error() != "" {
			fmt.Fprintln(os.Stderr, "spklab: "+ee.Err.Error())
		}
		return ee.Code
	}
	fmt.Fprintln(os.Stderr, "spklab: "+err.Error())
	if strings.Contains(err.Error(), "unknown command") || strings.Contains(err.Error(), "accepts ") {
		return ExitUsage
	}
	return ExitProblems
}

// loadTopology resolves the topology the flags name: -f FILE, else
// ./spklab.yaml when present, else the built-in --topology. It returns the
// topology and a description of where it came from.
func (o *options) loadTopology() (*topology.Topology, string, error) {
	file := o.file
	if file == "" && o.topology == "" {
		if _, err := os.Stat(DefaultTopologyFile); err == nil {
			file = DefaultTopologyFile
		}
	}
	if file == "" {
		t, err := topology.Builtin(o.topology)
		if err != nil {
			return nil, "", &ExitError{Code: ExitUsage, Err: fmt.Errorf("--topology: %w", err)}
		}
		return t, "built-in topology " + t.Base, nil
	}
	t, err := topology.Load(file)
	if err != nil {
		return nil, file, &ExitError{Code: ExitProblems, Err: err}
	}
	if o.topology != "" && o.topology != t.Base {
		return nil, file, &ExitError{Code: ExitUsage, Err: fmt.Errorf("--topology %s conflicts with %s, whose base is %s", o.topology, file, t.Base)}
	}
	return t, file, nil
}

// validTopology is loadTopology plus validation: commands that build from a
// topology refuse one with problems, listing them all.
func (o *options) validTopology() (*topology.Topology, error) {
	t, source, err := o.loadTopology()
	if err != nil {
		return nil, err
	}
	if ps := topology.Validate(t); ps != nil {
		for _, p := range ps {
			fmt.Fprintln(o.stderr, p)
		}
		return nil, &ExitError{Code: ExitProblems, Err: fmt.Errorf("%s has %d problem(s); nothing rendered", source, len(ps))}
	}
	return t, nil
}

// Output formats for -o.
const (
	formatYAML  = "yaml"
	formatJSON  = "json"
	formatTable = "table"
	formatText  = "text"
)

// checkFormat rejects an -o value the command does not offer.
func checkFormat(got string, allowed ...string) error {
	for _, a := range allowed {
		if got == a {
			return nil
		}
	}
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf("-o %q: this command writes %s", got, strings.Join(allowed, " or "))}
}

// writeData writes v as indented JSON or as YAML.
func writeData(w io.Writer, format string, v any) error {
	if format == formatJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	data, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding YAML: %w", err)
	}
	_, err = w.Write(data)
	return err
}
