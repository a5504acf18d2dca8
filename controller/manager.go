package controller

import (
	"fmt"
	spkscheme "github.com/spklab/spklab/spk/scheme"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// ManagerOptions are the process-level settings of spk-controller.
type ManagerOptions struct {
	// HealthProbeAddr serves /healthz and /readyz ("" or "0" = off).
	HealthProbeAddr string
	// MetricsAddr serves Prometheus metrics ("0" = off).
	MetricsAddr string
	// LeaderElection makes one of several controller pods active, holding a
	// Lease in LeaderElectionNamespace.
	LeaderElection          bool
	LeaderElectionNamespace string
	// SkipNameValidation lets one process start the controller more than
	// once (tests restarting it); controller-runtime otherwise refuses a
	// second controller of one name.
	SkipNameValidation bool
}

// LeaderElectionID names the Lease the controllers compete for.
const LeaderElectionID = "spk-controller.spklab.io"

// NewManager builds a manager running the spk controller.
func NewManager(cfg *rest.Config, opts Options, m ManagerOptions) (ctrl.Manager, *Reconciler, error) {
	if err := opts.defaults(); err != nil {
		return nil, nil, err
	}
	scheme, err := spkscheme.New()
	if err != nil {
		return nil, nil, err
	}
	metricsAddr := m.MetricsAddr
	if metricsAddr == "" {
		metricsAddr = "0"
	}
	probeAddr := m.HealthProbeAddr
	if probeAddr == "" {
		probeAddr = "0"
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Cache:                   CacheOptions(opts),
		Metrics:                 metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress:  probeAddr,
		LeaderElection:          m.LeaderElection,
		LeaderElectionID:        LeaderElectionID,
		LeaderElectionNamespace: m.LeaderElectionNamespace,
		// A new leader may start before the old one's pushes end; both
		// push the same compiled configs, so that is harmless.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("creating the controller manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, nil, err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, nil, err
	}
	r, err := setup(mgr, opts, m.SkipNameValidation)
	if err != nil {
		return nil, nil, err
	}
	return mgr, r, nil
}
