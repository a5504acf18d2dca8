package nodeagent

import (
	"fmt"
	spkscheme "github.com/spklab/spklab/spk/scheme"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// ManagerOptions are the process-level settings of spk-node.
type ManagerOptions struct {
	// HealthProbeAddr serves /healthz and /readyz ("" or "0" = off). The
	// agent runs in the host network, so the port must be free on the node.
	HealthProbeAddr string
}

// CacheOptions keep only the node's own pods in the cache (a field
// selector the API server applies, so a node never receives the cluster's
// pods) and drop managed fields from every cached object.
func CacheOptions(nodeName string) cache.Options {
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}: {Field: fields.OneTermEqualSelector("spec.nodeName", nodeName)},
		},
		DefaultTransform: cache.TransformStripManagedFields(),
	}
}

// NewManager builds a manager running the node agent. It has no leader
// election (every node runs its own) and no metrics server (a fixed port in
// the host network would collide with the node's own services).
func NewManager(cfg *rest.Config, opts Options, m ManagerOptions) (ctrl.Manager, *Agent, error) {
	if opts.NodeName == "" {
		return nil, nil, fmt.Errorf("nodeagent: NodeName is empty")
	}
	scheme, err := spkscheme.New()
	if err != nil {
		return nil, nil, err
	}
	probeAddr := m.HealthProbeAddr
	if probeAddr == "" {
		probeAddr = "0"
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  CacheOptions(opts.NodeName),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: probeAddr,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("creating the node agent manager: %w", err)
	}
	a, err := Setup(mgr, opts)
	if err != nil {
		return nil, nil, err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, nil, err
	}
	if err := mgr.AddReadyzCheck("reconciled", a.Ready); err != nil {
		return nil, nil, err
	}
	return mgr, a, nil
}
