package kindnode

import (
	"context"
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spklab/spklab/host/docker"
	"github.com/spklab/spklab/images"
)

// pauseSource is a tiny module (stored as *.txt so it stays out of ours)
// whose main is the sandbox process.
//
//go:embed pause
var pauseSource embed.FS

// scratchDockerfile is the image of one static binary: nothing else is in
// it, so it is small and loads fast into the nodes.
func scratchDockerfile(file, entrypoint, user string) string {
	var b strings.Builder
	b.WriteString("FROM scratch\n")
	fmt.Fprintf(&b, "COPY %s /usr/local/bin/%s\n", file, file)
	// A scratch image has no PATH; kubeadm's static pods name commands bare.
	b.WriteString("ENV PATH=/usr/local/bin:/usr/bin:/bin\n")
	if entrypoint != "" {
		fmt.Fprintf(&b, "ENTRYPOINT [%q]\n", entrypoint)
	}
	if user != "" {
		fmt.Fprintf(&b, "USER %s\n", user)
	}
	return b.String()
}

func pauseDockerfile() string {
	return scratchDockerfile("pause", "/usr/local/bin/pause", "65535:65535")
}

// pauseImage is the pod sandbox image containerd's config names.
func pauseImage() images.Image {
	return images.Image{
		Name: NamePause, Ref: RefPause, Pull: RefPause,
		Purpose: "pod sandbox (containerd's sandbox_image), preloaded in the node",
		Inputs: func(context.Context) (string, error) {
			h := images.NewHash("kindnode/pause/1").String("dockerfile", pauseDockerfile()).String("go", runtime.Version())
			if err := hashEmbedded(h, pauseSource, "pause"); err != nil {
				return "", err
			}
			return h.Sum()
		},
		Build: func(ctx context.Context, b *images.Builder) error {
			src := filepath.Join(b.Dir, "pause-src")
			if err := writeEmbedded(pauseSource, "pause", src); err != nil {
				return err
			}
			bin, err := b.GoBuild(ctx, images.GoBuild{
				Package: ".", Dir: src, Out: filepath.Join(b.Dir, "pause"),
				Ldflags: "-s -w", Env: []string{"GOWORK=off", "GOFLAGS=-mod=mod"},
			})
			if err != nil {
				return err
			}
			return b.DockerBuild(ctx, pauseDockerfile(), []docker.File{{Name: "pause", Mode: 0o755, Path: bin}}, nil)
		},
	}
}

// corednsDockerfile is CoreDNS's upstream layout: kubeadm's Deployment
// gives only args to the image's /coredns entrypoint.
const corednsDockerfile = "FROM scratch\nCOPY coredns /coredns\nENTRYPOINT [\"/coredns\"]\n"

// binaryImage is a registry.k8s.io image of one kubebin binary.
func binaryImage(bins *kubeBins, name, ref, binary, purpose, dockerfile string) images.Image {
	return images.Image{
		Name: name, Ref: ref, Pull: ref, Purpose: purpose + ", preloaded in the node",
		// Each binary image is its own kubebin wrapper module.
		Compiles: "kubebin/" + binary,
		Inputs: func(ctx context.Context) (string, error) {
			dir, err := bins.dir(ctx, binary)
			if err != nil {
				return "", err
			}
			return images.NewHash("kindnode/binary/1").String("dockerfile", dockerfile).
				String("kubebin", filepath.Base(dir)).Sum()
		},
		Build: func(ctx context.Context, b *images.Builder) error {
			dir, err := bins.dir(ctx, binary)
			if err != nil {
				return err
			}
			return b.DockerBuild(ctx, dockerfile, []docker.File{{Name: binary, Mode: 0o755, Path: filepath.Join(dir, binary)}}, nil)
		},
	}
}

// writeEmbedded writes an embedded directory's files into dst, dropping
// the .txt suffix that keeps them out of our module.
func writeEmbedded(fsys embed.FS, dir, dst string) error {
	ents, err := fsys.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading embedded %s: %w", dir, err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	for _, e := range ents {
		data, err := fsys.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return fmt.Errorf("reading embedded %s: %w", e.Name(), err)
		}
		if err := os.WriteFile(filepath.Join(dst, strings.TrimSuffix(e.Name(), ".txt")), data, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", dst, err)
		}
	}
	return nil
}

func hashEmbedded(h *images.Hash, fsys embed.FS, dir string) error {
	ents, err := fsys.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading embedded %s: %w", dir, err)
	}
	for _, e := range ents { // ReadDir sorts by name
		data, err := fsys.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return fmt.Errorf("reading embedded %s: %w", e.Name(), err)
		}
		h.Bytes(e.Name(), data)
	}
	return nil
}
