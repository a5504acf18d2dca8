// Package scheme is the one Kubernetes scheme spk-controller and spk-node
// run with: the built-in types plus the SPK CRs. It is its own package so
// spk-tmm, which imports spk for its CR loader, does not link every
// built-in API type.
package scheme

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/spklab/spklab/spk"
)

// New returns a scheme with the Kubernetes built-in types and the SPK CRs.
func New() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("registering the built-in types: %w", err)
	}
	if err := spk.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("registering the SPK types: %w", err)
	}
	return s, nil
}
