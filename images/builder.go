package images

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spklab/spklab/host/docker"
)

// Builder is what an Image's Build gets: docker operations that tag the
// result with the image's Ref and labels, Go builds through the normal
// module and build caches, and a scratch directory removed afterwards.
type Builder struct {
	Docker *docker.Client
	Log    *slog.Logger
	// Image is the image being built; Inputs its full hash (own inputs and
	// needed images'), written to its io.spklab.inputs label.
	Image  Image
	Inputs string
	// Refs maps the catalog names of the needed images to their Refs, for
	// FROM lines.
	Refs map[string]string
	// Dir is a scratch directory for this build, removed when it ends.
	Dir string
	// Output receives build progress (docker build steps, go build output).
	Output io.Writer
}

// Labels are the labels the image must carry.
func (b *Builder) Labels() map[string]string {
	return map[string]string{LabelImage: b.Image.Name, LabelInputs: b.Inputs}
}

// Ref returns the Ref of a needed image by catalog name (for FROM lines).
func (b *Builder) Ref(name string) (string, error) {
	r, ok := b.Refs[name]
	if !ok {
		return "", fmt.Errorf("image %s: %s is not in its Needs", b.Image.Name, name)
	}
	return r, nil
}

// DockerBuild builds a Dockerfile with a context of files, tagged with the
// image's Ref and labels (extra labels are added too).
func (b *Builder) DockerBuild(ctx context.Context, dockerfile string, files []docker.File, extraLabels map[string]string) error {
	labels := b.Labels()
	maps.Copy(labels, extraLabels)
	labels[LabelImage], labels[LabelInputs] = b.Image.Name, b.Inputs
	_, err := b.Docker.Build(ctx, docker.BuildOptions{
		Dockerfile: dockerfile,
		Files:      files,
		Tags:       []string{b.Image.Ref},
		Labels:     labels,
		Output:     b.Output,
	})
	if err != nil {
		return fmt.Errorf("image %s: %w", b.Image.Name, err)
	}
	return nil
}

// Import makes the image from a root filesystem tarball, tagged with its
// Ref and labels; changes are further Dockerfile instructions (ENV, CMD…).
func (b *Builder) Import(ctx context.Context, rootfs io.Reader, changes ...string) error {
	all := append([]string{
		fmt.Sprintf("LABEL %s=%q %s=%q", LabelImage, b.Image.Name, LabelInputs, b.Inputs),
	}, changes...)
	if _, err := b.Docker.Import(ctx, rootfs, b.Image.Ref, all); err != nil {
		return fmt.Errorf("image %s: %w", b.Image.Name, err)
	}
	return nil
}

// Run runs a throwaway container and returns how it ended.
func (b *Builder) Run(ctx context.Context, spec docker.ContainerSpec) (docker.RunResult, error) {
	r, err := b.Docker.Run(ctx, spec)
	if err != nil {
		return r, fmt.Errorf("image %s: %w", b.Image.Name, err)
	}
	return r, nil
}

// GoBuild describes one `go build`.
type GoBuild struct {
	// Package is the import path (or ./relative path within Dir) to build.
	Package string
	// Dir is the module directory to build in (the main module, or a
	// wrapper module that requires what is built); "" is the current
	// directory.
	Dir string
	// Out is the output file; "" is the package's last element in b.Dir.
	Out string
	// CGO enables cgo (off otherwise, giving static binaries).
	CGO bool
	// Ldflags, Tags and Flags go to go build; -trimpath is always given.
	Ldflags string
	Tags    []string
	Flags   []string
	// Env is added to the environment (e.g. CGO_CFLAGS, GOFLAGS=-mod=mod).
	Env []string
}

// GoBuild builds a Go binary with the user's Go caches and returns its
// path. Go's build cache makes an unchanged rebuild cost only the link.
func (b *Builder) GoBuild(ctx context.Context, g GoBuild) (string, error) {
	if g.Out == "" {
		g.Out = filepath.Join(b.Dir, filepath.Base(strings.TrimSuffix(g.Package, "/")))
	}
	return RunGoBuild(ctx, g, b.Output)
}

// RunGoBuild is GoBuild outside a Builder (Inputs may need a binary's hash
// before any build starts). Go's own output goes to out and, on failure,
// into the error.
func RunGoBuild(ctx context.Context, g GoBuild, out io.Writer) (string, error) {
	if g.Out == "" {
		return "", fmt.Errorf("go build %s: no output path", g.Package)
	}
	if err := os.MkdirAll(filepath.Dir(g.Out), 0o755); err != nil {
		return "", fmt.Errorf("go build %s: %w", g.Package, err)
	}
	// Build next to the target and rename, so a reader never sees half a binary.
	tmp := fmt.Sprintf("%s.tmp%d", g.Out, os.Getpid())
	args := []string{"build", "-trimpath", "-o", tmp}
	if g.Ldflags != "" {
		args = append(args, "-ldflags", g.Ldflags)
	}
	if len(g.Tags) > 0 {
		args = append(args, "-tags", strings.Join(g.Tags, ","))
	}
	args = append(append(args, g.Flags...), g.Package)
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Dir = g.Dir
	cgo := "CGO_ENABLED=0"
	if g.CGO {
		cgo = "CGO_ENABLED=1"
	}
	cmd.Env = append(append(os.Environ(), cgo), g.Env...)
	var buf strings.Builder
	w := io.Writer(&buf)
	if out != nil {
		w = io.MultiWriter(&buf, out)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("go build %s (in %s): %w\n%s", g.Package, orDot(g.Dir), err, strings.TrimSpace(buf.String()))
	}
	if err := os.Rename(tmp, g.Out); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("go build %s: %w", g.Package, err)
	}
	return g.Out, nil
}

// goTool is the go command: the one in GOROOT when this program knows it
// (so tests and `go run` use the toolchain that built them), else PATH's.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func orDot(dir string) string {
	if dir == "" {
		return "."
	}
	return dir
}
