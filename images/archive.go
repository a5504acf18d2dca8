package images

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spklab/spklab/host/docker"
)

// Save writes the images (all must be present) to file as one `docker
// save` tarball, gzip-compressed when file ends in .gz, for machines that
// can neither pull nor build. The file appears only when complete.
func (m *Manager) Save(ctx context.Context, file string, imgs []Image) error {
	var missing []string
	for _, img := range imgs {
		ok, err := m.Docker.ImageExists(ctx, img.Ref)
		if err != nil {
			return fmt.Errorf("image %s: %w", img.Name, err)
		}
		if !ok {
			missing = append(missing, img.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("cannot save: not present: %s (run `spklab images build` first)", strings.Join(missing, ", "))
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return fmt.Errorf("saving images to %s: %w", file, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	var w io.Writer = bw
	var zw *gzip.Writer
	if strings.HasSuffix(file, ".gz") {
		zw, _ = gzip.NewWriterLevel(bw, gzip.BestSpeed) // several times faster than the default, a few % bigger
		w = zw
	}
	start := time.Now()
	if err := m.Docker.Save(ctx, Refs(imgs), w); err != nil {
		return fmt.Errorf("saving images %s to %s: %w", joinNames(imgs), file, err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return fmt.Errorf("saving images to %s: %w", file, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("saving images to %s: %w", file, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving images to %s: %w", file, err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("saving images to %s: %w", file, err)
	}
	m.log().Info("images saved", "file", file, "images", len(imgs), "took", time.Since(start).Round(100*time.Millisecond).String())
	return nil
}

// Load loads a file written by Save (gzip or not, told by its first bytes)
// and returns the names it loaded.
func (m *Manager) Load(ctx context.Context, file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("loading images: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("loading images from %s: %w", file, err)
		}
		defer zr.Close()
		r = zr
	}
	loaded, err := m.Docker.Load(ctx, r)
	if err != nil {
		return loaded, fmt.Errorf("loading images from %s: %w", file, err)
	}
	return loaded, nil
}

// ErrNoRegistry is returned by Pull when no registry answers.
var ErrNoRegistry = errors.New("no registry reachable")

// Pull pulls, for every image that has a Pull reference and is not
// present, that reference (tagging it Ref when they differ). It looks only
// at presence, not at inputs, so it starts at once. The first pull is
// bounded by PullTimeout: when it cannot reach its registry, Pull returns
// with one line wrapping ErrNoRegistry and pointing at `spklab images
// build`. It returns the names it pulled.
func (m *Manager) Pull(ctx context.Context, imgs []Image) ([]string, error) {
	if _, err := index(imgs); err != nil {
		return nil, err
	}
	timeout := m.PullTimeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	var pulled []string
	for _, img := range imgs {
		if img.Pull == "" {
			continue
		}
		present, err := m.Docker.ImageExists(ctx, img.Ref)
		if err != nil {
			return pulled, fmt.Errorf("image %s: %w", img.Name, err)
		}
		if present {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		if len(pulled) > 0 {
			// A registry answered: later (bigger) pulls get the caller's time.
			cancel()
			pctx, cancel = context.WithCancel(ctx)
		}
		err = m.Docker.Pull(pctx, img.Pull)
		cancel()
		if err != nil {
			if unreachable(err) {
				return pulled, fmt.Errorf("%w (%s); build the images instead: spklab images build", ErrNoRegistry, firstLine(err))
			}
			return pulled, fmt.Errorf("image %s: %w", img.Name, err)
		}
		if img.Pull != img.Ref {
			if err := m.Docker.ImageTag(ctx, img.Pull, img.Ref); err != nil {
				return pulled, fmt.Errorf("image %s: %w", img.Name, err)
			}
		}
		m.log().Info("image pulled", "image", img.Name, "ref", img.Ref)
		pulled = append(pulled, img.Name)
	}
	return pulled, nil
}

// unreachable tells a registry that cannot be reached (no DNS, no route,
// refused, timed out) from other pull failures (unknown tag, auth).
func unreachable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || docker.IsUnreachable(err) {
		return true
	}
	s := err.Error()
	for _, sign := range []string{"no such host", "dial tcp", "connection refused", "network is unreachable", "i/o timeout", "TLS handshake timeout", "Client.Timeout", "request canceled"} {
		if strings.Contains(s, sign) {
			return true
		}
	}
	return false
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
