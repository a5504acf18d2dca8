package testenv

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// kindLockPath is shared by every test package on the machine.
const kindLockPath = "/run/spklab-kind-tests.lock"

// LockKindClusters makes t the only test on the machine that runs a kind
// cluster until it ends: `go test ./...` runs packages in parallel, and two
// 4-node clusters at once on two cores turn bounded waits into timeouts.
// The wait is logged so a slow test says why.
func LockKindClusters(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(kindLockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("opening %s: %v", kindLockPath, err)
	}
	start := time.Now()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("locking %s: %v", kindLockPath, err)
	}
	if waited := time.Since(start); waited > time.Second {
		t.Logf("waited %s for another test's kind cluster to finish", waited.Round(time.Second))
	}
	// Cleanups run last-registered first: registered before the cluster's
	// own cleanup, this one runs after the cluster is gone.
	t.Cleanup(func() {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	})
}
