package images

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Hash accumulates the inputs of an image build. Every value is written
// with its kind and length, so ("ab","c") and ("a","bc") hash differently.
// The zero value is not usable: call NewHash.
type Hash struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	err error
}

// NewHash starts a hash for a recipe; bump recipe's version suffix when a
// build changes in a way its other inputs do not show.
func NewHash(recipe string) *Hash {
	h := &Hash{h: sha256.New()}
	return h.String("recipe", recipe)
}

func (h *Hash) field(kind string, b []byte) {
	var n [8]byte
	for _, part := range [][]byte{[]byte(kind), b} {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.h.Write(n[:])
		h.h.Write(part)
	}
}

// String adds a named string (a Dockerfile, a package list, a flag).
func (h *Hash) String(name, value string) *Hash {
	h.field("s:"+name, []byte(value))
	return h
}

// Strings adds a named list, in order.
func (h *Hash) Strings(name string, values ...string) *Hash {
	h.field("l:"+name, fmt.Appendf(nil, "%d", len(values)))
	for _, v := range values {
		h.field("e", []byte(v))
	}
	return h
}

// Bytes adds named bytes.
func (h *Hash) Bytes(name string, b []byte) *Hash {
	h.field("b:"+name, b)
	return h
}

// File adds a file's contents (not its name, time or mode), so a rebuilt
// but identical binary changes nothing.
func (h *Hash) File(path string) *Hash {
	sum, err := fileSum(path)
	if err != nil {
		h.fail(err)
		return h
	}
	h.field("f", sum)
	return h
}

// Dir adds every regular file under dir: its slash path relative to dir,
// its executable bit and its contents, in path order.
func (h *Hash) Dir(dir string) *Hash {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		h.fail(fmt.Errorf("hashing directory %s: %w", dir, err))
		return h
	}
	sort.Strings(paths)
	h.field("d", fmt.Appendf(nil, "%d", len(paths)))
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		st, err := os.Stat(p)
		if err != nil {
			h.fail(fmt.Errorf("hashing %s: %w", p, err))
			return h
		}
		sum, err := fileSum(p)
		if err != nil {
			h.fail(err)
			return h
		}
		h.field("p", []byte(filepath.ToSlash(rel)))
		h.field("x", fmt.Appendf(nil, "%v", st.Mode()&0o111 != 0))
		h.field("c", sum)
	}
	return h
}

// Module adds a Go module's path and version as the main module in dir
// requires it (go.mod's choice, replacements included), e.g.
// "sigs.k8s.io/kind".
func (h *Hash) Module(ctx context.Context, dir, path string) *Hash {
	v, err := ModuleVersion(ctx, dir, path)
	if err != nil {
		h.fail(err)
		return h
	}
	return h.String("module "+path, v)
}

// Sum returns the hex hash, or the first error met while adding inputs.
func (h *Hash) Sum() (string, error) {
	if h.err != nil {
		return "", h.err
	}
	return hex.EncodeToString(h.h.Sum(nil)), nil
}

func (h *Hash) fail(err error) {
	if h.err == nil {
		h.err = err
	}
}

func fileSum(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hashing %s: %w", path, err)
	}
	defer f.Close()
	s := sha256.New()
	if _, err := io.Copy(s, f); err != nil {
		return nil, fmt.Errorf("hashing %s: %w", path, err)
	}
	return s.Sum(nil), nil
}

// ModuleVersion returns the version of a module the main module in dir
// requires (`go list -m`), with its replacement if any.
func ModuleVersion(ctx context.Context, dir, path string) (string, error) {
	cmd := exec.CommandContext(ctx, goTool(), "list", "-m", "-f", "{{.Version}}{{with .Replace}} => {{.Path}} {{.Version}}{{end}}", path)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("version of module %s (go list -m in %s): %w: %s", path, orDot(dir), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
