package kindnode

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spklab/spklab/host/docker"
	"github.com/spklab/spklab/images"
	kindversion "sigs.k8s.io/kind/pkg/cmd/kind/version"
)

// kindModule is the module whose images/base/files are kind's node-image
// contract (entrypoint, systemd units, containerd config …).
const kindModule = "sigs.k8s.io/kind"

// basePackages are the Debian packages of a kind node: what kind's own base
// image installs (systemd, the Kubernetes node tools, the container
// runtime), with Debian's containerd and runc instead of kind's own builds
// and Debian's CNI plugins for the few kind puts in /opt/cni/bin.
var basePackages = []string{
	"systemd",
	"conntrack", "iptables", "nftables", "iproute2", "ethtool", "socat", "util-linux", "mount", "kmod",
	"libseccomp2", "pigz", "e2fsprogs", "bash", "ca-certificates", "curl", "jq", "procps",
	"containerd", "runc", "containernetworking-plugins",
}

// baseDockerfile is kind's images/base/Dockerfile done with Debian
// packages; from is the Debian image.
func baseDockerfile(from string) string {
	return `FROM ` + from + `
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ` + strings.Join(basePackages, " ") + ` \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
# kind's node contract: its files, systemd as init with only the units it enables.
COPY files/ /
RUN find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete \
 && rm -f /lib/systemd/system/multi-user.target.wants/* \
 && rm -f /etc/systemd/system/*.wants/* \
 && rm -f /lib/systemd/system/local-fs.target.wants/* \
 && rm -f /lib/systemd/system/sockets.target.wants/*udev* \
 && rm -f /lib/systemd/system/sockets.target.wants/*initctl* \
 && rm -f /lib/systemd/system/basic.target.wants/* \
 && echo "ReadKMsg=no" >> /etc/systemd/journald.conf \
 && ln -sf /usr/lib/systemd/systemd /sbin/init \
 && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \
 && systemctl mask systemd-binfmt.service
# kind's units run containerd from /usr/local/bin; Debian installs it in /usr/bin.
RUN ln -s /usr/bin/containerd /usr/bin/containerd-shim-runc-v2 /usr/bin/ctr /usr/local/bin/ \
 && mkdir -p /etc/kubernetes/manifests /opt/cni/bin \
 && for p in host-local loopback ptp portmap; do cp /usr/lib/cni/$p /opt/cni/bin/; done \
 && ctr oci spec \
    | jq '.hooks.createContainer[.hooks.createContainer | length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
    | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json \
 && containerd --version && runc --version
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
`
}

// baseImage is the node's operating system: no Kubernetes yet.
func baseImage() images.Image {
	return images.Image{
		Name: NameBase, Ref: RefBase,
		Purpose: "kind node base: Debian, systemd, containerd, runc and kind's node files",
		Needs:   []string{DebianImage},
		Inputs: func(ctx context.Context) (string, error) {
			files, err := kindBaseFiles(ctx)
			if err != nil {
				return "", err
			}
			h := images.NewHash("kindnode/base/1").String("dockerfile", baseDockerfile("")).String("kind", linkedVersion())
			for _, f := range files {
				h.String("file", f.Name).String("mode", f.Mode.String()).Bytes("data", f.Data)
			}
			return h.Sum()
		},
		Build: func(ctx context.Context, b *images.Builder) error {
			from, err := b.Ref(DebianImage)
			if err != nil {
				return err
			}
			files, err := kindBaseFiles(ctx)
			if err != nil {
				return err
			}
			return b.DockerBuild(ctx, baseDockerfile(from), files, nil)
		},
	}
}

// kindBaseFiles returns kind's images/base/files as build context entries
// under files/, with kind's modes (scripts 0755, the rest 0644) and our
// changes to containerd's config.
func kindBaseFiles(ctx context.Context) ([]docker.File, error) {
	dir, err := moduleDir(ctx, kindModule, linkedVersion())
	if err != nil {
		return nil, err
	}
	root := filepath.Join(dir, "images", "base", "files")
	var out []docker.File
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(rel, "LICENSES/") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(rel, "usr/local/bin/") || strings.HasPrefix(rel, "kind/bin/") {
			mode = 0o755
		}
		if rel == "etc/containerd/config.toml" {
			if data, err = patchContainerdConfig(data); err != nil {
				return err
			}
		}
		out = append(out, docker.File{Name: "files/" + rel, Mode: mode, Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading kind's base image files in %s: %w", root, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("kind's base image files: none in %s", root)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// patchContainerdConfig sets restrict_oom_score_adj: runc cannot lower
// oom_score_adj where the host lacks CAP_SYS_RESOURCE, and every pod
// sandbox would fail ("can't get final child's PID from pipe: EOF").
func patchContainerdConfig(data []byte) ([]byte, error) {
	const from, to = "restrict_oom_score_adj = false", "restrict_oom_score_adj = true"
	s := string(data)
	if strings.Count(s, from) != 1 {
		return nil, fmt.Errorf("kind's containerd config: want exactly one %q to change, found %d", from, strings.Count(s, from))
	}
	return []byte(strings.Replace(s, from, to, 1)), nil
}

// linkedVersion is the version of the kind library this program is built
// with: kind's node files must match the kind that creates the clusters.
// kind says "0.33.0"; its module version is "v0.33.0".
func linkedVersion() string { return "v" + strings.TrimPrefix(kindversion.Version(), "v") }

// moduleDir returns the module cache directory of a module at a version,
// downloading it if the cache lacks it (`go mod download` reads only the
// module proxy).
func moduleDir(ctx context.Context, path, version string) (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("locating module %s needs the go command: %w", path, err)
	}
	cmd := exec.CommandContext(ctx, goCmd, "mod", "download", "-json", path+"@"+version)
	// Outside any module: the answer must not depend on the working directory.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr == nil && info.Error != "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", path, version, info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w", path, version, err)
	}
	if info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: no directory in %q", path, version, out)
	}
	return info.Dir, nil
}
