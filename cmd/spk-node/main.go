// Command spk-node is the node agent (a DaemonSet in the host network):
// per-tenant VXLAN devices toward the TMM replicas' internal self IPs and
// the policy routes that put each tenant's pods' egress into them, built
// from the F5SPKEgress and F5SPKVlan objects, the node's pods and its
// egress-net address annotation. --cleanup removes what it made and exits.
package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/spklab/spklab/internal/kubeclient"
	"github.com/spklab/spklab/internal/version"
	"github.com/spklab/spklab/nodeagent"
	"github.com/spklab/spklab/nodeagent/tenantnet"
	"github.com/spklab/spklab/spk"
	"github.com/spklab/spklab/topology"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "spk-node:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	var (
		opts                 nodeagent.Options
		mopts                nodeagent.ManagerOptions
		kubeconfig, logLevel string
		clusterCIDRs         []string
		cleanup              bool
	)
	cmd := &cobra.Command{
		Use:           "spk-node",
		Short:         "Configure this node's tenant egress toward TMM: per-tenant VXLAN devices and policy routes",
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

			if cleanup {
				if err := tenantnet.Remove(); err != nil {
					return fmt.Errorf("removing the tenant egress devices and rules: %w", err)
				}
				opts.Log.Info("removed the tenant egress devices and rules")
				return nil
			}
			if opts.NodeName == "" {
				return errors.New("--node-name is required (or NODE_NAME from the downward API)")
			}
			for _, s := range clusterCIDRs {
				p, err := netip.ParsePrefix(s)
				if err != nil {
					return fmt.Errorf("--cluster-cidrs: %q is not a CIDR: %w", s, err)
				}
				opts.ClusterCIDRs = append(opts.ClusterCIDRs, p.Masked())
			}
			cfg, err := kubeclient.RESTConfig(kubeconfig)
			if err != nil {
				return err
			}
			mgr, _, err := nodeagent.NewManager(cfg, opts, mopts)
			if err != nil {
				return err
			}
			opts.Log.Info("spk-node starting", "version", version.Get().Version, "node", opts.NodeName,
				"underlay", opts.Underlay, "clusterCIDRs", clusterCIDRs, "addressAnnotation", opts.AddressAnnotation)
			return mgr.Start(ctrl.SetupSignalHandler())
		},
	}
	def := topology.Default().Cluster
	f := cmd.Flags()
	f.StringVar(&opts.NodeName, "node-name", os.Getenv("NODE_NAME"), "this node's name (default: $NODE_NAME)")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, else $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&opts.Underlay, "underlay", "", "egress-net device (default: the one holding the node's egress-net address)")
	f.StringSliceVar(&clusterCIDRs, "cluster-cidrs", []string{def.PodSubnet, def.ServiceSubnet},
		"pod and service subnets, which stay on the main table (the egress-net subnet is added)")
	f.StringVar(&opts.AddressAnnotation, "node-address-annotation", spk.DefaultNodeAddressAnnotation, "node annotation holding its egress-net address")
	f.StringVar(&mopts.HealthProbeAddr, "health-probe-bind-address", ":8082", "address of /healthz and /readyz (0 = off)")
	f.DurationVar(&opts.Resync, "resync", nodeagent.DefaultResync, "period of reconciles without events (re-reads the Node, repairs drift)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.BoolVar(&cleanup, "cleanup", false, "remove every device and rule the agent made, and exit (for uninstall hooks)")
	return cmd
}
