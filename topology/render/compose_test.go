package render

import (
	"path/filepath"
	"testing"

	"github.com/spklab/spklab/internal/golden"
	"github.com/spklab/spklab/topology"
)

func composeYAML(t *testing.T, topo *topology.Topology) []byte {
	t.Helper()
	data, err := ComposeYAML(topo)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestComposeGolden(t *testing.T) {
	for _, name := range topology.Builtins() {
		t.Run(name, func(t *testing.T) {
			golden.Check(t, filepath.Join("testdata", "compose", name, "docker-compose.yaml"), composeYAML(t, builtin(t, name)))
		})
	}
}

// The committed docker-compose.yaml is what the default lab runs.
func TestTopLevelComposeFileMatchesDefault(t *testing.T) {
	checkArtifact(t, filepath.Join("..", "..", "docker-compose.yaml"), composeYAML(t, topology.Default()), 0o644,
		"go run ./cmd/spklab render compose > docker-compose.yaml")
}

func TestComposeErrors(t *testing.T) {
	for name, mutate := range map[string]func(*topology.Topology){
		"no project":          func(t *topology.Topology) { t.Infra.Project = "" },
		"same service twice":  func(t *topology.Topology) { t.Client.Service = t.Router.Service },
		"unknown network":     func(t *topology.Topology) { t.Syslog.Network = "nowhere" },
		"bad address":         func(t *topology.Topology) { t.Client.IPv4 = "198.51.100.300" },
		"v6 address as v4":    func(t *topology.Topology) { t.Client.IPv4 = "2001::1" },
		"bad router address":  func(t *topology.Topology) { t.Router.Interfaces[0].IPv6 = "x" },
		"bad gateway":         func(t *topology.Topology) { t.Networks[0].IPv4Gateway = "x" },
		"bad subnet":          func(t *topology.Topology) { t.Networks[0].IPv4Subnet = "198.51.100.1/24" },
		"v6 subnet as v4":     func(t *topology.Topology) { t.Networks[0].IPv4Subnet = "2001::/64" },
		"no image":            func(t *topology.Topology) { t.Images.Syslog = "" },
		"container injection": func(t *topology.Topology) { t.Syslog.ContainerName = "a\nb: c" },
		"twice on a network": func(t *topology.Topology) {
			t.Router.Interfaces = append(t.Router.Interfaces, topology.RouterInterface{Network: "client-net", IPv4: "198.51.100.251"})
		},
	} {
		t.Run(name, func(t *testing.T) {
			topo := topology.Default()
			mutate(topo)
			if _, err := ComposeYAML(topo); err == nil {
				t.Error("no error")
			} else {
				t.Log(err)
			}
		})
	}
}

// The router's label follows its bind-mounted FRR files: the same topology
// gives the same digest, a change to what FRR is told gives another, so
// compose recreates the router and spklab sees a stale one.
func TestRouterLabelFollowsFRRConfig(t *testing.T) {
	label := func(topo *topology.Topology) string {
		t.Helper()
		p, err := ComposeProject(topo)
		if err != nil {
			t.Fatal(err)
		}
		return p.Services[topo.Router.Service].Labels[LabelFRRConfig]
	}
	base := label(topology.Default())
	if len(base) != 16 || base != label(topology.Default()) {
		t.Fatalf("router label %q: want a stable 16-hex digest", base)
	}
	changed := topology.Default()
	changed.Router.ASN++
	if got := label(changed); got == base {
		t.Errorf("router ASN changed, label stayed %s", got)
	}
	changed = topology.Default()
	changed.Router.MaximumPaths++
	if got := label(changed); got == base {
		t.Errorf("router maximum-paths changed, label stayed %s", got)
	}
}
