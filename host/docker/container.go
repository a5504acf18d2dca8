package docker

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"
)

// ContainerSpec describes a container to create.
type ContainerSpec struct {
	Name       string // "" lets docker pick one
	Image      string
	Cmd        []string // "" keeps the image's CMD
	Entrypoint []string // nil keeps the image's ENTRYPOINT
	Env        []string
	Labels     map[string]string
	User       string
	Network    string     // a network name; "" is the default bridge
	IP         netip.Addr // a fixed address on Network (user-defined networks only)
	Hostname   string
	CapAdd     []string
	Binds      []string          // host:container[:ro]
	Sysctls    map[string]string // namespaced ones (net.*)
	Privileged bool
	// NoNetwork gives the container no network at all (network mode none).
	NoNetwork bool
}

// ContainerCreate creates (but does not start) a container and returns its ID.
func (c *Client) ContainerCreate(ctx context.Context, s ContainerSpec) (string, error) {
	cfg := &container.Config{Image: s.Image, Cmd: s.Cmd, Entrypoint: s.Entrypoint, Env: s.Env, Labels: s.Labels, User: s.User, Hostname: s.Hostname}
	host := &container.HostConfig{CapAdd: s.CapAdd, Binds: s.Binds, Sysctls: s.Sysctls, Privileged: s.Privileged}
	var netCfg *network.NetworkingConfig
	if s.NoNetwork {
		cfg.NetworkDisabled, host.NetworkMode = true, "none"
	} else if s.Network != "" {
		host.NetworkMode = container.NetworkMode(s.Network)
		ep := &network.EndpointSettings{}
		if s.IP.IsValid() {
			ep.IPAMConfig = &network.EndpointIPAMConfig{}
			if s.IP.Is4() {
				ep.IPAMConfig.IPv4Address = s.IP.String()
			} else {
				ep.IPAMConfig.IPv6Address = s.IP.String()
			}
		}
		netCfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{s.Network: ep}}
	}
	r, err := c.api.ContainerCreate(ctx, cfg, host, netCfg, nil, s.Name)
	if err != nil {
		return "", fmt.Errorf("creating container %s from %s: %w", orID(s.Name, ""), s.Image, err)
	}
	return r.ID, nil
}

// ContainerStart starts a created container.
func (c *Client) ContainerStart(ctx context.Context, id string) error {
	if err := c.api.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return fmt.Errorf("starting container %s: %w", short(id), err)
	}
	return nil
}

// ContainerWait waits for a container to stop and returns its exit code.
func (c *Client) ContainerWait(ctx context.Context, id string) (int, error) {
	okc, errc := c.api.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	select {
	case r := <-okc:
		if r.Error != nil && r.Error.Message != "" {
			return int(r.StatusCode), fmt.Errorf("waiting for container %s: %s", short(id), r.Error.Message)
		}
		return int(r.StatusCode), nil
	case err := <-errc:
		return -1, fmt.Errorf("waiting for container %s: %w", short(id), err)
	}
}

// ContainerLogs returns what a container wrote to stdout and stderr,
// interleaved as written.
func (c *Client) ContainerLogs(ctx context.Context, id string) (string, error) {
	rc, err := c.api.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return "", fmt.Errorf("logs of container %s: %w", short(id), err)
	}
	defer rc.Close()
	var out bytes.Buffer
	// Without a TTY the log is multiplexed: one writer for both keeps order.
	if _, err := stdcopy.StdCopy(&out, &out, rc); err != nil {
		return out.String(), fmt.Errorf("logs of container %s: %w", short(id), err)
	}
	return out.String(), nil
}

// ContainerRemove force-removes a container and its anonymous volumes; a
// missing container is not an error.
func (c *Client) ContainerRemove(ctx context.Context, id string) error {
	err := c.api.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("removing container %s: %w", short(id), err)
	}
	return nil
}

// ContainerAddress returns a running container's IPv4 address on a network.
func (c *Client) ContainerAddress(ctx context.Context, id, networkName string) (netip.Addr, error) {
	r, err := c.api.ContainerInspect(ctx, id)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("inspecting container %s: %w", short(id), err)
	}
	if r.NetworkSettings != nil {
		if ep, ok := r.NetworkSettings.Networks[networkName]; ok && ep.IPAddress != "" {
			return netip.ParseAddr(ep.IPAddress)
		}
	}
	return netip.Addr{}, fmt.Errorf("container %s has no address on network %s", short(id), networkName)
}

// RunResult is how a throwaway container ended.
type RunResult struct {
	ExitCode int
	Output   string // stdout and stderr, interleaved
}

// Run creates and starts a container, waits for it to end, collects its
// output and removes it (also when ctx ends first). A non-zero exit is not
// an error: look at ExitCode.
func (c *Client) Run(ctx context.Context, s ContainerSpec) (RunResult, error) {
	id, err := c.ContainerCreate(ctx, s)
	if err != nil {
		return RunResult{}, err
	}
	// Remove with a fresh context: ctx may be the reason we are leaving.
	defer c.ContainerRemove(context.WithoutCancel(ctx), id)
	if err := c.ContainerStart(ctx, id); err != nil {
		return RunResult{}, fmt.Errorf("running %s in %s: %w", strings.Join(s.Cmd, " "), s.Image, err)
	}
	code, err := c.ContainerWait(ctx, id)
	if err != nil {
		return RunResult{}, fmt.Errorf("running %s in %s: %w", strings.Join(s.Cmd, " "), s.Image, err)
	}
	out, err := c.ContainerLogs(ctx, id)
	if err != nil {
		return RunResult{ExitCode: code}, fmt.Errorf("running %s in %s: %w", strings.Join(s.Cmd, " "), s.Image, err)
	}
	return RunResult{ExitCode: code, Output: out}, nil
}

// Exec runs a command in a running container and returns how it ended (a
// non-zero exit is not an error: look at ExitCode).
func (c *Client) Exec(ctx context.Context, id string, cmd ...string) (RunResult, error) {
	what := fmt.Sprintf("exec %s in container %s", strings.Join(cmd, " "), short(id))
	ex, err := c.api.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return RunResult{}, fmt.Errorf("%s: %w", what, err)
	}
	att, err := c.api.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		return RunResult{}, fmt.Errorf("%s: %w", what, err)
	}
	defer att.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, att.Reader); err != nil {
		return RunResult{Output: out.String()}, fmt.Errorf("%s: %w", what, err)
	}
	in, err := c.api.ContainerExecInspect(ctx, ex.ID)
	if err != nil {
		return RunResult{Output: out.String()}, fmt.Errorf("%s: %w", what, err)
	}
	return RunResult{ExitCode: in.ExitCode, Output: out.String()}, nil
}

// ContainerRunning reports whether a container is running.
func (c *Client) ContainerRunning(ctx context.Context, id string) (bool, error) {
	r, err := c.api.ContainerInspect(ctx, id)
	if err != nil {
		return false, fmt.Errorf("inspecting container %s: %w", short(id), err)
	}
	return r.State != nil && r.State.Running, nil
}

func short(id string) string {
	if len(id) > 12 && !strings.ContainsAny(id, ":/-_") {
		return id[:12]
	}
	return id
}

func orID(name, id string) string {
	if name != "" {
		return name
	}
	return short(id)
}

// ContainerStop stops a container (SIGTERM, then SIGKILL after 10 s).
func (c *Client) ContainerStop(ctx context.Context, id string) error {
	if err := c.api.ContainerStop(ctx, id, container.StopOptions{}); err != nil {
		return fmt.Errorf("stopping container %s: %w", short(id), err)
	}
	return nil
}
