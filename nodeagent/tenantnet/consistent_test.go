package tenantnet

import (
	"errors"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestConsistentRetriesInterruptedDumps(t *testing.T) {
	calls := 0
	got, err := Consistent(func() (int, error) {
		calls++
		if calls < 3 {
			return -1, netlink.ErrDumpInterrupted
		}
		return 7, nil
	})
	if err != nil || got != 7 || calls != 3 {
		t.Errorf("got %d, %v after %d calls; want 7 after 3", got, err, calls)
	}
	other := errors.New("permission denied")
	calls = 0
	if _, err := Consistent(func() (int, error) { calls++; return 0, other }); !errors.Is(err, other) || calls != 1 {
		t.Errorf("another error: %v after %d calls, want it at once", err, calls)
	}
	calls = 0
	if _, err := Consistent(func() (int, error) { calls++; return 0, netlink.ErrDumpInterrupted }); !errors.Is(err, netlink.ErrDumpInterrupted) || calls != dumpTries {
		t.Errorf("always interrupted: %v after %d calls, want %d tries", err, calls, dumpTries)
	}
}
