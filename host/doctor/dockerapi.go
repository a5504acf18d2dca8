package doctor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/spklab/spklab/host/docker"
)

// daemonFacts pings the daemon and reads its setup (version, runtimes,
// root dir), within a bound: a hung dockerd is a finding, not a hang.
func daemonFacts(ctx context.Context, d *docker.Client) (docker.DaemonInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := d.Ping(ctx); err != nil {
		return docker.DaemonInfo{Host: d.DaemonHost()}, fmt.Errorf("docker ping at %s: %w", d.DaemonHost(), err)
	}
	return d.Info(ctx)
}

// probeLabel reads one label of the probe image; found is false when the
// image is not there.
func probeLabel(ctx context.Context, d *docker.Client, ref, key string) (value string, found bool, err error) {
	labels, err := d.ImageLabels(ctx, ref)
	if docker.IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return labels[key], true, nil
}

// importProbe makes image ref from a root filesystem holding one executable
// file, with Dockerfile changes (CMD, LABEL) applied.
func importProbe(ctx context.Context, d *docker.Client, ref, name string, content []byte, changes []string) error {
	_, err := d.Import(ctx, docker.TarReader([]docker.File{{Name: name, Mode: 0o755, Data: content}}), ref, changes)
	return err
}

// runPrivileged runs image's command in a --privileged container without a
// network, returns its output and removes it. A container that does not
// start is an error carrying dockerd's message.
func runPrivileged(ctx context.Context, d *docker.Client, ref string, labels map[string]string) (string, error) {
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	name := "spklab-doctor-probe-" + hex.EncodeToString(suffix)
	r, err := d.Run(ctx, docker.ContainerSpec{Name: name, Image: ref, Labels: labels, Privileged: true, NoNetwork: true})
	if err != nil {
		return "", fmt.Errorf("privileged container %s: %w", name, err)
	}
	if r.ExitCode != 0 {
		return r.Output, fmt.Errorf("container %s exited %d: %s", name, r.ExitCode, strings.TrimSpace(r.Output))
	}
	return r.Output, nil
}
