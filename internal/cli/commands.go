package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spklab/spklab/internal/version"
	"github.com/spklab/spklab/topology"
	"github.com/spklab/spklab/topology/render"
)

func newValidateCommand(o *options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a topology and report every problem as path: reason",
		Long: `Check the topology (-f FILE, ./spklab.yaml, or --topology NAME) against every rule:
address and CIDR syntax, addresses inside their subnets, no overlapping subnets, unique
names/addresses/VLAN tags/VXLAN keys, ASN and tag ranges, replicas against self-IP and
SNAT rows, VIPs outside lab subnets, nodes and TMM nodes that exist, and more.

Exit status 0 when valid; 1 with one "path: reason" line per problem on stderr.`,
		Example: `  spklab validate
  spklab validate -f my-lab.yaml
  spklab validate --topology seed-example -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output, formatText, formatJSON); err != nil {
				return err
			}
			t, source, err := o.loadTopology()
			if err != nil {
				var ps topology.Problems
				if output == formatJSON && errors.As(err, &ps) {
					_ = writeData(o.stdout, formatJSON, validationReport{Source: source, Problems: ps})
					return &ExitError{Code: ExitProblems, Err: fmt.Errorf("%s could not be read", source)}
				}
				return err
			}
			ps := topology.Validate(t)
			if output == formatJSON {
				if err := writeData(o.stdout, formatJSON, validationReport{Source: source, Valid: ps == nil, Problems: ps}); err != nil {
					return err
				}
			} else if ps == nil {
				fmt.Fprintf(o.stdout, "%s is valid: cluster %s with %d nodes, %d TMM replicas, %d tenants\n",
					source, t.Cluster.Name, len(t.Cluster.Nodes), t.TMM.Replicas, len(t.Tenants))
			} else {
				for _, p := range ps {
					fmt.Fprintln(o.stderr, p)
				}
			}
			if ps != nil {
				return &ExitError{Code: ExitProblems, Err: fmt.Errorf("%s has %d problem(s)", source, len(ps))}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", formatText, "output format: text|json")
	return cmd
}

type validationReport struct {
	Source   string            `json:"source"`
	Valid    bool              `json:"valid"`
	Problems topology.Problems `json:"problems"`
}

func newInitCommand(o *options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a commented spklab.yaml to start a lab of your own",
		Long: `Write the built-in topology (--topology, default "default") as a spklab.yaml with a
comment on every section, to ./spklab.yaml or the -f path ("-f -" writes to stdout).
An existing file is kept unless --force is given.`,
		Example: `  spklab init
  spklab init --topology seed-example -f seed.yaml
  spklab init -f - | less`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			base := o.topology
			if base == "" {
				base = topology.BuiltinDefault
			}
			data, err := topology.InitFile(base)
			if err != nil {
				return &ExitError{Code: ExitUsage, Err: fmt.Errorf("--topology: %w", err)}
			}
			path := o.file
			if path == "" {
				path = DefaultTopologyFile
			}
			if path == "-" {
				_, err := o.stdout.Write(data)
				return err
			}
			if _, err := os.Stat(path); err == nil && !force {
				return &ExitError{Code: ExitProblems, Err: fmt.Errorf("%s already exists; use --force to overwrite it", path)}
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", path, err)
			}
			fmt.Fprintf(o.stdout, "wrote %s (the %s lab); edit it, then run: spklab validate -f %s\n", path, base, path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	return cmd
}

func newRenderCommand(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Print what the lab is built from: kind config, compose file, FRR config, NADs, docker networks",
		Long: `Render the files and specs spklab builds the lab from, for the chosen topology, to stdout.
The topology is validated first; a topology with problems renders nothing.`,
		Args: cobra.NoArgs,
	}
	dataCmd := func(use, short string, formats []string, render func(*topology.Topology, string) ([]byte, error)) *cobra.Command {
		var output string
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if err := checkFormat(output, formats...); err != nil {
					return err
				}
				t, err := o.validTopology()
				if err != nil {
					return err
				}
				data, err := render(t, output)
				if err != nil {
					return fmt.Errorf("rendering %s: %w", use, err)
				}
				_, err = o.stdout.Write(data)
				return err
			},
		}
		c.Flags().StringVarP(&output, "output", "o", formats[0], "output format: "+strings.Join(formats, "|"))
		return c
	}
	cmd.AddCommand(
		dataCmd("kind-config", "The kind cluster config (kind.x-k8s.io/v1alpha4)", []string{formatYAML, formatJSON},
			func(t *topology.Topology, format string) ([]byte, error) {
				if format == formatJSON {
					return jsonBytes(render.KindConfig(t))
				}
				return render.KindConfigYAML(t)
			}),
		dataCmd("compose", "The docker compose project of router, client and syslog (docker-compose.yaml)", []string{formatYAML},
			func(t *topology.Topology, _ string) ([]byte, error) { return render.ComposeYAML(t) }),
		dataCmd("nads", "The Multus NetworkAttachmentDefinitions of the TMM interfaces", []string{formatYAML, formatJSON},
			func(t *topology.Topology, format string) ([]byte, error) {
				if format == formatJSON {
					return jsonBytes(render.NADs(t))
				}
				return render.NADsYAML(t)
			}),
		dataCmd("networks", "The docker networks spklab creates and the nodes attached to them", []string{formatYAML, formatJSON},
			func(t *topology.Topology, format string) ([]byte, error) {
				var b strings.Builder
				err := writeData(&b, format, render.DockerNetworks(t))
				return []byte(b.String()), err
			}),
		newRenderFRRCommand(o),
	)
	return cmd
}

func jsonBytes(v any) ([]byte, error) {
	var b strings.Builder
	err := writeData(&b, formatJSON, v)
	return []byte(b.String()), err
}

func newRenderFRRCommand(o *options) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "frr",
		Short: "The router's FRR files (frr.conf, daemons, vtysh.conf, network.sh)",
		Long: `Print the router's FRR files, each under a "# ==> NAME <==" header, or write them
into a directory with -d (how ./frr is made for the default topology).`,
		Example: `  spklab render frr
  spklab render frr -d frr`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := o.validTopology()
			if err != nil {
				return err
			}
			files, err := render.FRRFiles(t)
			if err != nil {
				return fmt.Errorf("rendering frr: %w", err)
			}
			if dir == "" {
				for _, f := range files {
					fmt.Fprintf(o.stdout, "# ==> %s <==\n%s", f.Name, f.Data)
				}
				return nil
			}
			return writeFiles(dir, files)
		},
	}
	cmd.Flags().StringVarP(&dir, "dir", "d", "", "write the files into this directory instead of stdout")
	return cmd
}

// writeFiles writes rendered files into dir with their modes.
func writeFiles(dir string, files []render.File) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	for _, f := range files {
		path := filepath.Join(dir, f.Name)
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		if err := os.WriteFile(path, f.Data, mode); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		// WriteFile keeps the mode of an existing file; make it what was rendered.
		if err := os.Chmod(path, mode&fs.ModePerm); err != nil {
			return fmt.Errorf("setting mode of %s: %w", path, err)
		}
	}
	return nil
}

func newDiagramCommand(o *options) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "diagram",
		Short: "Draw the lab: networks, nodes, TMM VLANs and BGP, router, client, tenants",
		Long: `Draw the lab as configured by the topology, as plain text for a terminal or as a
mermaid flowchart (paste it into any mermaid renderer, e.g. a Markdown file on GitHub).`,
		Example: `  spklab diagram
  spklab diagram --format mermaid > lab.mmd`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != formatText && format != "mermaid" {
				return &ExitError{Code: ExitUsage, Err: fmt.Errorf("--format %q: use mermaid or text", format)}
			}
			t, err := o.validTopology()
			if err != nil {
				return err
			}
			out := render.DiagramText(t)
			if format == "mermaid" {
				out = render.DiagramMermaid(t)
			}
			_, err = fmt.Fprint(o.stdout, out)
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", formatText, "mermaid|text")
	return cmd
}

func newVersionCommand(o *options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the spklab version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output, formatText, formatJSON); err != nil {
				return err
			}
			info := version.Get()
			if output == formatJSON {
				return writeData(o.stdout, formatJSON, info)
			}
			_, err := fmt.Fprintln(o.stdout, info)
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", formatText, "output format: text|json")
	return cmd
}

// notBuiltCommands are the commands of the design that this build does not
// have yet: each says so and exits non-zero rather than pretend.
func notBuiltCommands() []*cobra.Command {
	planned := []struct{ use, short, missing string }{
		{"up", "Bring the whole lab up (every step in order)", "the kind and netns lab runtimes"},
		{"down", "Remove everything the lab made, and nothing else", "the kind and netns lab runtimes"},
		{"status", "Say where the lab stands, step by step", "the lab runtimes"},
		{"test", "Run the ingress, snat and bgp suites against a running lab", "the e2e suites"},
		{"bench", "Measure spk-tmm against the kernel on the netns lab", "the data plane and the netns runtime"},
		{"images", "List, build, pull, save and load the lab's images", "the offline image builder"},
		{"doctor", "Check the host (docker, privileged containers, kernel features) and fix it", "the host checks"},
	}
	cmds := make([]*cobra.Command, 0, len(planned))
	for _, p := range planned {
		p := p
		cmds = append(cmds, &cobra.Command{
			Use:                p.use,
			Short:              p.short + " (not built yet)",
			DisableFlagParsing: true,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return &ExitError{Code: ExitNotBuilt, Err: fmt.Errorf("%s is not built yet: this build of spklab lacks %s (see README.md, \"Status\")", cmd.CommandPath(), p.missing)}
			},
		})
	}
	return cmds
}
