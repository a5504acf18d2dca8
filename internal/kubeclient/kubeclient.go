// Package kubeclient holds what the in-cluster binaries (spk-controller,
// spk-node) share at start-up: finding the API server and one logger for
// their own logs and controller-runtime's.
package kubeclient

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
)

// RESTConfig is the kubeconfig file when one is given, else the in-cluster
// config, else the usual kubeconfig rules ($KUBECONFIG, ~/.kube/config).
func RESTConfig(kubeconfig string) (*rest.Config, error) {
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

// Logger is a text slog logger on stderr at the level named by level
// (debug, info, warn, error); controller-runtime logs through it too.
func Logger(level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	h := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv})
	ctrl.SetLogger(logr.FromSlogHandler(h))
	return slog.New(h), nil
}
