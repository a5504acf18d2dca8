package render

import (
	"testing"

	"github.com/spklab/spklab/topology"
)

// FuzzRender proves no renderer panics on any topology the loader accepts,
// valid or not, and that the mermaid diagram stays well formed.
func FuzzRender(f *testing.F) {
	for _, name := range topology.Builtins() {
		data, err := topology.InitFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("networks: [{name: \"a\\\"]\", attach: {vlan: 7}}]\ntmm: {interfaces: [{name: x, network: \"a\\\"]\"}], replicas: 1099511627776}\n"))
	f.Add([]byte("router: {interfaces: [{network: external-net, vlan: 3334, ipv4: \"10.0.0.1\"}]}\ntenants: [{namespace: end, ingress: {ipv6: \"::\"}, snatPool: {rows: [[]]}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		topo, err := topology.Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		_, _ = KindConfigYAML(topo)
		_, _ = NADsYAML(topo)
		_ = MultusAnnotation(topo)
		_, _ = ComposeYAML(topo)
		_, _ = FRRFiles(topo)
		_ = DockerNetworks(topo)
		_ = DiagramText(topo)
		checkMermaid(t, DiagramMermaid(topo))
	})
}
