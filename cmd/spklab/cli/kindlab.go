package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/spklab/spklab/lab"
	"github.com/spklab/spklab/lab/kind"
)

// newKindLab builds the kind lab of the validated topology.
func newKindLab(o *options, kubeconfig string) (*kind.Lab, error) {
	topo, err := o.validTopology()
	if err != nil {
		return nil, err
	}
	lab, err := kind.New(topo, kubeconfig, slog.New(slog.NewTextHandler(o.stderr, nil)))
	if err != nil {
		return nil, &ExitError{Code: ExitProblems, Err: err}
	}
	return lab, nil
}

// withKindLab opens the kind lab of the topology, runs fn with the
// command's interruptible context, and closes the lab.
func withKindLab(cmd *cobra.Command, o *options, kubeconfig string, fn func(context.Context, *kind.Lab) error) error {
	l, err := newKindLab(o, kubeconfig)
	if err != nil {
		return err
	}
	defer l.Close()
	ctx, cancel := interruptible(cmd)
	defer cancel()
	return fn(ctx, l)
}

func newLogsCommand(o *options) *cobra.Command {
	var f labFlags
	var dir string
	cmd := &cobra.Command{
		Use:   "logs --artifacts DIR",
		Short: "Collect the lab's evidence: logs, state, CR status, router state, TMM stats",
		Long: `Collect into DIR everything needed to see what the lab did.
--runtime kind (the default): kind's logs of every node (kubelet, containerd and every
pod's logs under kind/), pods, nodes, events and EndpointSlices, the SPK CRs with their
status, the SPK namespace's objects, each TMM's stats with its flow table (spk-tmm
stats), the router's BGP summary, routes and running config, the infra containers' logs
and spklab status. Whatever cannot be read is listed in DIR/errors.txt.
--runtime netns: the lab's run dir (every process's log, the configs and CRs it runs
with) under DIR/run and the status table in DIR/status.txt.
"spklab test" does the same into <artifacts>/lab when a spec fails.`,
		Example: `  spklab logs --artifacts /tmp/lab-evidence
  sudo spklab logs --runtime netns --artifacts /tmp/lab-evidence`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return &ExitError{Code: ExitUsage, Err: fmt.Errorf("--artifacts DIR is required")}
			}
			return f.withRuntime(cmd, o, func(ctx context.Context, rt lab.Runtime) error {
				err := rt.CollectLogs(ctx, dir)
				fmt.Fprintf(o.stdout, "the %s's logs and state are in %s\n", rt.Name(), dir)
				if err != nil {
					return &ExitError{Code: ExitProblems, Err: err}
				}
				return nil
			})
		},
	}
	f.register(cmd, false)
	cmd.Flags().StringVar(&dir, "artifacts", "", "folder to write the evidence into (made when missing)")
	return cmd
}

func newCheckpointCommand(o *options) *cobra.Command {
	var kubeconfig, output string
	cmd := &cobra.Command{
		Use:   "checkpoint [STEP]",
		Short: "Student mode: check the guide step just run, in plain words",
		Long: `Check a step of the kind lab in plain words, one line per check with ✓ or ✗ and, for
a ✗, where to look; then name the next step. Without STEP it checks the last step done
(the one just run). Steps: cluster, cni, networks, attachments, infra, spk, tenants.
For example after "spklab networks create":
  ✓ external-net attached to 3 workers as eth1, eth1 has no address (only TMM uses this wire)
Exit status 0 when every check passes, 1 otherwise.`,
		Example: `  spklab checkpoint
  spklab checkpoint networks
  spklab checkpoint tenants -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(output, formatText, formatJSON); err != nil {
				return err
			}
			return withKindLab(cmd, o, kubeconfig, func(ctx context.Context, lab *kind.Lab) error {
				step := ""
				if len(args) == 1 {
					step = args[0]
				} else if step = lab.LastDoneStep(ctx); step == "" {
					return &ExitError{Code: ExitProblems, Err: fmt.Errorf("no step of kind lab %s is done yet: start with spklab cluster create (or spklab up)", lab.Topo.Cluster.Name)}
				}
				cp, err := lab.Checkpoint(ctx, step)
				if err != nil {
					return &ExitError{Code: ExitUsage, Err: err}
				}
				if output == formatJSON {
					if err := writeData(o.stdout, formatJSON, cp); err != nil {
						return err
					}
				} else {
					cp.WriteText(o.stdout)
				}
				if !cp.OK() {
					return &ExitError{Code: ExitProblems}
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", formatText, "output format: text|json")
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file of the cluster's context (default: kind's, $KUBECONFIG or ~/.kube/config)")
	return cmd
}

// writeLiveDiagram adds the kind lab as it is now, when it exists (no
// docker, or no lab: nothing is added).
func writeLiveDiagram(cmd *cobra.Command, o *options, kubeconfig string) error {
	topo, err := o.validTopology()
	if err != nil {
		return err
	}
	lab, err := kind.New(topo, kubeconfig, nil)
	if err != nil {
		return nil
	}
	defer lab.Close()
	ctx, cancel := interruptible(cmd)
	defer cancel()
	if left, err := lab.Leftovers(ctx); err != nil || len(left) == 0 {
		fmt.Fprintf(o.stdout, "\n(no kind lab %s exists now: spklab up builds it)\n", topo.Cluster.Name)
		return nil
	}
	live, err := lab.Live(ctx)
	if err != nil {
		return &ExitError{Code: ExitProblems, Err: err}
	}
	return live.WriteText(o.stdout)
}
