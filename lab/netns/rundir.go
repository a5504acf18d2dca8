package netns

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// runDirMarker is the file that says a directory is a lab's run dir, made
// by spklab for one cluster: Down removes only such a directory (it runs
// as root, and --run-dir takes any path).
const runDirMarker = ".spklab-run-dir"

// claimRunDir creates the run dir, or checks that an existing one is this
// lab's (or empty), and marks it.
func (l *Lab) claimRunDir() error {
	dir := l.opts.RunDir
	if err := l.checkRunDir(); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	return writeIfChanged(filepath.Join(dir, runDirMarker), []byte(l.plan.cluster+"\n"))
}

// checkRunDir says why the run dir may not be used or removed by this lab:
// it exists, is not empty and is not marked as this lab's.
func (l *Lab) checkRunDir() error {
	dir := l.opts.RunDir
	mark, err := os.ReadFile(filepath.Join(dir, runDirMarker))
	switch {
	case err == nil && strings.TrimSpace(string(mark)) == l.plan.cluster:
		return nil
	case err == nil:
		return fmt.Errorf("run dir %s belongs to lab %q, not %q (its %s says so)", dir, strings.TrimSpace(string(mark)), l.plan.cluster, runDirMarker)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("run dir %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("run dir %s: %w", dir, err)
	case len(entries) > 0 && dir == filepath.Join(DefaultRunRoot, l.plan.cluster):
		return nil // spklab's own place for this lab (labs made before the marker)
	case len(entries) > 0:
		return fmt.Errorf("run dir %s exists, is not empty and was not made by spklab (no %s): choose another --run-dir", dir, runDirMarker)
	}
	return nil
}

// removeRunDir removes the run dir if it is this lab's; a missing one is
// fine, a foreign one is refused and left alone.
func (l *Lab) removeRunDir() error {
	if err := l.checkRunDir(); err != nil {
		return fmt.Errorf("not removing it: %w", err)
	}
	if err := os.RemoveAll(l.opts.RunDir); err != nil {
		return fmt.Errorf("removing %s: %w", l.opts.RunDir, err)
	}
	return nil
}
