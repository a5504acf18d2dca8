package cli

import (
	"errors"
	"fmt"
	"github.com/spklab/spklab/lab"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/spklab/spklab/bench"
)

// ExitBenchError: the benchmark could not measure or judge (a lab did not
// come up, no kernel reference, interrupted). 1 stays "a target failed".
const ExitBenchError = 4

func newBenchCommand(o *options) *cobra.Command {
	var (
		runtime, output, tmmBinary, runRoot, keep string
		only                                      []string
		duration                                  time.Duration
		connections                               int
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure spk-tmm against the kernel on the netns lab, as ratios",
		Long: `Build the netns lab twice on identical namespaces and offload settings — once with
spk-tmm as the TMM data plane (cluster bench-tmm), once with the kernel (cluster
bench-kern: the self IPs on the TMM namespaces' interfaces, forwarding, nftables DNAT
round robin to the pods and SNAT to the replica's internal self IP) — run the same
bounded workloads from the lab's client namespace against each, take each lab down, and
print every metric with both values, the spk-tmm / kernel ratio and its target.

Workloads (--only, comma-separated; default all, in this order):
  bringup     the lab's Up step times, and how long until the HTTP VIP answers
  throughput  iperf3, one TCP stream, client → VIP:5201 → one pod, offloads off
  keepalive   wrk --latency against nginx through the VIP: requests/s, p50, p99
  conn        the same with Connection: close: new connections/s, p50, p99
  offloads    iperf3 again after turning offloads on on every lab veth (no target)
  memory      bytes per connection-table entry: spk-tmm's table filled in-process
              with 1M flows, the kernel's nf_conntrack slab object

Targets: throughput (offloads off) and new connections/s at least 0.5x the kernel's,
p99 latency at most 2x. Loads only ever target the lab's own namespaces. Needs root,
nginx, ethtool, nftables, curl, iperf3, wrk and the spk-tmm binary.

Exit status: 0 every target passed; 1 a target failed (named on stderr); 2 usage;
4 the benchmark could not measure or judge (a lab did not come up, no kernel value).`,
		Example: `  sudo spklab bench --runtime netns
  sudo spklab bench --duration 3s --only throughput,conn -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output, formatTable, formatJSON); err != nil {
				return err
			}
			// The benchmark runs on the netns lab only, by design:
			// spk-tmm and the kernel box are measured on the same
			// namespaces in one run; on kind the path adds Docker, Calico
			// and the kind nodes, and there is no kernel twin of it to
			// divide by.
			if !slices.Contains(lab.Runtimes(), runtime) {
				return &ExitError{Code: ExitUsage, Err: &lab.UnknownRuntimeError{Name: runtime}}
			}
			if runtime != lab.Netns {
				return &ExitError{Code: ExitUsage, Err: fmt.Errorf("--runtime %q: the benchmark runs on the netns lab only, where spk-tmm and the kernel are measured on the same namespaces in one run; use --runtime netns (the default)", runtime)}
			}
			if connections < 1 {
				return &ExitError{Code: ExitUsage, Err: fmt.Errorf("--connections %d: at least 1", connections)}
			}
			cfg := bench.Config{
				TMMBinary:   tmmBinary,
				Duration:    duration,
				Connections: connections,
				Only:        splitList(only),
				RunRoot:     runRoot,
				OutputDir:   keep,
				Logger:      slog.New(slog.NewTextHandler(o.stderr, nil)),
			}
			if err := cfg.Check(); err != nil {
				return &ExitError{Code: ExitUsage, Err: err}
			}
			t, err := o.validTopology()
			if err != nil {
				return err
			}
			cfg.Topology = t
			ctx, cancel := interruptible(cmd)
			defer cancel()
			rep, runErr := bench.Run(ctx, cfg)
			if rep == nil {
				return &ExitError{Code: ExitBenchError, Err: runErr}
			}
			if output == formatJSON {
				err = rep.WriteJSON(o.stdout)
			} else {
				err = rep.WriteTable(o.stdout)
			}
			if err != nil {
				return &ExitError{Code: ExitBenchError, Err: err}
			}
			return benchOutcome(rep, runErr)
		},
	}
	cmd.Flags().StringVar(&runtime, "runtime", lab.Netns, "lab runtime: netns (the only one the benchmark runs on)")
	cmd.Flags().DurationVar(&duration, "duration", bench.DefaultDuration, "length of each timed workload (whole seconds, 1s–10m)")
	cmd.Flags().IntVar(&connections, "connections", bench.DefaultConnections, "connections wrk keeps open")
	cmd.Flags().StringVarP(&output, "output", "o", formatTable, "output format: table|json")
	cmd.Flags().StringVar(&tmmBinary, "tmm-binary", "", "the spk-tmm program (default: spk-tmm next to spklab, else on $PATH)")
	cmd.Flags().StringSliceVar(&only, "only", nil, "workloads to run, comma-separated: bringup,throughput,keepalive,conn,offloads,memory")
	cmd.Flags().StringVar(&runRoot, "run-root", "", "where the two labs' run dirs go (default /run/spklab)")
	cmd.Flags().StringVar(&keep, "keep-output", "", "keep each wrk and iperf3 run's raw output in this directory")
	return cmd
}

// splitList drops empty items and spaces of a comma-separated flag.
func splitList(in []string) []string {
	var out []string
	for _, s := range in {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// benchOutcome is the exit of a run that produced a report: interrupted
// or not judgeable (4), a target failed (1, naming it), or all passed.
func benchOutcome(rep *bench.Report, runErr error) error {
	switch {
	case runErr != nil:
		return &ExitError{Code: ExitBenchError, Err: fmt.Errorf("bench interrupted: %w", runErr)}
	case !rep.Judged():
		return &ExitError{Code: ExitBenchError, Err: fmt.Errorf("the benchmark could not judge every target: %s", rep.Summary())}
	case !rep.Passed():
		return &ExitError{Code: ExitProblems, Err: errors.New(rep.Summary())}
	}
	return nil
}
