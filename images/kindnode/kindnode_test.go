package kindnode

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spklab/spklab/images"
)

func TestPatchContainerdConfig(t *testing.T) {
	in := "[plugins.cri]\n  restrict_oom_score_adj = false\n  sandbox_image = \"registry.k8s.io/pause:3.10\"\n"
	out, err := patchContainerdConfig([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "restrict_oom_score_adj = true") || strings.Contains(string(out), "= false") {
		t.Fatalf("patched config:\n%s", out)
	}
	// A kind whose config no longer says it must fail loudly, not build a
	// node whose pods cannot start.
	for _, bad := range []string{"[plugins.cri]\n", "restrict_oom_score_adj = false\nrestrict_oom_score_adj = false\n"} {
		if _, err := patchContainerdConfig([]byte(bad)); err == nil {
			t.Errorf("patching %q: no error", bad)
		}
	}
}

// TestKindBaseFiles reads kind's base-image files from the module cache:
// the contract files are there with kind's modes, and containerd's config
// is ours.
func TestKindBaseFiles(t *testing.T) {
	files, err := kindBaseFiles(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]os.FileMode{}
	var config string
	for _, f := range files {
		byName[f.Name] = f.Mode
		if f.Name == "files/etc/containerd/config.toml" {
			config = string(f.Data)
		}
	}
	for name, mode := range map[string]os.FileMode{
		"files/usr/local/bin/entrypoint":                             0o755,
		"files/kind/bin/mount-product-files.sh":                      0o755,
		"files/etc/systemd/system/kubelet.service":                   0o644,
		"files/etc/systemd/system/containerd.service":                0o644,
		"files/etc/systemd/system/kubelet.service.d/10-kubeadm.conf": 0o644,
		"files/etc/containerd/config.toml":                           0o644,
	} {
		got, ok := byName[name]
		if !ok {
			t.Errorf("kind's files lack %s", name)
		} else if got != mode {
			t.Errorf("%s mode %v, want %v", name, got, mode)
		}
	}
	if !strings.Contains(config, "restrict_oom_score_adj = true") || !strings.Contains(config, `sandbox_image = "`+RefPause+`"`) {
		t.Errorf("containerd config does not restrict oom_score_adj or names another pause than %s:\n%s", RefPause, config)
	}
	for n := range byName {
		if strings.HasPrefix(n, "files/LICENSES/") {
			t.Errorf("%s copied into the image", n)
		}
	}
}

// TestCatalog: names are unique, every Need resolves (the Debian base
// comes from spkimages), the node needs every image it preloads, and the
// refs are what kubeadm v1.32.0 and kind ask for.
func TestCatalog(t *testing.T) {
	imgs := Images(Options{})
	byName := map[string]images.Image{}
	for _, img := range imgs {
		if _, dup := byName[img.Name]; dup {
			t.Fatalf("%s listed twice", img.Name)
		}
		byName[img.Name] = img
		if img.Inputs == nil || img.Build == nil || img.Purpose == "" {
			t.Errorf("%s lacks Inputs, Build or Purpose", img.Name)
		}
	}
	for _, img := range imgs {
		for _, n := range img.Needs {
			if _, ok := byName[n]; !ok && n != DebianImage {
				t.Errorf("%s needs unknown %s", img.Name, n)
			}
		}
	}
	node := byName[NameNode]
	if node.Ref != "kindest/node:v1.32.0" {
		t.Errorf("node ref %s", node.Ref)
	}
	for _, want := range []string{NameBase, NamePause, NameEtcd, NameCoreDNS, "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"} {
		if !strings.Contains(" "+strings.Join(node.Needs, " ")+" ", " "+want+" ") {
			t.Errorf("kind-node does not need %s", want)
		}
	}
	for name, ref := range map[string]string{
		NamePause: "registry.k8s.io/pause:3.10", NameEtcd: "registry.k8s.io/etcd:3.5.16-0",
		NameCoreDNS: "registry.k8s.io/coredns/coredns:v1.11.3", "kube-apiserver": "registry.k8s.io/kube-apiserver:v1.32.0",
		"kube-proxy": "registry.k8s.io/kube-proxy:v1.32.0",
	} {
		if byName[name].Ref != ref {
			t.Errorf("%s ref %q, want %q", name, byName[name].Ref, ref)
		}
	}
}

// TestPauseBinary builds the sandbox program and checks it waits for a
// signal and exits cleanly on SIGTERM.
func TestPauseBinary(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := writeEmbedded(pauseSource, "pause", src); err != nil {
		t.Fatal(err)
	}
	bin, err := images.RunGoBuild(t.Context(), images.GoBuild{
		Package: ".", Dir: src, Out: filepath.Join(t.TempDir(), "pause"), Env: []string{"GOWORK=off", "GOFLAGS=-mod=mod"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-v").Output(); err != nil || !strings.Contains(string(out), "3.10") {
		t.Fatalf("pause -v: %q, %v", out, err)
	}
	cmd := exec.Command(bin)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("pause exited by itself: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("pause on SIGTERM: %v", err)
		}
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("pause ignored SIGTERM")
	}
}

func TestIptablesSelectPicksTheBackendWithRules(t *testing.T) {
	dir := t.TempDir()
	// Fake tools: legacy holds two rules, nft one; the chosen backend's
	// command prints its own name and arguments.
	fake := map[string]string{
		"iptables-legacy-save":  "printf -- '-A X\\n-A Y\\n'",
		"ip6tables-legacy-save": "true",
		"iptables-nft-save":     "printf -- '-A Z\\n'",
		"ip6tables-nft-save":    "true",
	}
	for n, body := range fake {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := strings.ReplaceAll(iptablesSelect, "/run/iptables-mode", filepath.Join(dir, "mode"))
	script = strings.ReplaceAll(script, `exec "/usr/sbin/`, `echo "`)
	link := filepath.Join(dir, "iptables-restore")
	if err := os.WriteFile(link, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(link, "-w")
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "iptables-legacy-restore -w" {
		t.Fatalf("ran %q, want iptables-legacy-restore -w", got)
	}
	if mode, _ := os.ReadFile(filepath.Join(dir, "mode")); strings.TrimSpace(string(mode)) != "legacy" {
		t.Fatalf("remembered mode %q", mode)
	}
}
