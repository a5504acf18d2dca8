package cli

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/spklab/spklab/internal/testenv"
	"github.com/spklab/spklab/lab/netns"
	"github.com/spklab/spklab/topology"
)

func TestLabCommandFlags(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []string{"up", "down", "status"} {
		if _, errOut, code := run(t, dir, c, "--runtime", "docker"); code != ExitUsage || !strings.Contains(errOut, "kind, netns") {
			t.Errorf("%s --runtime docker: code %d stderr %q", c, code, errOut)
		}
	}
	if _, errOut, code := run(t, dir, "status", "--runtime", "netns", "-o", "yaml"); code != ExitUsage {
		t.Errorf("status -o yaml: code %d stderr %q", code, errOut)
	}
	// A topology with problems builds nothing.
	path := writeFile(t, dir, "bad.yaml", "base: default\ncluster:\n  name: Not_Valid\n")
	if _, errOut, code := run(t, dir, "up", "--runtime", "netns", "-f", path); code != ExitProblems || !strings.Contains(errOut, "cluster.name") {
		t.Errorf("up with a bad topology: code %d stderr %q", code, errOut)
	}
}

// TestNetnsUpStatusDown drives the netns runtime through the CLI with a
// topology file whose cluster name is random and a stand-in spk-tmm.
func TestNetnsUpStatusDown(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "nginx", "nginx-light")
	testenv.RequireTool(t, "ethtool", "ethtool")
	testenv.RequireTool(t, "vtysh", "frr")
	dir := t.TempDir()
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	cluster := "spkc" + hex.EncodeToString(b)
	topo := topology.Default()
	topo.RenameCluster(cluster)
	data, err := yaml.Marshal(topo)
	if err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, dir, "lab.yaml", string(data))
	// The real data plane: up returns only once the router learned the
	// VIPs and SNAT addresses from the TMMs over BGP.
	tmm := testenv.BuildTMM(t)
	runDir := filepath.Join(dir, "run")
	t.Cleanup(func() { run(t, dir, "down", "--runtime", "netns", "-f", file, "--run-dir", runDir) })

	out, errOut, code := run(t, dir, "up", "--runtime", "netns", "-f", file, "--run-dir", runDir, "--tmm-binary", tmm)
	if code != 0 || !strings.Contains(out, "netns lab "+cluster+" is up: 12 namespaces, 4 pods") {
		t.Fatalf("up: code %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = run(t, dir, "status", "--runtime", "netns", "-f", file, "--run-dir", runDir, "-o", "json")
	var s netns.Status
	if code != 0 || json.Unmarshal([]byte(out), &s) != nil || !s.Up() || len(s.Namespaces) != 12 || !s.RunDirOK {
		t.Fatalf("status -o json: code %d\n%s\n%s", code, out, errOut)
	}
	established := 0
	for _, p := range s.BGP {
		if p.State == "Established" && p.RemoteAS == 64443 {
			established++
		}
	}
	if established != 4 || len(s.RoutingProblems) != 0 {
		t.Errorf("router BGP: %d of 4 sessions Established (%+v), routing problems %q", established, s.BGP, s.RoutingProblems)
	}
	out, _, code = run(t, dir, "status", "--runtime", "netns", "-f", file, "--run-dir", runDir)
	if code != 0 || !strings.Contains(out, "spk-tmm running pid") || !strings.Contains(out, "192.0.2.250/24") {
		t.Errorf("status table: code %d\n%s", code, out)
	}
	if out, errOut, code = run(t, dir, "down", "--runtime", "netns", "-f", file, "--run-dir", runDir); code != 0 {
		t.Fatalf("down: code %d\n%s\n%s", code, out, errOut)
	}
	out, _, code = run(t, dir, "status", "--runtime", "netns", "-f", file, "--run-dir", runDir, "-o", "json")
	if code != ExitProblems || json.Unmarshal([]byte(out), &s) != nil || s.Up() || s.RunDirOK {
		t.Errorf("status after down: code %d\n%s", code, out)
	}
	for _, ns := range s.Namespaces {
		if ns.Exists {
			t.Errorf("namespace %s still exists", ns.Name)
		}
	}
}
