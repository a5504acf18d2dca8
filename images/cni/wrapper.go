package cni

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spklab/spklab/images"
)

// wrapperFiles holds one directory per wrapper module: a go.mod requiring
// the upstream release at the version we build, its go.sum, and whatever
// local modules its replace directives name. Stored as *.txt because a
// real go.mod here would cut the directory out of our module.
//
//go:embed wrappers
var wrapperFiles embed.FS

// binary is one program built from a wrapper module.
type binary struct {
	name    string // output file name
	pkg     string // main package
	cgo     bool
	ldflags string
	env     []string // extra environment (CGO flags)
}

// wrapper is a module to build binaries in.
type wrapper struct {
	dir string // under wrappers/
	// env applies to every build in it (GONOSUMDB for modules the
	// checksum database does not know: only in the build's environment).
	env      []string
	binaries []binary
}

// baseEnv pins what changes the output and keeps builds off the network
// except for the module proxy: the wrapper's go.sum is authoritative.
func baseEnv() []string {
	return []string{"GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false", "GOOS=linux", "GOARCH=" + runtime.GOARCH}
}

// stripFlags drop the symbol table and DWARF: a third of each binary, and
// every node loads these images.
const stripFlags = "-s -w"

// hash adds everything that decides the wrapper's binaries.
func (w wrapper) hash(h *images.Hash) error {
	err := fs.WalkDir(wrapperFiles, path.Join("wrappers", w.dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := wrapperFiles.ReadFile(p)
		if err != nil {
			return err
		}
		h.Bytes(p, data)
		return nil
	})
	if err != nil {
		return fmt.Errorf("wrapper %s: %w", w.dir, err)
	}
	h.String("go", runtime.Version()).String("strip", stripFlags).Strings("env", append(baseEnv(), w.env...)...)
	for _, b := range w.binaries {
		h.Strings("binary", b.name, b.pkg, fmt.Sprint(b.cgo), b.ldflags).Strings("binary env", b.env...)
	}
	return nil
}

// write materializes the wrapper module in dir.
func (w wrapper) write(dir string) error {
	root := path.Join("wrappers", w.dir)
	return fs.WalkDir(wrapperFiles, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		dst := filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(rel, ".txt")))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := wrapperFiles.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
}

// build compiles every binary of the wrapper into out (through the Go
// module and build caches) and returns their paths by name.
func (w wrapper) build(ctx context.Context, b *images.Builder, out string) (map[string]string, error) {
	src := filepath.Join(b.Dir, "src-"+w.dir)
	if err := w.write(src); err != nil {
		return nil, fmt.Errorf("writing wrapper module %s: %w", w.dir, err)
	}
	paths := map[string]string{}
	for _, bin := range w.binaries {
		env := append(append(baseEnv(), w.env...), bin.env...)
		p, err := b.GoBuild(ctx, images.GoBuild{
			Package: bin.pkg, Dir: src, Out: filepath.Join(out, bin.name),
			CGO: bin.cgo, Ldflags: strings.TrimSpace(stripFlags + " " + bin.ldflags), Env: env,
		})
		if err != nil {
			return nil, err
		}
		paths[bin.name] = p
	}
	return paths, nil
}

// wrapperInputs is an Inputs func over a Dockerfile and wrappers.
func wrapperInputs(recipe, dockerfile string, ws ...wrapper) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		h := images.NewHash(recipe).String("dockerfile", dockerfile)
		for _, w := range ws {
			if err := w.hash(h); err != nil {
				return "", err
			}
		}
		return h.Sum()
	}
}
