package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

// run executes spklab with args in dir and returns stdout, stderr and the
// exit code Execute would give.
func run(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	if dir != "" {
		t.Chdir(dir)
	}
	var out, errOut bytes.Buffer
	cmd := NewRootCommand(&out, &errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	code := 0
	if err != nil {
		var ee *ExitError
		if errors.As(err, &ee) {
			code = ee.Code
		} else {
			code = ExitProblems
		}
		errOut.WriteString("spklab: " + err.Error() + "\n")
	}
	return out.String(), errOut.String(), code
}

func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestValidateBuiltins(t *testing.T) {
	for _, name := range []string{"default", "seed-example"} {
		out, errOut, code := run(t, t.TempDir(), "validate", "--topology", name)
		if code != 0 || !strings.Contains(out, "built-in topology "+name+" is valid") {
			t.Errorf("%s: code %d, stdout %q, stderr %q", name, code, out, errOut)
		}
	}
}

func TestValidateRejectsWithPathReasonLines(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "bad.yaml", `
networks:
  - name: external-net
    driver: macvlan
    ipv4Subnet: 192.0.2.0/33
    attach: {interface: eth1}
router:
  asn: 0
`)
	_, errOut, code := run(t, dir, "validate", "-f", path)
	if code != ExitProblems {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, ExitProblems, errOut)
	}
	for _, want := range []string{
		`networks[external-net].ipv4Subnet: "192.0.2.0/33" is not a CIDR`,
		`router.asn: 0 is out of range 1–4294967295`,
	} {
		if !strings.Contains(errOut, want+"\n") {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestValidateJSON(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "bad.yaml", "tmm:\n  replicas: 0\n")
	out, _, code := run(t, dir, "validate", "-f", path, "-o", "json")
	if code != ExitProblems {
		t.Fatalf("exit code %d", code)
	}
	var rep validationReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if rep.Valid || len(rep.Problems) == 0 || rep.Problems[0].Path != "tmm.replicas" {
		t.Errorf("report %+v", rep)
	}
}

func TestValidateUnknownFieldNamesLine(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "spklab.yaml", "cluster:\n  name: x\n  colour: red\n")
	// No -f: ./spklab.yaml is picked up.
	_, errOut, code := run(t, dir, "validate")
	if code != ExitProblems || !strings.Contains(errOut, `spklab.yaml:3: unknown field "colour"`) {
		t.Errorf("code %d, stderr %q (file %s)", code, errOut, path)
	}
}

func TestInitWritesLoadableFileAndKeepsExisting(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := run(t, dir, "init", "--topology", "seed-example")
	if code != 0 {
		t.Fatalf("init: %d %s", code, errOut)
	}
	if !strings.Contains(out, "wrote spklab.yaml") {
		t.Errorf("stdout %q", out)
	}
	if out, errOut, code := run(t, dir, "validate"); code != 0 || !strings.Contains(out, "spklab.yaml is valid") {
		t.Errorf("validate after init: %d %q %q", code, out, errOut)
	}
	if _, errOut, code := run(t, dir, "init"); code == 0 || !strings.Contains(errOut, "already exists; use --force") {
		t.Errorf("second init: code %d, stderr %q", code, errOut)
	}
	if _, _, code := run(t, dir, "init", "--force"); code != 0 {
		t.Errorf("init --force: code %d", code)
	}
}

func TestRenderKindConfig(t *testing.T) {
	out, errOut, code := run(t, t.TempDir(), "render", "kind-config")
	if code != 0 {
		t.Fatalf("code %d: %s", code, errOut)
	}
	var c v1alpha4.Cluster
	if err := yaml.UnmarshalStrict([]byte(out), &c); err != nil {
		t.Fatalf("not a kind config: %v\n%s", err, out)
	}
	roles := map[v1alpha4.NodeRole]int{}
	for _, n := range c.Nodes {
		roles[n.Role]++
	}
	if c.Name != "bnk" || roles[v1alpha4.ControlPlaneRole] != 1 || roles[v1alpha4.WorkerRole] != 3 || !c.Networking.DisableDefaultCNI {
		t.Errorf("kind config: name %q roles %v disableDefaultCNI %v", c.Name, roles, c.Networking.DisableDefaultCNI)
	}
}

