package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/spklab/spklab/internal/version"
	"github.com/spklab/spklab/lab"
	"github.com/spklab/spklab/lab/netns"
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
			return render.WriteFiles(dir, files)
		},
	}
	cmd.Flags().StringVarP(&dir, "dir", "d", "", "write the files into this directory instead of stdout")
	return cmd
}

func newDiagramCommand(o *options) *cobra.Command {
	var format, kubeconfig string
	var configured bool
	cmd := &cobra.Command{
		Use:   "diagram",
		Short: "Draw the lab: networks, nodes, TMM VLANs and BGP, router, client, tenants — and what runs now",
		Long: `Draw the lab as configured by the topology, as plain text for a terminal or as a
mermaid flowchart (paste it into any mermaid renderer, e.g. a Markdown file on GitHub).
When the kind lab exists, the text drawing is followed by the lab as it is now, read
back from docker and the cluster: the steps done, the nodes, who is on each docker
network with which addresses, the infra containers, the TMM replicas with their BGP
session at the router, the tenants' pods and the router's routes to the TMMs
(--configured draws only the topology).`,
		Example: `  spklab diagram
  spklab diagram --configured
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
			if format == "mermaid" {
				_, err = fmt.Fprint(o.stdout, render.DiagramMermaid(t))
				return err
			}
			if _, err = fmt.Fprint(o.stdout, render.DiagramText(t)); err != nil || configured {
				return err
			}
			return writeLiveDiagram(cmd, o, kubeconfig)
		},
	}
	cmd.Flags().StringVar(&format, "format", formatText, "mermaid|text")
	cmd.Flags().BoolVar(&configured, "configured", false, "draw only the topology, not what runs now")
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file of the kind cluster's context (default: kind's)")
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

// labFlags are the flags up, down, status, test and logs share.
type labFlags struct {
	runtime string
	opts    lab.Options
}

func (f *labFlags) register(cmd *cobra.Command, withStart bool) {
	cmd.Flags().StringVar(&f.runtime, "runtime", lab.Kind, "lab runtime: "+strings.Join(lab.Runtimes(), "|"))
	cmd.Flags().StringVar(&f.opts.Kubeconfig, "kubeconfig", "", "kind: kubeconfig file of the cluster's context (default: kind's, $KUBECONFIG or ~/.kube/config)")
	cmd.Flags().StringVar(&f.opts.RunDir, "run-dir", "", "netns: configs, pid files and logs (default "+netns.DefaultRunRoot+"/<cluster>)")
	if withStart {
		cmd.Flags().StringVar(&f.opts.TMMBinary, "tmm-binary", "", "netns: the spk-tmm program (default: spk-tmm next to spklab, else on $PATH)")
		cmd.Flags().BoolVar(&f.opts.Offloads, "offloads", false, "netns: keep TSO/GSO/GRO and checksum offloads on the lab's veths (default off)")
	}
}

// withRuntime opens the runtime the flag names for the validated topology,
// runs fn with the command's interruptible context and closes it. An
// unknown runtime is a usage error; an error of fn is returned as it is.
func (f *labFlags) withRuntime(cmd *cobra.Command, o *options, fn func(context.Context, lab.Runtime) error) error {
	if !slices.Contains(lab.Runtimes(), f.runtime) {
		return &ExitError{Code: ExitUsage, Err: &lab.UnknownRuntimeError{Name: f.runtime}}
	}
	t, err := o.validTopology()
	if err != nil {
		return err
	}
	opts := f.opts
	opts.Logger = slog.New(slog.NewTextHandler(o.stderr, nil))
	rt, err := lab.Open(f.runtime, t, opts)
	if err != nil {
		return &ExitError{Code: ExitProblems, Err: err}
	}
	defer rt.Close()
	ctx, cancel := interruptible(cmd)
	defer cancel()
	return fn(ctx, rt)
}

// interruptible is the command's context, cancelled by Ctrl-C or SIGTERM.
func interruptible(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

func newUpCommand(o *options) *cobra.Command {
	var f labFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Bring the whole lab up (every step in order)",
		Long: `Build the lab of the topology, or converge a partly built one: what exists and is right
is left alone, what is missing is made.

--runtime kind (the default) runs the guide's steps in order — cluster, cni, networks,
attachments, infra, spk, tenants (each also a command: spklab cluster create, …) —
printing per step what it found done or applied, and the time of each at the end. It
needs Docker and every image (spklab images build); a run interrupted at any point
converges when run again. About 2 minutes on 2 cores with the images present.

--runtime netns builds it on this host with network namespaces (no Docker, no Kubernetes):
a bridge namespace, the router running FRR, the client with nginx, one namespace per TMM
replica running spk-tmm --config <run dir>/crs --values <run dir>/values.yaml, one per
worker node with the tenant egress tunnels, and one per tenant pod with nginx. It returns
once the router has learned every VIP and SNAT address from the TMMs over BGP (at most
30 s). Needs root, the spk-tmm binary and Debian's iproute2, frr, frr-pythontools,
nginx-light, curl, ethtool and nftables: it refuses to start without one, naming the
package (spklab doctor lists them too).`,
		Example: `  spklab up
  sudo spklab up --runtime netns
  sudo spklab up --runtime netns -f my-lab.yaml --tmm-binary ./bin/spk-tmm`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.withRuntime(cmd, o, func(ctx context.Context, rt lab.Runtime) error {
				hint, err := rt.Up(ctx, o.stdout)
				if err != nil {
					return &ExitError{Code: ExitProblems, Err: err}
				}
				fmt.Fprintf(o.stdout, "%s is up: %s\n", rt.Name(), hint)
				return nil
			})
		},
	}
	f.register(cmd, true)
	return cmd
}

func newDownCommand(o *options) *cobra.Command {
	var f labFlags
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Remove everything the lab made, and nothing else",
		Long: `Remove the lab. With --runtime kind (the default): the compose project infra, the kind
cluster (with its kubeconfig context) and the lab's docker networks and bridges, then
check that nothing with the lab's labels is left (exit 1 naming what is). With --runtime
netns: stop every process running in the lab's namespaces,
delete the namespaces "spklab-<cluster>-*" (their links go with them) and the run dir.
Removing a lab that is not there succeeds.`,
		Example: `  spklab down
  sudo spklab down --runtime netns`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.withRuntime(cmd, o, func(ctx context.Context, rt lab.Runtime) error {
				if err := rt.Down(ctx, o.stdout); err != nil {
					return &ExitError{Code: ExitProblems, Err: err}
				}
				fmt.Fprintf(o.stdout, "%s is down\n", rt.Name())
				return nil
			})
		},
	}
	f.register(cmd, false)
	return cmd
}

func newStatusCommand(o *options) *cobra.Command {
	var f labFlags
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Say where the lab stands",
		Long: `Report where the lab stands, as a table or as JSON.
--runtime kind (the default): each step done / not done / broken with the reason, the
nodes, the TMM replicas with their BGP session at the router, every SPK CR's Accepted and
Programmed, and each VIP and SNAT prefix with the next hops expected and used. Exit
status 0 when every step is done, 1 otherwise.
--runtime netns: each namespace of the lab, whether it exists, its links and addresses,
whether its processes (nginx, spk-tmm, FRR) run, and the router's BGP sessions with
whatever routes it still lacks. Exit status 0 when every namespace exists and every
process runs, 1 otherwise.`,
		Example: `  spklab status
  spklab status -o json
  spklab status --runtime netns
  spklab status --runtime netns -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output, formatTable, formatJSON); err != nil {
				return err
			}
			return f.withRuntime(cmd, o, func(ctx context.Context, rt lab.Runtime) error {
				s, err := rt.Status(ctx)
				if err != nil {
					return &ExitError{Code: ExitProblems, Err: err}
				}
				return writeStatus(o, output, s, rt.Name())
			})
		},
	}
	f.register(cmd, false)
	cmd.Flags().StringVarP(&output, "output", "o", formatTable, "output format: table|json")
	return cmd
}

// writeStatus prints a lab's status as a table or JSON; exit status 1 when
// the lab is not (fully) up.
func writeStatus(o *options, output string, s lab.Status, name string) error {
	var err error
	if output == formatJSON {
		err = writeData(o.stdout, formatJSON, s)
	} else {
		err = s.WriteTable(o.stdout)
	}
	if err != nil {
		return err
	}
	if !s.Up() {
		return &ExitError{Code: ExitProblems, Err: fmt.Errorf("%s is not (fully) up", name)}
	}
	return nil
}
