package manifests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// The committed CRDs and deepcopy functions must be what controller-gen
// makes of the current types: generate both into temporary directories (the
// go:generate lines of this package and of spk, with another output) and
// compare. A failure means: run `go generate ./spk ./manifests`.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("runs controller-gen (seconds); not in -short")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to run controller-gen: %v", err)
	}
	genCRDs, genObjects := t.TempDir(), t.TempDir()
	for _, args := range [][]string{
		{"tool", "controller-gen", "crd", "paths=./manifests/crdgen/...", "output:crd:dir=" + genCRDs},
		{"tool", "controller-gen", "object", "paths=./spk", "output:object:dir=" + genObjects},
	} {
		cmd := exec.Command(goBin, args...)
		cmd.Dir = ".." // the module root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, out)
		}
	}
	compareDirs(t, genCRDs, filepath.FromSlash(crdDir))
	compareFiles(t, filepath.Join(genObjects, "zz_generated.deepcopy.go"), filepath.Join("..", "spk", "zz_generated.deepcopy.go"))
}

// compareDirs wants the same file names with the same contents.
func compareDirs(t *testing.T, generated, committed string) {
	t.Helper()
	names := func(dir string) []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	gen, com := names(generated), names(committed)
	if !slices.Equal(gen, com) {
		t.Errorf("controller-gen writes %v but %s holds %v; run go generate ./spk ./manifests", gen, committed, com)
	}
	for _, n := range gen {
		if slices.Contains(com, n) {
			compareFiles(t, filepath.Join(generated, n), filepath.Join(committed, n))
		}
	}
}

func compareFiles(t *testing.T, generated, committed string) {
	t.Helper()
	want, err := os.ReadFile(generated)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what controller-gen generates now; run go generate ./spk ./manifests", committed)
	}
}
