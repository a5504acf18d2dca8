package spkimages

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spklab/spklab/images"
)

// modulePath is this repository's module; our binaries are built from it.
const modulePath = "github.com/spklab/spklab"

// versionVar is the variable the Makefile stamps (LDFLAGS).
const versionVar = modulePath + "/internal/version.version"

// binaries builds our own commands once per catalog and remembers where:
// an image's Inputs needs the binary's hash, and its Build copies the same
// file.
type binaries struct {
	srcDir, binDir, version string

	mu    sync.Mutex
	built map[string]string // command name → path
}

// path returns the built binary for ./cmd/<name>, building it on first use
// (`go build -trimpath` with the Makefile's version ldflags; Go's build
// cache makes an unchanged tree cost only the link).
func (bs *binaries) path(ctx context.Context, name string) (string, error) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if p, ok := bs.built[name]; ok {
		return p, nil
	}
	src, err := bs.source()
	if err != nil {
		return "", err
	}
	version := bs.version
	if version == "" {
		version = gitVersion(ctx, src)
	}
	p, err := images.RunGoBuild(ctx, images.GoBuild{
		Package: "./cmd/" + name,
		Dir:     src,
		// One directory per source tree: two checkouts (a CI clone and a
		// working tree) must not overwrite each other's binaries between
		// hashing one and copying it into an image.
		Out: filepath.Join(bs.binDir, treeKey(src), name),
		// -s -w: no symbol tables or DWARF (a third of the size; stack
		// traces keep their function names and lines).
		Ldflags: "-s -w -X " + versionVar + "=" + version,
	}, nil)
	if err != nil {
		return "", err
	}
	if bs.built == nil {
		bs.built = map[string]string{}
	}
	bs.built[name] = p
	return p, nil
}

// treeKey names a source tree's binary directory.
func treeKey(src string) string {
	sum := sha256.Sum256([]byte(src))
	return hex.EncodeToString(sum[:6])
}

func (bs *binaries) source() (string, error) {
	if bs.srcDir != "" {
		return bs.srcDir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	dir, err := FindSource(wd)
	if err != nil {
		return "", err
	}
	bs.srcDir = dir
	return dir, nil
}

// FindSource returns the spklab source tree holding dir (the nearest
// parent whose go.mod declares module github.com/spklab/spklab): our own
// images are built from it.
func FindSource(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if isSpklabModule(filepath.Join(d, "go.mod")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("building spk-tmm, spk-controller and spk-node needs the spklab source tree: %s is not inside one (run from the repository, or set its path)", dir)
		}
	}
}

func isSpklabModule(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 2 && fields[0] == "module" {
			return fields[1] == modulePath
		}
	}
	return false
}

// gitVersion is the Makefile's VERSION: git describe --tags --always
// --dirty, or "dev" outside a git checkout.
func gitVersion(ctx context.Context, dir string) string {
	cmd := exec.CommandContext(ctx, "git", "describe", "--tags", "--always", "--dirty")
	cmd.Dir = dir
	out, err := cmd.Output()
	if v := strings.TrimSpace(string(out)); err == nil && v != "" {
		return v
	}
	return "dev"
}

// DefaultBinDir is where our image binaries are kept between runs:
// os.UserCacheDir()/spklab/images/bin.
func DefaultBinDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("locating the user cache directory: %w", err)
	}
	return filepath.Join(base, "spklab", "images", "bin"), nil
}
