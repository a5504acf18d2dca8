package render

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/spklab/spklab/internal/golden"
	"github.com/spklab/spklab/topology"
)

// updating reports whether the tests run with -update (the flag belongs to
// internal/golden).
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// checkArtifact compares a committed file outside testdata with what the
// renderer makes now; -update rewrites it.
func checkArtifact(t *testing.T, path string, got []byte, mode os.FileMode, regenerate string) {
	t.Helper()
	golden.Check(t, path, got)
	if updating() {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		return
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o111 != mode.Perm()&0o111 {
		t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), mode.Perm())
	}
	if t.Failed() {
		t.Logf("%s is out of date with topology.Default(); regenerate it with: %s (or: go test ./topology/render -update)", path, regenerate)
	}
}

// requireTool finds a program a test needs: outside CI a missing one skips
// the test, in CI (CI=true) it fails it, since CI must install it.
func requireTool(t *testing.T, name, install string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (%s); CI must install it", name, install)
	}
	t.Skipf("%s is not installed (%s); skipping outside CI", name, install)
	return ""
}

func builtin(t testing.TB, name string) *topology.Topology {
	t.Helper()
	topo, err := topology.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// FuzzValidRenders checks that the renderers and Validate agree: a topology
// Validate accepts must render without error (FuzzRender covers panics).
func FuzzValidRenders(f *testing.F) {
	for _, name := range topology.Builtins() {
		data, err := yaml.Marshal(builtin(f, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("base: seed-example\nrouter:\n  interfaces:\n  - network: external-net\n    vlan: 3334\n    ipv4: 10.10.10.200\n"))
	f.Add([]byte("router:\n  listenRanges: [\"192.0.2.1/24\", \"x\"]\n  announce: [\"::/0\"]\n"))
	f.Add([]byte("networks: []\ntmm:\n  vlans: []\n  bgp:\n    neighbors:\n    - ip: 1.2.3.4\n      password: \"a\\nb\"\n"))
	f.Add([]byte("infra:\n  project: \"\"\nclient:\n  service: frr\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		topo, err := topology.Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		for _, n := range DockerNetworks(topo) {
			if _, ok := n.Options["parent"]; ok {
				t.Errorf("network %s has a parent option", n.Name)
			}
		}
		if topology.Validate(topo) != nil {
			return
		}
		if _, err := FRRFiles(topo); err != nil {
			t.Errorf("FRRFiles failed on a valid topology: %v", err)
		}
		if _, err := ComposeYAML(topo); err != nil {
			t.Errorf("ComposeYAML failed on a valid topology: %v", err)
		}
	})
}

func TestNilTopology(t *testing.T) {
	if _, err := FRRFiles(nil); err == nil {
		t.Error("FRRFiles(nil) did not fail")
	}
	if _, err := ComposeYAML(nil); err == nil {
		t.Error("ComposeYAML(nil) did not fail")
	}
	if got := DockerNetworks(nil); got != nil {
		t.Errorf("DockerNetworks(nil) = %v", got)
	}
}

// mustContain fails unless every line is in data.
func mustContain(t *testing.T, data []byte, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !bytes.Contains(data, []byte(l)) {
			t.Errorf("output lacks %q:\n%s", l, data)
		}
	}
}
