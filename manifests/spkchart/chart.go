// Package spkchart renders, lints, installs, upgrades and uninstalls the SPK
// Helm chart (manifests/charts/spk) through the Helm Go SDK: no helm binary.
//
// Values are plain Go maps, as a values file would decode; ValuesFromTopology
// builds them from a lab topology.
package spkchart

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	kubefake "helm.sh/helm/v3/pkg/kube/fake"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/spklab/spklab/manifests"
	"github.com/spklab/spklab/spk"
)

// Defaults of a lab install.
const (
	// DefaultReleaseName is the Helm release the lab installs.
	DefaultReleaseName = "spk"
	// DefaultNamespace is the release namespace of the default lab
	// (topology spk.namespace).
	DefaultNamespace = "spk-ingress"
	// KubeVersion is the Kubernetes version charts are rendered for when no
	// cluster is asked (the lab's kind version).
	KubeVersion = "v1.32.0"
)

// Names of the objects the chart makes; the controller and the lab steps
// refer to them.
const (
	TMMStatefulSet       = "f5-tmm"
	ControllerDeployment = "spk-controller"
	NodeAgentDaemonSet   = "spk-node"
	// ValuesSecret holds the controller's values file under ValuesKey (a
	// Secret: F5's block may carry BGP passwords).
	ValuesSecret = "spk-tmm-values"
	ValuesKey    = "values.yaml"
)

// Load is the embedded chart, as Helm loads a chart directory.
func Load() (*chart.Chart, error) {
	fsys := manifests.ChartFS()
	var files []*loader.BufferedFile
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		// .helmignore only matters when packaging; the embed holds no junk.
		if path == ".helmignore" {
			return nil
		}
		data, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		files = append(files, &loader.BufferedFile{Name: path, Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the embedded SPK chart: %w", err)
	}
	ch, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("loading the embedded SPK chart: %w", err)
	}
	return ch, nil
}

// Manifest is a rendered release.
type Manifest struct {
	// Text is the rendered templates as `helm template` prints them (CRDs
	// are not in it: they live in the chart's crds/ and are applied first).
	Text string
	// Notes is the rendered NOTES.txt.
	Notes string
	// Objects are the documents of Text, in Helm's install order.
	Objects []*unstructured.Unstructured
}

// Find is the object of that kind and name, or nil.
func (m *Manifest) Find(kind, name string) *unstructured.Unstructured {
	for _, o := range m.Objects {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// Render renders the chart for release namespace ns with values on top of
// the chart's defaults, without a cluster (helm template). Values are
// checked by values.schema.json, and the controller's values file is
// checked by spk.ParseValues, as the controller will read it.
func Render(ns string, values map[string]any) (*Manifest, error) {
	ch, err := Load()
	if err != nil {
		return nil, err
	}
	return renderChart(ch, DefaultReleaseName, ns, values)
}

func renderChart(ch *chart.Chart, releaseName, ns string, values map[string]any) (*Manifest, error) {
	vals, err := copyValues(values)
	if err != nil {
		return nil, err
	}
	kv, err := chartutil.ParseKubeVersion(KubeVersion)
	if err != nil {
		return nil, fmt.Errorf("kube version: %w", err)
	}
	cfg := &action.Configuration{
		KubeClient:   &kubefake.PrintingKubeClient{Out: io.Discard},
		Releases:     storage.Init(driver.NewMemory()),
		Capabilities: chartutil.DefaultCapabilities,
		Log:          func(string, ...any) {},
	}
	inst := action.NewInstall(cfg)
	inst.DryRun = true
	inst.ClientOnly = true
	inst.Replace = true
	inst.ReleaseName = releaseName
	inst.Namespace = ns
	inst.KubeVersion = kv
	rel, err := inst.Run(ch, vals)
	if err != nil {
		return nil, fmt.Errorf("rendering the SPK chart: %w", err)
	}
	m := &Manifest{Text: rel.Manifest, Notes: rel.Info.Notes}
	if m.Objects, err = decodeObjects(rel.Manifest); err != nil {
		return nil, err
	}
	if err := checkTMMValues(m); err != nil {
		return nil, err
	}
	return m, nil
}

// checkTMMValues reads the controller's values file as the controller does,
// so a block it would refuse fails the render instead of the controller.
func checkTMMValues(m *Manifest) error {
	sec := m.Find("Secret", ValuesSecret)
	if sec == nil {
		return fmt.Errorf("rendered SPK chart has no Secret %s", ValuesSecret)
	}
	encoded, _, _ := unstructured.NestedString(sec.Object, "data", ValuesKey)
	data, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return fmt.Errorf("rendered Secret %s: data.%s: %w", ValuesSecret, ValuesKey, err)
	}
	if _, err := spk.ParseValues("tmm.dynamicRouting (Secret "+ValuesSecret+")", data); err != nil {
		return fmt.Errorf("values: %w", err)
	}
	return nil
}

func decodeObjects(manifest string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var out []*unstructured.Unstructured
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("decoding the rendered SPK chart: %w", err)
		}
		if len(obj) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
}

// copyValues gives Helm its own copy of values (Helm may change the map it
// is given), in the types a values file decodes to (numbers are float64).
func copyValues(values map[string]any) (map[string]any, error) {
	if values == nil {
		return map[string]any{}, nil
	}
	data, err := json.Marshal(values)
	if err != nil {
		return nil, fmt.Errorf("values are not plain data: %w", err)
	}
	out := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("copying values: %w", err)
	}
	return out, nil
}
