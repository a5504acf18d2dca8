package netns

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunDirIsOnlyEverOurs: Down (as root, with any --run-dir) removes a
// run dir only when spklab marked it for this lab; a directory it did not
// make is refused and left whole, and so is another lab's.
func TestRunDirIsOnlyEverOurs(t *testing.T) {
	topo := renamed(t, "default", randomCluster(t))
	open := func(dir string) *Lab {
		l, err := New(topo, Options{RunDir: dir, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	ctx := context.Background()

	precious := t.TempDir()
	if err := os.WriteFile(filepath.Join(precious, "notes.txt"), []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := open(precious).Down(ctx)
	if err == nil || !strings.Contains(err.Error(), "not made by spklab") {
		t.Fatalf("Down on a foreign directory: err = %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(precious, "notes.txt")); err != nil {
		t.Fatalf("Down removed what it did not make: %v", err)
	}
	if err := open(precious).claimRunDir(); err == nil {
		t.Fatal("Up would write into a foreign, non-empty directory")
	}

	ours := filepath.Join(t.TempDir(), "run")
	l := open(ours)
	if err := l.claimRunDir(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ours, "tmm0.log"), []byte("log"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := renamed(t, "default", randomCluster(t))
	lo, err := New(other, Options{RunDir: ours, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := lo.Down(ctx); err == nil || !strings.Contains(err.Error(), "belongs to lab") {
		t.Fatalf("another lab's Down on this lab's run dir: err = %v, want a refusal", err)
	}
	if err := l.Down(ctx); err != nil {
		t.Fatalf("Down of the lab's own run dir: %v", err)
	}
	if _, err := os.Stat(ours); !os.IsNotExist(err) {
		t.Fatalf("the lab's run dir is still there: %v", err)
	}
	if err := l.Down(ctx); err != nil {
		t.Fatalf("Down of a lab already gone: %v", err)
	}
}
