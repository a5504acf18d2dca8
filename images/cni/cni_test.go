package cni

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spklab/spklab/images"
	cnimanifests "github.com/spklab/spklab/manifests/cni"
)

// TestManifestImagesAreBuilt: every image the CNI manifests run is one
// this package builds (or pause, which the node image carries).
func TestManifestImagesAreBuilt(t *testing.T) {
	refs := map[string]bool{"registry.k8s.io/pause:3.10": true}
	for _, img := range Images(Options{}) {
		refs[img.Ref] = true
	}
	for _, m := range cnimanifests.Manifests() {
		for _, line := range strings.Split(string(m.YAML), "\n") {
			ref, ok := strings.CutPrefix(strings.TrimSpace(line), "image: ")
			if !ok {
				continue
			}
			if !refs[strings.Trim(ref, `"`)] {
				t.Errorf("%s runs %s, which no offline build makes", m.Name, ref)
			}
		}
	}
}

func TestCatalogNeedsResolve(t *testing.T) {
	imgs := Images(Options{})
	names := map[string]bool{DebianImage: true}
	for _, img := range imgs {
		if names[img.Name] {
			t.Fatalf("%s listed twice", img.Name)
		}
		names[img.Name] = true
	}
	// Order fails on unknown or cyclic needs; debian stands in for spkimages'.
	debian := images.Image{Name: DebianImage, Ref: "spklab/debian:test",
		Inputs: func(context.Context) (string, error) { return "debian", nil },
		Build:  func(context.Context, *images.Builder) error { return nil }}
	all := append([]images.Image{debian}, imgs...)
	ordered, err := images.Order(all, nil)
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, img := range ordered {
		pos[img.Name] = i
	}
	if pos[NamePlugins] > pos[NameCalicoCNI] {
		t.Errorf("calico-cni (which copies the plugins in) ordered before cni-plugins: %v", images.Names(ordered))
	}
}

// TestWrapperWrite: the embedded wrapper becomes a module directory
// (.txt dropped, the local httpmachinery module Calico's replace names
// included), and its hash follows its inputs.
func TestWrapperWrite(t *testing.T) {
	dir := t.TempDir()
	if err := calicoNodeWrapper.write(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"go.mod", "go.sum", "httpmachinery/go.mod"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("wrapper lacks %s: %v", f, err)
		}
	}
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"github.com/projectcalico/calico v0.0.0-20250529224300-393b14e729a6", "=> ./httpmachinery"} {
		if !strings.Contains(string(mod), want) {
			t.Errorf("wrapper go.mod lacks %q", want)
		}
	}

	sum := func(w wrapper) string {
		h := images.NewHash("test")
		if err := w.hash(h); err != nil {
			t.Fatal(err)
		}
		s, err := h.Sum()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := sum(calicoNodeWrapper)
	if sum(calicoNodeWrapper) != base {
		t.Fatal("hash is not stable")
	}
	changed := calicoNodeWrapper
	changed.binaries = append([]binary(nil), calicoNodeWrapper.binaries...)
	changed.binaries[0].ldflags += " -s"
	if sum(changed) == base {
		t.Error("hash ignores ldflags")
	}
	if sum(calicoCNIWrapper) == base {
		t.Error("two wrappers of one module with different binaries hash alike")
	}
}

func TestCalicoNodeBuildsWithCgo(t *testing.T) {
	for _, b := range calicoNodeWrapper.binaries {
		if !b.cgo {
			t.Errorf("%s built without cgo: calico-node panics at start without libbpf", b.name)
		}
	}
	if !strings.Contains(strings.Join(calicoNodeWrapper.env, " "), "GONOSUMDB=github.com/projectcalico") {
		t.Error("calico builds without GONOSUMDB for projectcalico")
	}
}
