// Package kubebin builds Kubernetes control-plane binaries (kube-apiserver,
// etcd, …) from their Go module sources and caches them, so tests and the
// lab need no download from anywhere but the Go module proxy.
//
// Each binary is built with plain `go build` inside a wrapper module (an
// embedded go.mod/go.sum pair, see wrappers/) that pins the upstream release;
// the result lands in <cache>/<name>-<version>-<hash>/<name>, where the hash
// covers the wrapper files and the build flags, so a changed input means a new
// directory and an unchanged one is never rebuilt. Builders are serialized per
// binary with flock, and a build becomes visible only by an atomic rename, so
// parallel `go test` packages can all call Ensure.
package kubebin

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// wrapperFiles holds one directory per wrapper module. The files are stored
// as *.txt because a real go.mod here would cut the directory out of our
// module (and out of go:embed).
//
//go:embed wrappers
var wrapperFiles embed.FS

// Options tune Ensure. The zero value is ready to use.
type Options struct {
	// CacheDir is the cache root; "" means DefaultCacheDir().
	CacheDir string
	// Log receives what is built and how long it took; nil means slog.Default().
	Log *slog.Logger
}

// DefaultCacheDir is os.UserCacheDir()/spklab/kubebin.
func DefaultCacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("locating the user cache directory: %w", err)
	}
	return filepath.Join(base, "spklab", "kubebin"), nil
}

// EnvtestNames are the binaries controller-runtime's envtest needs.
func EnvtestNames() []string { return []string{"kube-apiserver", "etcd"} }

// Names lists the binaries Ensure knows how to build, sorted.
func Names() []string {
	names := make([]string, 0, len(catalog()))
	for n := range catalog() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Ensure returns a directory holding the named binaries, building the ones
// missing from the cache first (minutes for a cold kube-apiserver). With one
// name the directory is that binary's cache entry; with several it is a
// directory of symlinks to their entries.
func Ensure(ctx context.Context, opts Options, names ...string) (string, error) {
	b, err := newBuilder(opts, catalog(), wrapperFiles)
	if err != nil {
		return "", err
	}
	return b.ensure(ctx, names)
}

// builder holds what Ensure works with, so tests can swap the catalog and
// the wrapper files for cheap fakes.
type builder struct {
	root     string
	log      *slog.Logger
	catalog  map[string]binary
	wrappers fs.FS
}

func newBuilder(opts Options, cat map[string]binary, wrappers fs.FS) (*builder, error) {
	root := opts.CacheDir
	if root == "" {
		var err error
		if root, err = DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("kubebin cache dir: %w", err)
	}
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	return &builder{root: root, log: log, catalog: cat, wrappers: wrappers}, nil
}

func (b *builder) ensure(ctx context.Context, names []string) (string, error) {
	if len(names) == 0 {
		return "", errors.New("kubebin: no binary named")
	}
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	var entries []string
	for _, n := range names {
		bin, ok := b.catalog[n]
		if !ok {
			return "", fmt.Errorf("kubebin: unknown binary %q (known: %s)", n, strings.Join(sortedKeys(b.catalog), ", "))
		}
		entry, err := b.ensureOne(ctx, bin)
		if err != nil {
			return "", err
		}
		entries = append(entries, entry)
	}
	if len(entries) == 1 {
		return filepath.Join(b.root, entries[0]), nil
	}
	return b.ensureSet(names, entries)
}

func sortedKeys(m map[string]binary) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
