package manifests

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// The CRDs live in the chart's crds/ directory only (Helm installs them
// from there); controller-gen writes them from spk/types.go through the
// crdgen packages.
//go:generate go tool controller-gen crd paths=./crdgen/... output:crd:dir=charts/spk/crds

//go:embed charts/spk/crds/*.yaml
var crdFiles embed.FS

const crdDir = "charts/spk/crds"

// CRDFiles is the chart's crds/ directory: one YAML file per CRD, named
// "<group>_<plural>.yaml".
func CRDFiles() fs.FS {
	sub, err := fs.Sub(crdFiles, crdDir)
	if err != nil {
		// fs.Sub fails only for an invalid path, and this one is a constant.
		panic(err)
	}
	return sub
}

// CRDYAML is every SPK CRD as one multi-document YAML stream, the files in
// name order, ready for kubectl apply.
func CRDYAML() []byte {
	var buf bytes.Buffer
	for _, name := range crdFileNames() {
		data := readCRDFile(name)
		if !bytes.HasPrefix(data, []byte("---\n")) {
			buf.WriteString("---\n")
		}
		buf.Write(data)
	}
	return buf.Bytes()
}

// CRDs decodes the SPK CRDs, strictly (an unknown field is an error), in
// file name order.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, name := range crdFileNames() {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(readCRDFile(name), crd); err != nil {
			return nil, fmt.Errorf("decoding CRD %s: %w", name, err)
		}
		out = append(out, crd)
	}
	return out, nil
}

// crdFileNames lists the embedded CRD files, sorted (ReadDir sorts).
func crdFileNames() []string {
	entries, err := crdFiles.ReadDir(crdDir)
	if err != nil {
		// The directory is embedded; the build fails without it.
		panic(err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// readCRDFile reads an embedded CRD file that crdFileNames listed.
func readCRDFile(name string) []byte {
	data, err := crdFiles.ReadFile(path.Join(crdDir, name))
	if err != nil {
		// Embedded and just listed: reading cannot fail.
		panic(err)
	}
	return data
}
