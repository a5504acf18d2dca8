// Package testenv holds what tests that touch the real kernel share: the
// root check (skip outside CI, fail inside it), tool lookup, and throwaway
// network namespaces that are always removed.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/vishvananda/netns"

	"github.com/spklab/spklab/internal/netnsdo"
)

// InCI reports whether the tests run in CI (CI=true), where nothing may skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// RequireRoot skips t with a printed reason when not root, and fails it in CI
// (CI runs as root, so a skip there would hide a test).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if InCI() {
		t.Fatal("needs root (network namespaces, raw sockets); CI runs as root")
	}
	t.Skip("needs root (network namespaces, raw sockets)")
}

// RequireTool returns the path of a program, skipping (or failing in CI)
// with the Debian package that provides it when it is missing.
func RequireTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("needs %s (Debian package %s)", name, debianPackage)
	if InCI() {
		t.Fatal(msg + "; .ci/run installs it")
	}
	t.Skip(msg)
	return ""
}

// Netns is a named network namespace made for one test.
type Netns struct {
	Name   string
	Handle netns.NsHandle
}

// NewNetns creates a named network namespace "spkt-<prefix>-<random>" (so
// `ip netns exec` works in it) and deletes it when the test ends. Requires
// root (call RequireRoot first).
func NewNetns(t testing.TB, prefix string) *Netns {
	t.Helper()
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "spkt-" + prefix + "-" + hex.EncodeToString(b)
	if len(name) > 64 {
		t.Fatalf("netns name %q too long", name)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatalf("current netns: %v", err)
	}
	defer orig.Close()
	h, err := netns.NewNamed(name)
	// NewNamed switches this thread into the new namespace: switch back.
	if serr := netns.Set(orig); serr != nil {
		t.Fatalf("returning to the original netns: %v", serr)
	}
	if err != nil {
		t.Fatalf("creating netns %s: %v", name, err)
	}
	ns := &Netns{Name: name, Handle: h}
	t.Cleanup(func() {
		h.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("deleting netns %s: %v", name, err)
		}
	})
	return ns
}

// Do runs fn on a locked OS thread inside the namespace and returns to the
// original namespace afterwards.
func (n *Netns) Do(fn func() error) error {
	return Do(n.Handle, fn)
}

// Do runs fn on a locked OS thread inside namespace h (netnsdo.Do).
func Do(h netns.NsHandle, fn func() error) error { return netnsdo.Do(h, fn) }

// BuildTMM builds spk-tmm into a temporary directory and returns its path,
// so a root test runs the real data plane as the lab does.
func BuildTMM(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "spk-tmm")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/spklab/spklab/cmd/spk-tmm").CombinedOutput(); err != nil {
		t.Fatalf("building spk-tmm: %v\n%s", err, out)
	}
	return bin
}
