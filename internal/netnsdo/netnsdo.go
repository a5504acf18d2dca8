// Package netnsdo runs a function inside another network namespace: the one
// way spklab's lab code and tests enter a namespace in-process (sockets
// made there stay there; the function must not start goroutines that
// expect to be inside).
package netnsdo

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// Do runs fn on a locked OS thread inside namespace h. If the thread cannot
// be returned to its namespace it stays locked, so Go retires it with the
// goroutine instead of reusing it elsewhere.
func Do(h netns.NsHandle, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("current netns: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(h); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("entering netns: %w", err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		return fmt.Errorf("returning to the original netns: %w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// Named runs fn inside the named namespace (ip netns add NAME).
func Named(name string, fn func() error) error {
	h, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("opening netns %s: %w", name, err)
	}
	defer h.Close()
	if err := Do(h, fn); err != nil {
		return fmt.Errorf("netns %s: %w", name, err)
	}
	return nil
}

// Path runs fn inside the namespace at path (/run/netns/NAME,
// /proc/PID/ns/net).
func Path(path string, fn func() error) error {
	h, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("opening netns %s: %w", path, err)
	}
	defer h.Close()
	if err := Do(h, fn); err != nil {
		return fmt.Errorf("netns %s: %w", path, err)
	}
	return nil
}
