package e2e_test

// TestSuitesOnNetnsLab is what `make test` runs of the e2e suites: it builds
// spk-tmm and spklab, brings up a netns lab of the default topology under a
// unique cluster name, runs every suite (ingress, snat, bgp) green, then has
// `spklab test` run the deliberately broken spec and checks the evidence it
// leaves. The lab is taken down at the end, also on failure.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/spklab/spklab/e2e"
	"github.com/spklab/spklab/e2e/framework"
	"github.com/spklab/spklab/internal/testenv"
	"github.com/spklab/spklab/lab/netns"
	"github.com/spklab/spklab/topology"
)

func TestSuitesOnNetnsLab(t *testing.T) {
	testenv.RequireRoot(t)
	for _, tool := range [][2]string{{"nginx", "nginx-light"}, {"curl", "curl"}, {"ethtool", "ethtool"}, {"vtysh", "frr"}, {"tcpdump", "tcpdump"}} {
		testenv.RequireTool(t, tool[0], tool[1])
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", dir+"/", "github.com/spklab/spklab/cmd/spk-tmm", "github.com/spklab/spklab/cmd/spklab")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building spk-tmm and spklab: %v\n%s", err, out)
	}
	tmmBin, spklab := filepath.Join(dir, "spk-tmm"), filepath.Join(dir, "spklab")

	topo := topology.Default()
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	topo.RenameCluster("e2e" + hex.EncodeToString(b))
	runDir := filepath.Join(dir, "run")
	l, err := netns.New(topo, netns.Options{RunDir: runDir, TMMBinary: tmmBin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := l.Down(ctx); err != nil {
			t.Errorf("netns lab down: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	upStart := time.Now()
	if err := l.Up(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("netns lab %s up in %s", topo.Cluster.Name, time.Since(upStart).Round(time.Millisecond))

	t.Run("all suites pass", func(t *testing.T) {
		target, err := netns.NewNetnsTarget(l, topo)
		if err != nil {
			t.Fatal(err)
		}
		junit := filepath.Join(dir, "junit.xml")
		artifacts := filepath.Join(dir, "artifacts")
		sum, err := e2e.RunSuites(ctx, target, e2e.Options{JUnitFile: junit, ArtifactsDir: artifacts, NoColor: true})
		if sum != nil {
			t.Logf("suites: %s", sum)
		}
		if err != nil {
			t.Fatal(err)
		}
		// Every area ran, nothing was skipped (CI allows no skip: specs
		// that cannot apply to this lab are not registered), and the
		// convergence figures were measured.
		if sum.Failed != 0 || sum.Skipped != 0 || sum.Passed < 20 {
			t.Errorf("want ≥ 20 specs passed, none failed or skipped: %s", sum)
		}
		measured := map[string]time.Duration{}
		for _, tm := range sum.Timings {
			measured[tm.Name] = tm.Took
		}
		for _, name := range []string{e2e.TimingWithdraw, e2e.TimingRestore, e2e.TimingRestart} {
			if d, ok := measured[name]; !ok || d <= 0 {
				t.Errorf("no figure for %q: %v", name, sum.Timings)
			}
		}
		suites := readJUnit(t, junit)
		if suites.Failures != 0 || suites.Tests < sum.Passed {
			t.Errorf("JUnit report: %d tests, %d failures; want ≥ %d tests and no failure", suites.Tests, suites.Failures, sum.Passed)
		}
		for _, label := range []string{"[ingress, ipv4]", "[ingress, ipv6]", "[snat, ipv4]", "[bgp, ipv6]", "disruptive, ipv4, ipv6]", "[isolation]"} {
			if !suites.hasCase(label) {
				t.Errorf("JUnit report has no test case labelled %s", label)
			}
		}
		if suites.hasCase("%!") {
			t.Errorf("a spec name has a formatting error")
		}
		if _, err := os.Stat(artifacts); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a green run left evidence in %s (err %v)", artifacts, err)
		}
	})

	t.Run("a broken expectation dumps the evidence", func(t *testing.T) {
		// RunSpecs runs once per process: the broken spec runs in the
		// spklab binary, as a user would run it.
		topoFile := filepath.Join(dir, "lab.yaml")
		data, err := yaml.Marshal(topo)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(topoFile, data, 0o644); err != nil {
			t.Fatal(err)
		}
		artifacts := filepath.Join(dir, "selftest-artifacts")
		junit := filepath.Join(dir, "selftest.xml")
		cmd := exec.CommandContext(ctx, spklab, "test", "--runtime", "netns", "-f", topoFile, "--run-dir", runDir,
			"--tmm-binary", tmmBin, "--label-filter", e2e.SelfTestLabel, "--artifacts", artifacts, "--junit", junit)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err = cmd.Run()
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
			t.Fatalf("spklab test with the broken spec: %v, want exit status 1\n%s", err, out.String())
		}
		if !strings.Contains(out.String(), "evidence dumped into "+artifacts) {
			t.Errorf("the output does not say where the evidence is:\n%s", out.String())
		}
		if s := readJUnit(t, junit); s.Failures != 1 {
			t.Errorf("JUnit report of the broken run: %d failures, want 1", s.Failures)
		}
		// The failed spec's evidence, and the lab's logs and state in lab/
		// (spklab test collects them on either runtime when a spec fails).
		specs, err := os.ReadDir(artifacts)
		if err != nil || len(specs) != 2 || specs[1].Name() != "lab" {
			t.Fatalf("want one evidence folder and lab/ in %s: %v %v", artifacts, specs, err)
		}
		if st, err := os.Stat(filepath.Join(artifacts, "lab", "status.txt")); err != nil || st.Size() == 0 {
			t.Errorf("the lab's status is not in %s/lab: %v", artifacts, err)
		}
		ev := filepath.Join(artifacts, specs[0].Name())
		for _, d := range framework.RouterDumps() {
			var v map[string]any
			if err := json.Unmarshal(readFile(t, ev, d.File), &v); err != nil || len(v) == 0 {
				t.Errorf("%s: want a JSON object from %q: %v", d.File, d.Command, err)
			}
		}
		for i := range topo.TMM.Replicas {
			var stats struct {
				VLANs []json.RawMessage `json:"vlans"`
			}
			name := netns.TMMRole(i) + "-stats.json"
			if err := json.Unmarshal(readFile(t, ev, name), &stats); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			for _, doc := range []string{"-flows.json", "-bgp.json"} {
				if len(readFile(t, ev, netns.TMMRole(i)+doc)) == 0 {
					t.Errorf("%s is empty", netns.TMMRole(i)+doc)
				}
			}
		}
		if n := pcapPackets(t, readFile(t, ev, framework.PcapFile)); n == 0 || n > framework.CapturePackets {
			t.Errorf("router.pcap holds %d packets, want 1..%d", n, framework.CapturePackets)
		}
		if !strings.Contains(string(readFile(t, ev, framework.FailureFile)), "deliberately broken") {
			t.Errorf("failure.txt does not name the failed spec")
		}
		if _, err := os.Stat(filepath.Join(ev, framework.ErrorsFile)); err == nil {
			t.Errorf("the evidence is incomplete:\n%s", readFile(t, ev, framework.ErrorsFile))
		}
	})
}

func readFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Error(err)
	}
	return data
}

// pcapPackets counts the records of a pcap file (microsecond or nanosecond,
// either byte order).
func pcapPackets(t *testing.T, data []byte) int {
	t.Helper()
	if len(data) < 24 {
		t.Errorf("pcap of %d bytes has no header", len(data))
		return 0
	}
	var order binary.ByteOrder
	switch binary.LittleEndian.Uint32(data) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		order = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		order = binary.BigEndian
	default:
		t.Errorf("not a pcap file: magic %x", data[:4])
		return 0
	}
	n := 0
	for off := 24; off+16 <= len(data); n++ {
		off += 16 + int(order.Uint32(data[off+8:]))
	}
	return n
}

type junitSuites struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Suites   []struct {
		Cases []struct {
			Name string `xml:"name,attr"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func (s junitSuites) hasCase(substr string) bool {
	for _, su := range s.Suites {
		for _, c := range su.Cases {
			if strings.Contains(c.Name, substr) {
				return true
			}
		}
	}
	return false
}

func readJUnit(t *testing.T, path string) junitSuites {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("JUnit report: %v", err)
	}
	var s junitSuites
	if err := xml.Unmarshal(data, &s); err != nil {
		t.Fatalf("JUnit report %s: %v", path, err)
	}
	return s
}
