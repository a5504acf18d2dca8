// Command spk-controller turns the SPK custom resources (F5SPKVlan,
// F5SPKIngressTCP, F5SPKSnatpool, F5SPKEgress, F5SPKStaticRoute), with the
// Services, EndpointSlices and Nodes they depend on, into one config per TMM
// replica, pushes it over each replica's gRPC API and writes the CRs'
// Accepted and Programmed conditions.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/spklab/spklab/controller"
	"github.com/spklab/spklab/internal/apicerts"
	"github.com/spklab/spklab/internal/kubeclient"
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
		apiTLS, apiServerName            string
	)
	cmd := &cobra.Command{
		Use:           "spk-controller",
		Short:         "Compile the SPK custom resources into TMM config and push it to every TMM replica",
		Version:       version.Get().Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := kubeclient.Logger(logLevel)
			if err != nil {
				return err
			}
			opts.Log = log

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
			if apiTLS != "" {
				if apiServerName == "" {
					return errors.New("--tmm-api-tls needs --tmm-api-server-name: the name the TMMs' certificate carries")
				}
				id, err := apicerts.Load(apiTLS)
				if err != nil {
					return fmt.Errorf("--tmm-api-tls: %w", err)
				}
				if opts.TMMAPITLS, err = apicerts.ClientConfig(id, apiServerName); err != nil {
					return fmt.Errorf("--tmm-api-tls %s: %w", apiTLS, err)
				}
			}
			if valuesFile != "" {
				if opts.Routing, err = spk.LoadValues(valuesFile); err != nil {
					return fmt.Errorf("%s has problems:\n%w", valuesFile, err)
				}
			}
			cfg, err := kubeclient.RESTConfig(kubeconfig)
			if err != nil {
				return err
			}
			mgr, r, err := controller.NewManager(cfg, opts, mopts)
			if err != nil {
				return err
			}
			defer r.Close()
			opts.Log.Info("spk-controller starting", "version", version.Get().Version, "tmmNamespace", opts.TMMNamespace,
				"tmmSelector", selector, "tmmAPIPort", opts.TMMAPIPort, "tmmAPITLS", opts.TMMAPITLS != nil, "bgp", opts.Routing != nil)
			return mgr.Start(ctrl.SetupSignalHandler())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.TMMNamespace, "tmm-namespace", "", "namespace of the TMM pods (default: $POD_NAMESPACE)")
	f.StringVar(&selector, "tmm-selector", "app=f5-tmm", "label selector of the TMM pods")
	f.StringVar(&opts.TMMStatefulSet, "tmm-statefulset", "f5-tmm", "StatefulSet whose pods are the TMMs (its spec.replicas is the replica count; other pods with the labels are ignored)")
	f.IntVar(&opts.TMMAPIPort, "tmm-api-port", 9443, "port of the TMM gRPC API on each TMM pod's IP")
	f.StringVar(&apiTLS, "tmm-api-tls", "", "directory holding ca.crt, tls.crt and tls.key of the controller's client identity (a mounted Secret): reach the TMMs over mutual TLS (none = in the clear, for tests)")
	f.StringVar(&apiServerName, "tmm-api-server-name", "", "the name the TMMs' API certificate carries (with --tmm-api-tls)")
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
