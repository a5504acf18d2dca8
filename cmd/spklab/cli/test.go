package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/spklab/spklab/e2e"
	"github.com/spklab/spklab/lab"
)

// defaultArtifactsDir receives the evidence of failed specs (git ignores it).
const defaultArtifactsDir = "artifacts"

func newTestCommand(o *options) *cobra.Command {
	var f labFlags
	var labelFilter, junit, artifacts string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Run the ingress, snat and bgp suites against a running lab",
		Long: `Run the Ginkgo e2e suites against a lab that is up ("spklab up" first), checking
what the lab guide checks:
  ingress  each tenant's VIP answers 200 from one of its pods, spread over all of them
  snat     a tenant pod reaches the client from one of its tenant's SNAT addresses only
  bgp      every TMM Established at the router; each VIP via every TMM, each SNAT address
           via its owner; deleting an F5SPKIngressTCP withdraws its VIPs within 1 s and
           re-applying restores them; a killed TMM recovers within 5 s (these change the
           lab for a few seconds, label "disruptive")
Specs are labelled by area (ingress, snat, bgp) and IP family (ipv4, ipv6); select
them with a Ginkgo label expression. A failed spec leaves its evidence (router vtysh
JSON, each TMM's stats, flows and BGP status, a 2 s pcap at the router) in
<artifacts>/<spec>/.

On the kind lab the checks run as the guide's: curl from the client container
infra-client-1, vtysh in the router container infra-frr-1, curl in the tenant pods and
spk-tmm stats in the TMM pods (kubectl on the control-plane node). When a spec fails,
the lab's logs and state are collected into <artifacts>/lab (as spklab logs does, on
either runtime).

Exit status: 0 every spec passed; 1 a spec failed or the lab is not up; 2 usage.`,
		Example: `  spklab test
  spklab test --label-filter 'ingress || snat' --junit report.xml
  sudo spklab test --runtime netns
  sudo spklab test --runtime netns --label-filter 'bgp && !disruptive' --junit report.xml
  sudo spklab test --runtime netns -f my-lab.yaml --artifacts /tmp/evidence`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := e2e.CheckLabelFilter(labelFilter); err != nil {
				return &ExitError{Code: ExitUsage, Err: fmt.Errorf("--label-filter: %w", err)}
			}
			return f.withRuntime(cmd, o, func(ctx context.Context, rt lab.Runtime) error {
				target, closeTarget, err := rt.Target(ctx)
				if err != nil {
					return &ExitError{Code: ExitProblems, Err: err}
				}
				defer closeTarget()
				sum, err := e2e.RunSuites(ctx, target, e2e.Options{
					LabelFilter:  labelFilter,
					JUnitFile:    junit,
					ArtifactsDir: artifacts,
					Verbose:      verbose,
					NoColor:      !isTerminal(os.Stdout),
				})
				if sum != nil {
					fmt.Fprintf(o.stdout, "spklab test on %s: %s\n", target.Name(), sum)
				}
				if err != nil {
					if sum != nil && sum.Failed > 0 {
						dir := filepath.Join(artifacts, "lab")
						if lerr := rt.CollectLogs(ctx, dir); lerr != nil {
							fmt.Fprintf(o.stderr, "collecting the lab's logs: %v\n", lerr)
						} else {
							fmt.Fprintf(o.stdout, "the lab's logs and state are in %s\n", dir)
						}
					}
					return &ExitError{Code: ExitProblems, Err: err}
				}
				return nil
			})
		},
	}
	f.register(cmd, false)
	cmd.Flags().StringVar(&f.opts.TMMBinary, "tmm-binary", "", "netns: the spk-tmm program the TMM restart spec starts (default: spk-tmm next to spklab, else on $PATH)")
	cmd.Flags().StringVar(&labelFilter, "label-filter", "", `Ginkgo label expression selecting specs, e.g. "ingress || snat", "bgp && ipv6", "!disruptive"`)
	cmd.Flags().StringVar(&junit, "junit", "", "write a JUnit XML report to this file")
	cmd.Flags().StringVar(&artifacts, "artifacts", defaultArtifactsDir, "folder receiving each failed spec's evidence")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "report every spec as it runs, with its measurements")
	return cmd
}

// isTerminal reports whether f is a terminal (colour only there).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
