package spkchart

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ContainerArgs returns the args of a container in a rendered workload
// (Deployment, DaemonSet, StatefulSet): what the binary will be started
// with, so tests can check the binaries accept them.
func (m *Manifest) ContainerArgs(kind, name, container string) ([]string, error) {
	obj := m.Find(kind, name)
	if obj == nil {
		return nil, fmt.Errorf("the chart renders no %s %s", kind, name)
	}
	containers, _, err := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", kind, name, err)
	}
	for _, c := range containers {
		cm, ok := c.(map[string]any)
		if !ok || cm["name"] != container {
			continue
		}
		args, _, err := unstructured.NestedStringSlice(cm, "args")
		if err != nil {
			return nil, fmt.Errorf("%s %s container %s args: %w", kind, name, container, err)
		}
		return args, nil
	}
	return nil, fmt.Errorf("%s %s has no container %s", kind, name, container)
}

// DefaultContainerArgs renders the chart with its default values and
// returns a container's args (ContainerArgs).
func DefaultContainerArgs(kind, name, container string) ([]string, error) {
	m, err := Render(DefaultNamespace, nil)
	if err != nil {
		return nil, err
	}
	return m.ContainerArgs(kind, name, container)
}
