package images

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/spklab/spklab/internal/testenv"
)

func TestUnescapeMount(t *testing.T) {
	if got := unescapeMount(`/tmp/a\040b\134c`); got != `/tmp/a b\c` {
		t.Errorf("%q", got)
	}
}

// An interrupted debootstrap leaves /proc and a bind-mounted /dev in its
// target: the scratch directory is removed only after they are detached,
// and what was mounted is untouched.
func TestRemoveScratchDetachesMounts(t *testing.T) {
	testenv.RequireRoot(t)
	host := t.TempDir()
	precious := filepath.Join(host, "device-node")
	os.WriteFile(precious, []byte("keep"), 0o644)

	scratch := t.TempDir()
	target := filepath.Join(scratch, "rootfs", "my dev")
	os.MkdirAll(target, 0o755)
	if err := unix.Mount(host, target, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(target, unix.MNT_DETACH) })
	inner := filepath.Join(target, "inner")
	os.MkdirAll(inner, 0o755)
	if err := unix.Mount("tmpfs", inner, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(inner, unix.MNT_DETACH) })

	mps, err := MountsUnder(scratch)
	if err != nil || !slices.Equal(mps, []string{inner, target}) {
		t.Fatalf("mounts %q %v", mps, err)
	}
	if err := removeScratch(scratch); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(scratch); !os.IsNotExist(err) {
		t.Errorf("scratch still there: %v", err)
	}
	if b, err := os.ReadFile(precious); err != nil || string(b) != "keep" {
		t.Errorf("the bind-mounted directory lost its contents: %q %v", b, err)
	}
}
