package docker

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// Import makes an image named ref from a root filesystem tarball; changes
// are Dockerfile instructions applied to its config (LABEL, ENV, CMD, …).
// It returns the new image's ID.
func (c *Client) Import(ctx context.Context, rootfs io.Reader, ref string, changes []string) (string, error) {
	rc, err := c.api.ImageImport(ctx, image.ImportSource{Source: rootfs, SourceName: "-"}, ref, image.ImportOptions{Changes: changes})
	if err != nil {
		return "", fmt.Errorf("docker import %s: %w", ref, err)
	}
	defer rc.Close()
	if err := drainStream(rc, nil); err != nil {
		return "", fmt.Errorf("docker import %s: %w", ref, err)
	}
	info, err := c.ImageInspect(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("docker import %s: %w", ref, err)
	}
	return info.ID, nil
}

// Save writes the images named refs (with their names) as one `docker
// save` tarball to w.
func (c *Client) Save(ctx context.Context, refs []string, w io.Writer) error {
	rc, err := c.api.ImageSave(ctx, refs)
	if err != nil {
		return fmt.Errorf("docker save %s: %w", strings.Join(refs, " "), err)
	}
	defer rc.Close()
	if _, err := io.Copy(w, rc); err != nil {
		return fmt.Errorf("docker save %s: %w", strings.Join(refs, " "), err)
	}
	return nil
}

// Load loads a `docker save` tarball and returns the names it loaded.
func (c *Client) Load(ctx context.Context, r io.Reader) ([]string, error) {
	resp, err := c.api.ImageLoad(ctx, r, client.ImageLoadWithQuiet(true))
	if err != nil {
		return nil, fmt.Errorf("docker load: %w", err)
	}
	defer resp.Body.Close()
	var loaded []string
	err = drainStream(resp.Body, func(line string) {
		for _, p := range []string{"Loaded image: ", "Loaded image ID: "} {
			if s, ok := strings.CutPrefix(line, p); ok {
				loaded = append(loaded, strings.TrimSpace(s))
			}
		}
	})
	if err != nil {
		return loaded, fmt.Errorf("docker load: %w", err)
	}
	return loaded, nil
}

// Pull pulls ref from its registry.
func (c *Client) Pull(ctx context.Context, ref string) error {
	rc, err := c.api.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return fmt.Errorf("docker pull %s: %w", ref, err)
	}
	defer rc.Close()
	if err := drainStream(rc, nil); err != nil {
		return fmt.Errorf("docker pull %s: %w", ref, err)
	}
	return nil
}

// drainStream reads a JSON progress stream to its end, handing each text
// line to line (when set), and returns the error the stream reports.
func drainStream(r io.Reader, line func(string)) error {
	var w io.Writer
	if line != nil {
		w = &lineWriter{f: line}
	}
	_, err := followStream(r, w)
	return err
}

// lineWriter calls f once per complete line written to it.
type lineWriter struct {
	f    func(string)
	rest string
}

func (l *lineWriter) Write(p []byte) (int, error) {
	parts := strings.Split(l.rest+string(p), "\n")
	l.rest = parts[len(parts)-1]
	for _, s := range parts[:len(parts)-1] {
		l.f(s)
	}
	return len(p), nil
}
