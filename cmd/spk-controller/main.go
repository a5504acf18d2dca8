// Command spk-controller turns the SPK custom resources (F5SPKVlan,
// F5SPKIngressTCP, F5SPKSnatpool, F5SPKEgress, F5SPKStaticRoute), with the
// Services, EndpointSlices and Nodes they depend on, into one config per TMM
// replica, pushes it over each replica's gRPC API and writes the CRs'
// Accepted and Programmed conditions.
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/spklab/spklab/controller"
	"github.com/spklab/spklab/internal/version"
	"github.com/spklab/spklab/spk"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "spk-controller:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	var (
		opts                             controller.Options
		mopts                            controller.ManagerOptions
		selector, valuesFile, kubeconfig string
		logLevel                         string
	)
	cmd := &cobra.Command{
		Use:           "spk-controller",
		Short:         "Compile the SPK custom resources into TMM config and push it to every TMM replica",
		Version:       version.Get().Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var lv slog.Level
			if err := lv.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
			}
			h := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv})
			opts.Log = slog.New(h)
			ctrl.SetLogger(logr.FromSlogHandler(h))

			sel, err := labels.Parse(selector)
			if err != nil {
				return fmt.Errorf("--tmm-selector %q: %w", selector, err)
			}
			opts.TMMSelector = sel
			if opts.TMMNamespace == "" {
				opts.TMMNamespace = os.Getenv("POD_NAMESPACE")
			}
			if opts.TMMNamespace == "" {
				return errors.New("--tmm-namespace is required (or POD_NAMESPACE from the downward API)")
			}
			if mopts.LeaderElectionNamespace == "" {
				mopts.LeaderElectionNamespace = opts.TMMNamespace
			}
			if valuesFile != "" {
				if opts.Routing, err = spk.LoadValues(valuesFile); err != nil {
					return fmt.Errorf("%s has problems:\n%w", valuesFile, err)
				}
			}
			cfg, err := restConfig(kubeconfig)
			if err != nil {
				return err
			}
			mgr, r, err := controller.NewManager(cfg, opts, mopts)
			if err != nil {
				return err
			}
			defer r.Close()
			opts.Log.Info("spk-controller starting", "version", version.Get().Version, "tmmNamespace", opts.TMMNamespace,
				"tmmSelector", selector, "tmmAPIPort", opts.TMMAPIPort, "bgp", opts.Routing != nil)
			return mgr.Start(ctrl.SetupSignalHandler())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.TMMNamespace, "tmm-namespace", "", "namespace of the TMM pods (default: $POD_NAMESPACE)")
	f.StringVar(&selector, "tmm-selector", "app=f5-tmm", "label selector of the TMM pods")
	f.IntVar(&opts.TMMAPIPort, "tmm-api-port", 9443, "port of the TMM gRPC API on each TMM pod's IP")
	f.StringVar(&opts.NodeAddressAnnotation, "node-address-annotation", spk.DefaultNodeAddressAnnotation, "node annotation holding its egress-net address")
	f.StringVar(&valuesFile, "values", "", "Helm values file whose tmm.dynamicRouting block configures BGP in every TMM")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, else $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&mopts.HealthProbeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz (0 = off)")
	f.StringVar(&mopts.MetricsAddr, "metrics-bind-address", "0", "address of the Prometheus metrics (0 = off)")
	f.BoolVar(&mopts.LeaderElection, "leader-elect", false, "elect one active controller through a Lease (run several replicas safely)")
	f.StringVar(&mopts.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the Lease (default: the TMM namespace)")
	f.DurationVar(&opts.PushTimeout, "push-timeout", 0, "how long a replica may take to answer a push (default 3s)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

// restConfig is the --kubeconfig file, else the in-cluster config, else
// the usual kubeconfig rules.
func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("--kubeconfig %s: %w", kubeconfig, err)
		}
		return cfg, nil
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("finding the API server (no --kubeconfig, not in a cluster): %w", err)
	}
	return cfg, nil
}
