package cli

import (
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/spklab/spklab/internal/testenv"
	"github.com/spklab/spklab/topology"
)

func TestTestCommandFlagErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", "base: default\ncluster:\n  name: Not_Valid\n")
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"test", "--runtime", "docker"}, ExitUsage, "supported runtimes are kind, netns"},
		{[]string{"test", "--runtime", "netns", "--label-filter", "bgp &&"}, ExitUsage, "--label-filter"},
		{[]string{"test", "--runtime", "netns", "--label-filter", "(ingress"}, ExitUsage, "--label-filter"},
		{[]string{"test", "--runtime", "netns", "--no-such-flag"}, ExitUsage, "unknown flag"},
		{[]string{"test", "--runtime", "netns", "-f", bad}, ExitProblems, "cluster.name"},
	} {
		_, errOut, code := run(t, dir, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.says) {
			t.Errorf("%s: code %d, want %d saying %q; stderr %q", strings.Join(tc.args, " "), code, tc.code, tc.says, errOut)
		}
	}
}

// TestTestCommandNeedsARunningLab: the suites run against a lab that is
// up, and say so when it is not (nothing is built or run).
func TestTestCommandNeedsARunningLab(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	topo := topology.Default()
	topo.RenameCluster("spkn" + hex.EncodeToString(b))
	data, err := yaml.Marshal(topo)
	if err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, dir, "lab.yaml", string(data))
	out, errOut, code := run(t, dir, "test", "--runtime", "netns", "-f", file, "--run-dir", dir+"/run")
	if code != ExitProblems || !strings.Contains(errOut, "netns lab "+topo.Cluster.Name+" is not up") || out != "" {
		t.Errorf("code %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}

// TestKindCommandsOnAbsentLab: on a kind lab that does not exist, status
// and test say so, checkpoint says where to start, and down succeeds with
// nothing to remove. The lab's name is random: a real lab is never touched.
func TestKindCommandsOnAbsentLab(t *testing.T) {
	testenv.RequireRoot(t)
	if _, err := exec.LookPath("docker"); err != nil {
		if testenv.InCI() {
			t.Fatal("docker CLI missing")
		}
		t.Skip("no docker")
	}
	dir := t.TempDir()
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	topo := topology.Default()
	topo.RenameCluster("spka" + hex.EncodeToString(b))
	data, err := yaml.Marshal(topo)
	if err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, dir, "lab.yaml", string(data))
	kubeconfig := dir + "/kubeconfig"
	name := topo.Cluster.Name
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"test"}, ExitProblems, "kind lab " + name + " is not up: step cluster is not done"},
		{[]string{"status"}, ExitProblems, "kind lab " + name + " is not (fully) up"},
		{[]string{"checkpoint"}, ExitProblems, "no step of kind lab " + name + " is done yet"},
		{[]string{"checkpoint", "nosuchstep"}, ExitUsage, `no step "nosuchstep" (steps: cluster, cni,`},
		{[]string{"tenants", "apply"}, ExitProblems, "step cluster is not done"},
	} {
		args := append(tc.args, "-f", file, "--kubeconfig", kubeconfig)
		_, errOut, code := run(t, dir, args...)
		if code != tc.code || !strings.Contains(errOut, tc.says) {
			t.Errorf("%s: code %d, want %d saying %q; stderr %q", strings.Join(tc.args, " "), code, tc.code, tc.says, errOut)
		}
	}
	out, errOut, code := run(t, dir, "down", "-f", file, "--kubeconfig", kubeconfig)
	if code != 0 || !strings.Contains(out, "kind lab "+name+" is down") {
		t.Errorf("down: code %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}