func TestRenderComposeMatchesTopLevelFile(t *testing.T) {
	want, err := os.ReadFile("../../../docker-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, t.TempDir(), "render", "compose")
	if code != 0 {
		t.Fatalf("code %d: %s", code, errOut)
	}
	if out != string(want) {
		t.Error("spklab render compose differs from docker-compose.yaml: run make generate")
	}
}

func TestRenderFRRToDir(t *testing.T) {
	dir := t.TempDir()
	if _, errOut, code := run(t, dir, "render", "frr", "-d", "out"); code != 0 {
		t.Fatalf("code %d: %s", code, errOut)
	}
	conf, err := os.ReadFile(filepath.Join(dir, "out", "frr.conf"))
	if err != nil || !strings.Contains(string(conf), "router bgp 65500") {
		t.Errorf("frr.conf: %v\n%s", err, conf)
	}
	st, err := os.Stat(filepath.Join(dir, "out", "network.sh"))
	if err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Errorf("network.sh must be executable: %v %v", err, st)
	}
}

func TestRenderRefusesInvalidTopology(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "bad.yaml", "tmm:\n  bgp:\n    asn: 65500\n")
	out, errOut, code := run(t, dir, "render", "nads", "-f", path)
	if code != ExitProblems || out != "" || !strings.Contains(errOut, "tmm.bgp.asn: 65500 is the router's AS") {
		t.Errorf("code %d stdout %q stderr %q", code, out, errOut)
	}
}

func TestRenderNADsJSONAndNetworks(t *testing.T) {
	out, _, code := run(t, t.TempDir(), "render", "nads", "-o", "json")
	var nads []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &nads) != nil || len(nads) != 2 {
		t.Errorf("nads json: code %d\n%s", code, out)
	}
	out, _, code = run(t, t.TempDir(), "render", "networks")
	if code != 0 || !strings.Contains(out, "external-net") || strings.Contains(out, "parent") {
		t.Errorf("networks: code %d\n%s", code, out)
	}
}

func TestDiagramFormats(t *testing.T) {
	out, _, code := run(t, t.TempDir(), "diagram", "--format", "mermaid")
	if code != 0 || !strings.HasPrefix(out, "flowchart") {
		t.Errorf("mermaid: code %d\n%s", code, out)
	}
	out, _, code = run(t, t.TempDir(), "diagram")
	if code != 0 || !strings.Contains(out, "198.19.19.100") {
		t.Errorf("text: code %d\n%s", code, out)
	}
	if _, _, code := run(t, t.TempDir(), "diagram", "--format", "svg"); code != ExitUsage {
		t.Errorf("--format svg: code %d, want %d", code, ExitUsage)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"validate", "-o", "xml"},
		{"validate", "--no-such-flag"},
		{"validate", "--topology", "prod"},
	} {
		if _, errOut, code := run(t, t.TempDir(), args...); code != ExitUsage {
			t.Errorf("%v: code %d, want %d (%s)", args, code, ExitUsage, errOut)
		}
	}
}

func TestTopologyFlagConflictsWithFileBase(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "s.yaml", "base: seed-example\n")
	if _, errOut, code := run(t, dir, "validate", "-f", path, "--topology", "default"); code != ExitUsage || !strings.Contains(errOut, "conflicts") {
		t.Errorf("code %d stderr %q", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	out, _, code := run(t, t.TempDir(), "version", "-o", "json")
	var info map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil || info["version"] == "" || info["goVersion"] == "" {
		t.Errorf("code %d\n%s", code, out)
	}
}
