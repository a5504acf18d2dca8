// Package docker is the lab's small wrapper over the Docker Engine API
// (the SDK client, API version negotiated down to the daemon's): images,
// classic (non-BuildKit) builds with parsed output, import, save/load,
// throwaway containers and networks. Every error says what was attempted.
package docker

import (
	"context"
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/client"
)

// Client talks to one Docker daemon.
type Client struct {
	api *client.Client
}

// New connects to the daemon named by the environment (DOCKER_HOST, else
// the local socket) and negotiates the API version on first use.
func New() (*Client, error) { return NewAt("") }

// NewAt connects to the daemon at host (e.g. unix:///var/run/docker.sock);
// "" is New's daemon.
func NewAt(host string) (*Client, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	api, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return &Client{api: api}, nil
}

// DaemonHost is where the client talks to the daemon.
func (c *Client) DaemonHost() string { return c.api.DaemonHost() }

// Wrap uses an SDK client that already exists (one connection for a
// caller that also talks to the SDK directly); Close closes it.
func Wrap(api *client.Client) *Client { return &Client{api: api} }

// Close releases the client's connections.
func (c *Client) Close() error { return c.api.Close() }

// Version is what the daemon says about itself.
type Version struct {
	Server     string // engine version, e.g. 20.10.24+dfsg1
	APIVersion string // the API version in use after negotiation
	OS, Arch   string
}

// Ping checks that the daemon answers and returns its version.
func (c *Client) Ping(ctx context.Context) (Version, error) {
	if _, err := c.api.Ping(ctx); err != nil {
		return Version{}, fmt.Errorf("docker ping: %w", err)
	}
	v, err := c.api.ServerVersion(ctx)
	if err != nil {
		return Version{}, fmt.Errorf("docker version: %w", err)
	}
	return Version{Server: v.Version, APIVersion: c.api.ClientVersion(), OS: v.Os, Arch: v.Arch}, nil
}

// DaemonInfo is what the daemon says about its setup.
type DaemonInfo struct {
	Host           string // where the client talks to it
	ServerVersion  string
	APIVersion     string // negotiated
	RootDir        string
	DefaultRuntime string
	Runtimes       map[string]string // name → path
	CgroupVersion  string
}

// Info reads the daemon's version, root dir, runtimes and cgroup version.
func (c *Client) Info(ctx context.Context) (DaemonInfo, error) {
	f := DaemonInfo{Host: c.api.DaemonHost()}
	info, err := c.api.Info(ctx)
	if err != nil {
		return f, fmt.Errorf("docker info at %s: %w", f.Host, err)
	}
	f.ServerVersion = info.ServerVersion
	f.APIVersion = c.api.ClientVersion()
	f.RootDir = info.DockerRootDir
	f.DefaultRuntime = info.DefaultRuntime
	f.CgroupVersion = info.CgroupVersion
	f.Runtimes = map[string]string{}
	for name, r := range info.Runtimes {
		f.Runtimes[name] = r.Path
	}
	return f, nil
}

// IsNotFound reports whether err says an object (image, container,
// network) does not exist.
func IsNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

// IsUnreachable reports whether err is a failure to reach the daemon.
func IsUnreachable(err error) bool {
	return client.IsErrConnectionFailed(err) || errors.Is(err, context.DeadlineExceeded)
}
