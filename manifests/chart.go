package manifests

import (
	"embed"
	"io/fs"
)

// chartFiles holds the SPK Helm chart; "all:" keeps _helpers.tpl and
// .helmignore, which plain patterns leave out.
//
//go:embed all:charts/spk
var chartFiles embed.FS

// ChartFS is the SPK Helm chart (Chart.yaml at its root, then values.yaml,
// values.schema.json, templates/ and crds/). Loading it with Helm is
// manifests/spkchart's job, so this package does not link the Helm SDK into every
// program that only needs the CRDs.
func ChartFS() fs.FS {
	sub, err := fs.Sub(chartFiles, "charts/spk")
	if err != nil {
		// fs.Sub fails only for an invalid path, and this one is a constant.
		panic(err)
	}
	return sub
}
