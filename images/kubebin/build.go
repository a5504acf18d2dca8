package kubebin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// buildFlags are the fixed `go build` flags; they are part of the cache hash.
func buildFlags() []string { return []string{"-trimpath"} }

// stripFlags leave out the symbol table and DWARF: linking kube-apiserver
// takes a third of the time and the binary is a third smaller; panics still
// name functions and lines.
const stripFlags = "-s -w"

// buildEnv pins what changes the output: no cgo (static binaries, no C
// toolchain needed), the wrapper's go.sum is authoritative (never edited,
// so a missing sum fails instead of reaching the network for it), no
// go.work from a parent directory, and this machine's platform.
func buildEnv() []string {
	return []string{
		"CGO_ENABLED=0",
		"GOFLAGS=-mod=readonly -buildvcs=false",
		"GOWORK=off",
		"GOOS=" + runtime.GOOS,
		"GOARCH=" + runtime.GOARCH,
	}
}

// entryName is the cache directory name of bin: name, version and a short
// hash of every input that changes the built file.
func (b *builder) entryName(bin binary) (string, error) {
	files, err := b.wrapperContents(bin.wrapper)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	field := func(s string) { fmt.Fprintf(h, "%d:%s\n", len(s), s) }
	field("kubebin/1")
	field(bin.pkg)
	for _, name := range sortedFileNames(files) {
		field(name)
		field(string(files[name]))
	}
	for _, f := range buildFlags() {
		field(f)
	}
	for _, e := range buildEnv() {
		field(e)
	}
	field(stripFlags)
	for _, s := range stampFlags(bin.stamps) {
		field(s)
	}
	for _, d := range bin.dateStamps {
		field("date:" + d)
	}
	return fmt.Sprintf("%s-%s-%s", bin.name, bin.version, hex.EncodeToString(h.Sum(nil))[:12]), nil
}

// wrapperContents reads a wrapper directory, keyed by the file name it gets
// in the build directory (".txt" dropped).
func (b *builder) wrapperContents(wrapper string) (map[string][]byte, error) {
	dir := path.Join("wrappers", wrapper)
	ents, err := fs.ReadDir(b.wrappers, dir)
	if err != nil {
		return nil, fmt.Errorf("kubebin: wrapper %q: %w", wrapper, err)
	}
	files := map[string][]byte{}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		data, err := fs.ReadFile(b.wrappers, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("kubebin: wrapper %q: %w", wrapper, err)
		}
		files[strings.TrimSuffix(e.Name(), ".txt")] = data
	}
	if _, ok := files["go.mod"]; !ok {
		return nil, fmt.Errorf("kubebin: wrapper %q has no go.mod.txt", wrapper)
	}
	return files, nil
}

func sortedFileNames(files map[string][]byte) []string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func stampFlags(stamps map[string]string) []string {
	keys := make([]string, 0, len(stamps))
	for k := range stamps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, stampFlag(k, stamps[k]))
	}
	return out
}

// stampFlag is one -X setting, quoted the way the linker's flag splitter
// understands (no escapes: the quote must not occur inside).
func stampFlag(variable, value string) string {
	q := "'"
	if strings.Contains(value, q) {
		q = `"`
	}
	return "-X " + q + variable + "=" + value + q
}

// ensureOne returns the cache entry name of bin, building it if missing.
func (b *builder) ensureOne(ctx context.Context, bin binary) (string, error) {
	entry, err := b.entryName(bin)
	if err != nil {
		return "", err
	}
	final := filepath.Join(b.root, entry)
	if isExecutable(filepath.Join(final, bin.name)) {
		b.log.Debug("kubebin: cached", "binary", bin.name, "dir", final)
		return entry, nil
	}
	if err := os.MkdirAll(b.root, 0o755); err != nil {
		return "", fmt.Errorf("kubebin: creating cache dir: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(b.root, entry+".lock"), func() {
		b.log.Info("kubebin: waiting for another process building it", "binary", bin.name, "entry", entry)
	})
	if err != nil {
		return "", err
	}
	defer unlock()
	// Whoever held the lock before us may have built it.
	if isExecutable(filepath.Join(final, bin.name)) {
		b.log.Info("kubebin: built by another process", "binary", bin.name, "dir", final)
		return entry, nil
	}
	if err := b.build(ctx, bin, entry); err != nil {
		return "", err
	}
	return entry, nil
}

