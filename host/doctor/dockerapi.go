package doctor

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// dockerAPI is what the doctor asks of dockerd: daemon facts (version,
// runtimes, root dir) that the lab's image wrapper (host/docker) has no
// business with, a privileged throwaway container and the networks' IPAM.
type dockerAPI struct {
	api *client.Client
}

// dockerFacts is what the checks need to know about the daemon.
type dockerFacts struct {
	Host           string // where the client talks to it
	ServerVersion  string
	APIVersion     string // negotiated
	RootDir        string
	DefaultRuntime string
	Runtimes       map[string]string // name → path
	CgroupVersion  string
}

func newDockerAPI(host string) (*dockerAPI, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	api, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return &dockerAPI{api: api}, nil
}

func (d *dockerAPI) Close() error { return d.api.Close() }

// Facts pings the daemon and reads its version and info.
func (d *dockerAPI) Facts(ctx context.Context) (dockerFacts, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	f := dockerFacts{Host: d.api.DaemonHost()}
	if _, err := d.api.Ping(ctx); err != nil {
		return f, fmt.Errorf("docker ping at %s: %w", f.Host, err)
	}
	info, err := d.api.Info(ctx)
	if err != nil {
		return f, fmt.Errorf("docker info: %w", err)
	}
	f.ServerVersion = info.ServerVersion
	f.APIVersion = d.api.ClientVersion()
	f.RootDir = info.DockerRootDir
	f.DefaultRuntime = info.DefaultRuntime
	f.CgroupVersion = info.CgroupVersion
	f.Runtimes = map[string]string{}
	for name, r := range info.Runtimes {
		f.Runtimes[name] = r.Path
	}
	return f, nil
}

// imageLabel reads one label of an image; found is false when the image is
// not there.
func (d *dockerAPI) imageLabel(ctx context.Context, ref, key string) (value string, found bool, err error) {
	r, err := d.api.ImageInspect(ctx, ref)
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "no such image") || client.IsErrNotFound(err) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("inspecting image %s: %w", ref, err)
	}
	if r.Config != nil {
		value = r.Config.Labels[key]
	}
	return value, true, nil
}

// importFile makes image ref from a root filesystem holding one executable
// file, with Dockerfile changes (CMD, LABEL) applied.
func (d *dockerAPI) importFile(ctx context.Context, ref, name string, content []byte, changes []string) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(content)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	if _, err := tw.Write(content); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	rc, err := d.api.ImageImport(ctx, image.ImportSource{Source: &buf, SourceName: "-"}, ref, image.ImportOptions{Changes: changes})
	if err != nil {
		return fmt.Errorf("docker import %s: %w", ref, err)
	}
	defer rc.Close()
	out, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("docker import %s: %w", ref, err)
	}
	if bytes.Contains(out, []byte(`"error"`)) {
		return fmt.Errorf("docker import %s: %s", ref, bytes.TrimSpace(out))
	}
	return nil
}

// runPrivileged runs image's command in a --privileged container without a
// network, returns its output and removes it. A container that does not
// start is an error carrying dockerd's message.
func (d *dockerAPI) runPrivileged(ctx context.Context, ref string, labels map[string]string) (string, error) {
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	name := "spklab-doctor-probe-" + hex.EncodeToString(suffix)
	c, err := d.api.ContainerCreate(ctx,
		&container.Config{Image: ref, Labels: labels, NetworkDisabled: true},
		&container.HostConfig{Privileged: true, NetworkMode: "none"}, nil, nil, name)
	if err != nil {
		return "", fmt.Errorf("creating container %s: %w", name, err)
	}
	defer func() {
		_ = d.api.ContainerRemove(context.WithoutCancel(ctx), c.ID, container.RemoveOptions{Force: true})
	}()
	if err := d.api.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		return "", fmt.Errorf("starting privileged container %s: %w", name, err)
	}
	okc, errc := d.api.ContainerWait(ctx, c.ID, container.WaitConditionNotRunning)
	var code int64
	select {
	case r := <-okc:
		code = r.StatusCode
	case err := <-errc:
		return "", fmt.Errorf("waiting for container %s: %w", name, err)
	}
	rc, err := d.api.ContainerLogs(ctx, c.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return "", fmt.Errorf("logs of container %s: %w", name, err)
	}
	defer rc.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, rc); err != nil {
		return out.String(), fmt.Errorf("logs of container %s: %w", name, err)
	}
	if code != 0 {
		return out.String(), fmt.Errorf("container %s exited %d: %s", name, code, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// dockerNetwork is a docker network with the facts the subnet check needs.
type dockerNetwork struct {
	Name, ID, Driver string
	Subnets          []netip.Prefix
	// Bridge is the host interface of a bridge network ("" for others).
	Bridge string
}

func (d *dockerAPI) networks(ctx context.Context) ([]dockerNetwork, error) {
	list, err := d.api.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing docker networks: %w", err)
	}
	out := make([]dockerNetwork, 0, len(list))
	for _, n := range list {
		dn := dockerNetwork{Name: n.Name, ID: n.ID, Driver: n.Driver}
		for _, c := range n.IPAM.Config {
			if p, err := netip.ParsePrefix(c.Subnet); err == nil {
				dn.Subnets = append(dn.Subnets, p.Masked())
			}
		}
		if n.Driver == "bridge" {
			dn.Bridge = bridgeName(n.Name, n.ID, n.Options)
		}
		out = append(out, dn)
	}
	return out, nil
}

// bridgeName is the host interface docker gives a bridge network: the
// option when set, docker0 for the default network, else br-<12 hex of ID>.
func bridgeName(name, id string, options map[string]string) string {
	if b := options["com.docker.network.bridge.name"]; b != "" {
		return b
	}
	if name == "bridge" {
		return "docker0"
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return "br-" + id
}
