package doctor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"github.com/spklab/spklab/host/docker"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spklab/spklab/host/doctor/daemonconf"
	"github.com/spklab/spklab/host/doctor/runcwrap"
	"github.com/spklab/spklab/internal/testenv"
)

// requireDocker returns facts about the local dockerd, skipping (failing in
// CI, which starts dockerd) when none answers.
func requireDocker(t *testing.T) (*docker.Client, docker.DaemonInfo) {
	t.Helper()
	testenv.RequireRoot(t)
	d, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	f, err := daemonFacts(context.Background(), d)
	if err != nil {
		if testenv.InCI() {
			t.Fatalf("needs a running dockerd (CI starts one): %v", err)
		}
		t.Skipf("needs a running dockerd: %v", err)
	}
	return d, f
}

func buildWrapperBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), runcwrap.WrapperName)
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/spklab/spklab/cmd/spklab-runc").CombinedOutput(); err != nil {
		t.Fatalf("building spklab-runc: %v\n%s", err, out)
	}
	return bin
}

// fileState is a file's content and modification time (absent: nil).
type fileState struct {
	data  []byte
	mtime time.Time
}

func stateOf(t *testing.T, path string) *fileState {
	t.Helper()
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return &fileState{data, st.ModTime()}
}

// TestPrivilegedFixIsIdempotentAndUndoable runs the privileged check on
// this host's real dockerd: it fails for the machine's missing capability
// (where one is missing), --fix installs the wrapper and the check passes,
// a second --fix changes nothing, docker run --privileged prints the
// probe's line, and the undo restores the original daemon.json byte for
// byte. The wrapper is installed again at the end: other tests need
// privileged containers.
func TestPrivilegedFixIsIdempotentAndUndoable(t *testing.T) {
	_, facts := requireDocker(t)
	dockerCLI := testenv.RequireTool(t, "docker", "docker.io")
	wrapper := buildWrapperBinary(t)
	d, err := findDockerd()
	if err != nil {
		t.Fatal(err)
	}
	daemonJSON := d.ConfigFile
	ctx := context.Background()
	cfg := Config{WrapperBinary: wrapper, Only: []string{CheckPrivileged}, Logger: nil}

	// Start from dockerd's own runc, whatever earlier runs left.
	if did, err := UndoRuncWrapper(ctx, cfg); err != nil {
		t.Fatalf("undo before the test: %v (%v)", err, did)
	}
	pristine := stateOf(t, daemonJSON)
	t.Cleanup(func() {
		// Put back what was there, then leave the wrapper installed.
		if _, err := UndoRuncWrapper(ctx, cfg); err != nil {
			t.Errorf("cleanup undo: %v", err)
		}
		if pristine == nil {
			os.Remove(daemonJSON)
		} else if err := os.WriteFile(daemonJSON, pristine.data, 0o644); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		os.Remove(daemonJSON + BackupSuffix)
		if changes, err := InstallRuncWrapper(ctx, cfg); err != nil {
			t.Errorf("cleanup: reinstalling the wrapper: %v (%v)", err, changes)
		}
	})
	// A daemon.json with a setting of its own (the value dockerd already
	// runs with) and unusual formatting, so that merge and restore show.
	original := []byte("{\n\t\"log-level\":   \"info\"\n}\n")
	if pristine != nil {
		original = pristine.data
	}
	if err := os.MkdirAll(filepath.Dir(daemonJSON), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(daemonJSON, original, 0o644); err != nil {
		t.Fatal(err)
	}

	gap, err := readCapGap()
	if err != nil {
		t.Fatal(err)
	}
	affected := len(gap.Missing) > 0 && dockerMajor(facts.ServerVersion) < FixedIn
	t.Logf("Docker %s, dockerd bounding set %s, missing %v: privileged containers should fail without the wrapper: %v",
		facts.ServerVersion, gap.Bounding, gap.Missing, affected)

	start := time.Now()
	before, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := before.Result(CheckPrivileged)
	t.Logf("before the fix (%v): %s: %s", time.Since(start).Round(time.Millisecond), r.Status, r.Finding)
	if affected {
		if r.Status != StatusFail || !r.Blocking || !strings.Contains(r.Finding, "unable to apply caps") ||
			!strings.Contains(r.Explanation, "moby#42906") || !strings.Contains(r.Explanation, gap.Missing[0]) ||
			!strings.Contains(r.Fix, "--fix") {
			t.Fatalf("privileged before the fix: %+v", r)
		}
	} else if r.Status != StatusOK {
		t.Fatalf("this host grants every capability, yet: %+v", r)
	}

	start = time.Now()
	fixCfg := cfg
	fixCfg.Fix = true
	fixed, err := Run(ctx, fixCfg)
	if err != nil {
		t.Fatal(err)
	}
	r, _ = fixed.Result(CheckPrivileged)
	t.Logf("--fix (%v): %s: %s; %s", time.Since(start).Round(time.Millisecond), r.Status, r.Finding, r.Fix)
	if affected && (r.Status != StatusFixed || !strings.Contains(r.Fix, "SIGHUP") || !strings.Contains(r.Finding, runcwrap.ProbeGreeting)) {
		t.Fatalf("after --fix: %+v", r)
	}
	if !affected {
		// Nothing to fix: install anyway, as the rest of the test needs it.
		if _, err := InstallRuncWrapper(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	installed := stateOf(t, daemonJSON)
	conf, err := daemonconf.Parse(installed.data)
	if err != nil {
		t.Fatal(err)
	}
	origConf, _ := daemonconf.Parse(original)
	want, _, _ := origConf.WithRuntime(WrapperRuntime, filepath.Join(InstallDir, runcwrap.WrapperName))
	if !conf.Equal(want) {
		t.Errorf("daemon.json after --fix:\n%s\nwant %s", installed.data, want.Bytes())
	}
	if backup := stateOf(t, daemonJSON+BackupSuffix); backup == nil || string(backup.data) != string(original) {
		t.Errorf("backup %v, want the original", backup)
	}
	dk, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	defer dk.Close()
	now, err := daemonFacts(ctx, dk)
	if err != nil || now.DefaultRuntime != WrapperRuntime || now.Runtimes[WrapperRuntime] != filepath.Join(InstallDir, runcwrap.WrapperName) {
		t.Fatalf("dockerd after --fix: %+v %v", now, err)
	}

	// What a student types.
	start = time.Now()
	out, err := exec.Command(dockerCLI, "run", "--rm", "--privileged", "--network", "none", ProbeImage).CombinedOutput()
	t.Logf("docker run --privileged %s (%v): %s", ProbeImage, time.Since(start).Round(time.Millisecond), strings.TrimSpace(string(out)))
	if err != nil || !strings.HasPrefix(string(out), runcwrap.ProbeGreeting) {
		t.Fatalf("docker run --privileged: %v\n%s", err, out)
	}

	// docker exec goes through the wrapper's --process path.
	cid, err := exec.Command(dockerCLI, "run", "-d", "--privileged", "--network", "none", ProbeImage, "/"+runcwrap.ProbeName, runcwrap.ProbeSleep).Output()
	if err != nil {
		t.Fatalf("docker run -d --privileged: %v", err)
	}
	id := strings.TrimSpace(string(cid))
	defer exec.Command(dockerCLI, "rm", "-f", id).Run()
	for _, priv := range []string{"--privileged=false", "--privileged"} {
		start = time.Now()
		out, err := exec.Command(dockerCLI, "exec", priv, id, "/"+runcwrap.ProbeName).CombinedOutput()
		t.Logf("docker exec %s (%v): %s", priv, time.Since(start).Round(time.Millisecond), strings.TrimSpace(string(out)))
		if err != nil || !strings.HasPrefix(string(out), runcwrap.ProbeGreeting) {
			t.Errorf("docker exec %s into a privileged container: %v\n%s", priv, err, out)
		}
	}

	// Twice: nothing changes.
	wrapperState := stateOf(t, filepath.Join(InstallDir, runcwrap.WrapperName))
	again, err := Run(ctx, fixCfg)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := again.Result(CheckPrivileged); r.Status != StatusOK {
		t.Errorf("second --fix run: %+v", r)
	}
	if changes, err := InstallRuncWrapper(ctx, cfg); err != nil || len(changes) != 0 {
		t.Errorf("installing again changed %v, %v", changes, err)
	}
	if s := stateOf(t, daemonJSON); string(s.data) != string(installed.data) || !s.mtime.Equal(installed.mtime) {
		t.Error("daemon.json was rewritten by the second run")
	}
	if s := stateOf(t, filepath.Join(InstallDir, runcwrap.WrapperName)); !s.mtime.Equal(wrapperState.mtime) {
		t.Error("the wrapper was copied again by the second run")
	}

	// Undo: dockerd back on runc, the original file byte for byte.
	start = time.Now()
	did, err := UndoRuncWrapper(ctx, cfg)
	t.Logf("undo (%v): %s", time.Since(start).Round(time.Millisecond), strings.Join(did, "; "))
	if err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, daemonJSON); s == nil || string(s.data) != string(original) {
		t.Errorf("daemon.json after undo: %v, want %q", s, original)
	}
	if stateOf(t, daemonJSON+BackupSuffix) != nil {
		t.Error("backup left after an exact restore")
	}
	if now, err := daemonFacts(ctx, dk); err != nil || now.DefaultRuntime != daemonconf.StockRuntime {
		t.Errorf("dockerd after undo: default runtime %q, %v", now.DefaultRuntime, err)
	}
	if affected {
		undone, err := Run(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := undone.Result(CheckPrivileged); r.Status != StatusFail {
			t.Errorf("after undo the check should fail again: %+v", r)
		}
	}
	if did, err := UndoRuncWrapper(ctx, cfg); err != nil || len(did) != 1 || !strings.Contains(did[0], "nothing to undo") {
		t.Errorf("second undo: %v %v", did, err)
	}
}

// TestSubnetClashWithADockerNetwork creates a docker bridge network on the
// lab's client-net subnet (no parent NIC, and no address on the bridge:
// inhibit_ipv4 keeps the lab subnet out of the root namespace) and expects
// the subnets check to name both sides and block.
func TestSubnetClashWithADockerNetwork(t *testing.T) {
	d, _ := requireDocker(t)
	ctx := context.Background()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := "spkt-doctor-clash-" + hex.EncodeToString(b)
	created, err := d.NetworkCreate(ctx, docker.NetworkSpec{
		Name:    name,
		Options: map[string]string{"com.docker.network.bridge.inhibit_ipv4": "true"},
		Subnet:  netip.MustParsePrefix("198.51.100.0/24"),
		Labels:  map[string]string{labelDoctor: "test"},
	})
	if err != nil {
		t.Fatalf("creating %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := d.NetworkRemove(context.Background(), created); err != nil {
			t.Errorf("removing %s: %v", name, err)
		}
	})
	start := time.Now()
	rep, err := Run(ctx, Config{Only: []string{CheckSubnets}})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := rep.Result(CheckSubnets)
	t.Logf("subnets (%v): %s: %s", time.Since(start).Round(time.Millisecond), r.Status, r.Finding)
	want := "client-net (bridge docker network infra_client-net) 198.51.100.0/24 overlaps docker network " + name + " (198.51.100.0/24) (blocks)"
	if r.Status != StatusFail || !r.Blocking || !strings.Contains(r.Finding, want) || !strings.Contains(r.Explanation, "docker network rm "+name) {
		t.Errorf("subnets with %s present: %+v", name, r)
	}
	if err := d.NetworkRemove(ctx, created); err != nil {
		t.Fatal(err)
	}
	rep, err = Run(ctx, Config{Only: []string{CheckSubnets}})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := rep.Result(CheckSubnets); strings.Contains(r.Finding, name) || r.Blocking {
		t.Errorf("after removing %s: %+v", name, r)
	}
}
