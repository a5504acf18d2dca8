package docker

import (
	"context"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
)

// ImageInfo is what the lab needs to know about a local image.
type ImageInfo struct {
	ID      string            // sha256:…
	Tags    []string          // repo:tag names pointing at it
	Labels  map[string]string // config labels
	Size    int64             // bytes
	Created time.Time
}

// ImageInspect returns the image named ref (a name:tag or an ID). A missing
// image gives an error for which IsNotFound is true.
func (c *Client) ImageInspect(ctx context.Context, ref string) (ImageInfo, error) {
	r, err := c.api.ImageInspect(ctx, ref)
	if err != nil {
		return ImageInfo{}, fmt.Errorf("inspecting image %s: %w", ref, err)
	}
	info := ImageInfo{ID: r.ID, Tags: r.RepoTags, Size: r.Size}
	if r.Config != nil {
		info.Labels = r.Config.Labels
	}
	if r.Created != "" {
		if t, err := time.Parse(time.RFC3339Nano, r.Created); err == nil {
			info.Created = t
		}
	}
	return info, nil
}

// ImageExists reports whether an image named ref exists.
func (c *Client) ImageExists(ctx context.Context, ref string) (bool, error) {
	_, err := c.api.ImageInspect(ctx, ref)
	if err == nil {
		return true, nil
	}
	if IsNotFound(err) {
		return false, nil
	}
	return false, fmt.Errorf("looking for image %s: %w", ref, err)
}

// ImageLabels returns the labels of the image named ref.
func (c *Client) ImageLabels(ctx context.Context, ref string) (map[string]string, error) {
	info, err := c.ImageInspect(ctx, ref)
	if err != nil {
		return nil, err
	}
	return info.Labels, nil
}

// ImageRemove removes the name ref (and the image when no other name holds
// it; dangling parents are pruned). A missing image is not an error.
func (c *Client) ImageRemove(ctx context.Context, ref string) error {
	_, err := c.api.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true})
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("removing image %s: %w", ref, err)
	}
	return nil
}

// ImageTag gives the image src the additional name dst.
func (c *Client) ImageTag(ctx context.Context, src, dst string) error {
	if err := c.api.ImageTag(ctx, src, dst); err != nil {
		return fmt.Errorf("tagging image %s as %s: %w", src, dst, err)
	}
	return nil
}

// ImagesWithLabel lists the images carrying label key (any value), e.g.
// everything the lab built.
func (c *Client) ImagesWithLabel(ctx context.Context, key string) ([]ImageInfo, error) {
	list, err := c.api.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", key))})
	if err != nil {
		return nil, fmt.Errorf("listing images labelled %s: %w", key, err)
	}
	out := make([]ImageInfo, 0, len(list))
	for _, s := range list {
		out = append(out, ImageInfo{ID: s.ID, Tags: s.RepoTags, Labels: s.Labels, Size: s.Size, Created: time.Unix(s.Created, 0)})
	}
	return out, nil
}

// ImageRemoveUnused removes an image (by ID or name) only if nothing uses
// it: no container, no other name; the daemon's refusal is the error.
func (c *Client) ImageRemoveUnused(ctx context.Context, ref string) error {
	if _, err := c.api.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true}); err != nil {
		return fmt.Errorf("removing image %s: %w", ref, err)
	}
	return nil
}