// build compiles bin into a temporary directory next to its cache entry and
// renames it into place; the caller holds the entry's lock.
func (b *builder) build(ctx context.Context, bin binary, entry string) error {
	// Leftovers of builders that died mid-build (we hold the lock, so none is running).
	if stale, _ := filepath.Glob(filepath.Join(b.root, ".build-"+entry+"-*")); len(stale) > 0 {
		for _, s := range stale {
			_ = os.RemoveAll(s)
		}
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("kubebin: building %s needs the go command (Go 1.24 or newer) in PATH: %w", bin.name, err)
	}
	files, err := b.wrapperContents(bin.wrapper)
	if err != nil {
		return err
	}
	src, err := os.MkdirTemp("", "kubebin-src-")
	if err != nil {
		return fmt.Errorf("kubebin: %w", err)
	}
	defer os.RemoveAll(src)
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(src, name), data, 0o644); err != nil {
			return fmt.Errorf("kubebin: writing wrapper module: %w", err)
		}
	}
	out, err := os.MkdirTemp(b.root, ".build-"+entry+"-")
	if err != nil {
		return fmt.Errorf("kubebin: %w", err)
	}
	done := false
	defer func() {
		if !done {
			_ = os.RemoveAll(out)
		}
	}()

	stamps := append([]string{stripFlags}, stampFlags(bin.stamps)...)
	now := time.Now().UTC().Format(time.RFC3339)
	for _, d := range bin.dateStamps {
		stamps = append(stamps, stampFlag(d, now))
	}
	args := append([]string{"build"}, buildFlags()...)
	args = append(args, "-ldflags", strings.Join(stamps, " "), "-o", filepath.Join(out, bin.name), bin.pkg)

	b.log.Info("kubebin: building from Go module sources (a cold build takes minutes; cached afterwards)",
		"binary", bin.name, "version", bin.version, "package", bin.pkg, "dir", filepath.Join(b.root, entry))
	start := time.Now()
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), buildEnv()...)
	if err := runWithTail(cmd); err != nil {
		return fmt.Errorf("kubebin: building %s %s: %w", bin.name, bin.version, err)
	}
	// MkdirTemp made it 0700; the cache is as readable as any other.
	if err := os.Chmod(out, 0o755); err != nil {
		return fmt.Errorf("kubebin: %w", err)
	}
	final := filepath.Join(b.root, entry)
	// An entry without its binary (removed by hand) is replaced; we hold the lock.
	if err := os.RemoveAll(final); err != nil {
		return fmt.Errorf("kubebin: removing the incomplete %s: %w", final, err)
	}
	if err := os.Rename(out, final); err != nil {
		return fmt.Errorf("kubebin: moving %s into the cache: %w", bin.name, err)
	}
	done = true
	size := int64(0)
	if fi, err := os.Stat(filepath.Join(final, bin.name)); err == nil {
		size = fi.Size()
	}
	b.log.Info("kubebin: built", "binary", bin.name, "version", bin.version,
		"took", time.Since(start).Round(100*time.Millisecond), "bytes", size, "dir", final)
	return nil
}

// ensureSet returns a directory of symlinks to the given cache entries (one
// per name), creating it atomically if missing.
func (b *builder) ensureSet(names, entries []string) (string, error) {
	h := sha256.New()
	for _, e := range entries {
		fmt.Fprintf(h, "%s\n", e)
	}
	dir := filepath.Join(b.root, "set-"+hex.EncodeToString(h.Sum(nil))[:12])
	if setComplete(dir, names) {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(b.root, ".set-")
	if err != nil {
		return "", fmt.Errorf("kubebin: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("kubebin: %w", err)
	}
	for i, n := range names {
		// Relative, so the cache directory can be moved as a whole.
		if err := os.Symlink(filepath.Join("..", entries[i], n), filepath.Join(tmp, n)); err != nil {
			_ = os.RemoveAll(tmp)
			return "", fmt.Errorf("kubebin: %w", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		// Another process may have made the same set meanwhile.
		if !setComplete(dir, names) {
			return "", fmt.Errorf("kubebin: creating %s: %w", dir, err)
		}
	}
	return dir, nil
}

func setComplete(dir string, names []string) bool {
	for _, n := range names {
		if !isExecutable(filepath.Join(dir, n)) {
			return false
		}
	}
	return true
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// runWithTail runs cmd; its error carries the last lines of the output.
func runWithTail(cmd *exec.Cmd) error {
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	err := cmd.Run()
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, tail(buf.String(), 40))
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"…"}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
