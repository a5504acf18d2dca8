package kindnode

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spklab/spklab/host/docker"
	"github.com/spklab/spklab/images"
)

// kubernetesModule is what the Kubernetes programs are compiled from
// (kubelet, kubeadm and kubectl for the node; one program per component
// image): those images take turns (images.Image.Compiles).
const kubernetesModule = "k8s.io/kubernetes"

// controlPlaneImages are the kubeadm component images kind's node image
// carries, as catalog names (the names of their binaries too).
var controlPlaneImages = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"}

// nodeBinaries are what kind's nodeimage copies to /usr/bin.
var nodeBinaries = []string{"kubeadm", "kubectl", "kubelet"}

func componentRef(name string) string { return "registry.k8s.io/" + name + ":" + KubeVersion }

// preloaded are the catalog names of every image the node's containerd
// holds, pinned, before it boots: nothing is pulled when kubeadm runs.
func preloaded() []string {
	return append([]string{NamePause, NameEtcd, NameCoreDNS}, controlPlaneImages...)
}

// nodeDockerfile assembles the node the way kind's nodeimage does (the
// binaries in /usr/bin, /kind/version, the images imported into
// containerd's k8s.io namespace with the pinned label), as a Dockerfile:
// nodeimage itself asks a registry for every image it did not build
// (kindnetd, local-path-provisioner, and the pre-pulls), which fails
// offline. Without /kind/manifests/default-storage.yaml kind falls back on
// a host-path StorageClass that needs no image.
func nodeDockerfile(base string) string {
	return `FROM ` + base + ` AS preload
LABEL ` + preloadStageLabel + `=` + NameNode + `
COPY images.tar /preload/images.tar
RUN containerd >/tmp/containerd.log 2>&1 & pid=$!; \
    for i in $(seq 1 100); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.1; done; \
    ctr --namespace=k8s.io images import --label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack --digests /preload/images.tar \
    && ctr --namespace=k8s.io images list -q; rc=$?; \
    kill $pid; wait $pid; \
    [ $rc -eq 0 ] || { cat /tmp/containerd.log; exit $rc; }
FROM ` + base + `
COPY --from=preload /var/lib/containerd /var/lib/containerd
COPY bin/ /usr/bin/
COPY version /kind/version
`
}

// nodeImage is kindest/node:v1.32.0.
func nodeImage(bins *kubeBins) images.Image {
	return images.Image{
		Name: NameNode, Ref: RefNode, Pull: RefNode,
		Purpose:  "kind node (Kubernetes " + KubeVersion + ", control plane images preloaded)",
		Compiles: kubernetesModule,
		Needs:    append([]string{NameBase}, preloaded()...),
		Inputs: func(ctx context.Context) (string, error) {
			dir, err := bins.dir(ctx, nodeBinaries...)
			if err != nil {
				return "", err
			}
			return images.NewHash("kindnode/node/1").String("dockerfile", nodeDockerfile("")).
				String("version", KubeVersion).String("kubebin", filepath.Base(dir)).Sum()
		},
		Build: func(ctx context.Context, b *images.Builder) error {
			base, err := b.Ref(NameBase)
			if err != nil {
				return err
			}
			dir, err := bins.dir(ctx, nodeBinaries...)
			if err != nil {
				return err
			}
			var refs []string
			for _, n := range preloaded() {
				r, err := b.Ref(n)
				if err != nil {
					return err
				}
				refs = append(refs, r)
			}
			tarball := filepath.Join(b.Dir, "images.tar")
			if err := saveImages(ctx, b.Docker, refs, tarball); err != nil {
				return fmt.Errorf("image %s: %w", NameNode, err)
			}
			files := []docker.File{
				{Name: "images.tar", Path: tarball},
				{Name: "version", Data: []byte(KubeVersion + "\n")},
			}
			for _, n := range nodeBinaries {
				// Path through the symlink kubebin's set directory holds.
				real, err := filepath.EvalSymlinks(filepath.Join(dir, n))
				if err != nil {
					return fmt.Errorf("image %s: %w", NameNode, err)
				}
				files = append(files, docker.File{Name: "bin/" + n, Mode: 0o755, Path: real})
			}
			if err := b.DockerBuild(ctx, nodeDockerfile(base), files, nil); err != nil {
				return err
			}
			return removePreloadStages(ctx, b.Docker)
		},
	}
}

// preloadStageLabel marks the preload stage's image, which the classic
// builder keeps (untagged, as big as the node image) after the build.
const preloadStageLabel = "io.spklab.build-stage"

// removePreloadStages removes the kept preload stages: nothing uses them
// once the node image exists.
func removePreloadStages(ctx context.Context, d *docker.Client) error {
	stages, err := d.ImagesWithLabel(ctx, preloadStageLabel)
	if err != nil {
		return err
	}
	for _, st := range stages {
		if st.Labels[preloadStageLabel] != NameNode || len(st.Tags) > 0 && st.Tags[0] != "<none>:<none>" {
			continue
		}
		if err := d.ImageRemove(ctx, st.ID); err != nil {
			return fmt.Errorf("removing the node build's preload stage: %w", err)
		}
	}
	return nil
}

func saveImages(ctx context.Context, d *docker.Client, refs []string, file string) error {
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("saving %s: %w", strings.Join(refs, " "), err)
	}
	defer f.Close()
	if err := d.Save(ctx, refs, f); err != nil {
		return err
	}
	return f.Close()
}

// controlPlaneImage is a kubeadm component image. kube-proxy needs
// iptables and friends (it is the one that programs them), so it is built
// on Debian; the others are one static binary each.
func controlPlaneImage(bins *kubeBins, name string) images.Image {
	img := images.Image{Name: name, Ref: componentRef(name), Pull: componentRef(name),
		Purpose:  name + " " + KubeVersion + " (kubeadm), preloaded in the node",
		Compiles: kubernetesModule}
	if name != "kube-proxy" {
		dockerfile := scratchDockerfile(name, "", "")
		img.Inputs = func(ctx context.Context) (string, error) {
			dir, err := bins.dir(ctx, name)
			if err != nil {
				return "", err
			}
			return images.NewHash("kindnode/binary/1").String("dockerfile", dockerfile).
				String("kubebin", filepath.Base(dir)).Sum()
		}
		img.Build = func(ctx context.Context, b *images.Builder) error {
			dir, err := bins.dir(ctx, name)
			if err != nil {
				return err
			}
			return b.DockerBuild(ctx, dockerfile, []docker.File{{Name: name, Mode: 0o755, Path: filepath.Join(dir, name)}}, nil)
		}
		return img
	}
	img.Needs = []string{DebianImage}
	img.Inputs = func(ctx context.Context) (string, error) {
		dir, err := bins.dir(ctx, name)
		if err != nil {
			return "", err
		}
		return images.NewHash("kindnode/kube-proxy/1").String("dockerfile", kubeProxyDockerfile("")).
			String("select", iptablesSelect).String("kubebin", filepath.Base(dir)).Sum()
	}
	img.Build = func(ctx context.Context, b *images.Builder) error {
		from, err := b.Ref(DebianImage)
		if err != nil {
			return err
		}
		dir, err := bins.dir(ctx, name)
		if err != nil {
			return err
		}
		return b.DockerBuild(ctx, kubeProxyDockerfile(from), []docker.File{
			{Name: name, Mode: 0o755, Path: filepath.Join(dir, name)},
			{Name: "iptables-select", Mode: 0o755, Data: []byte(iptablesSelect)},
		}, nil)
	}
	return img
}

// iptablesTools are the commands kube-proxy runs; each becomes a link to
// iptablesSelect.
var iptablesTools = []string{"iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore"}

func kubeProxyDockerfile(from string) string {
	links := make([]string, 0, len(iptablesTools))
	for _, t := range iptablesTools {
		links = append(links, "ln -sf iptables-select /usr/sbin/"+t)
	}
	return `FROM ` + from + `
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iptables ipset conntrack kmod \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY iptables-select /usr/sbin/iptables-select
RUN ` + strings.Join(links, " && ") + `
COPY kube-proxy /usr/local/bin/kube-proxy
`
}

// iptablesSelect runs the iptables command it is named as with the
// backend (legacy or nft) the node already holds rules in, as the node's
// own tools do: rules written through the other backend would be invisible
// to the node and to Calico. The first call decides for the container.
const iptablesSelect = `#!/bin/sh
mode=$(cat /run/iptables-mode 2>/dev/null)
if [ -z "$mode" ]; then
  legacy=$( (iptables-legacy-save; ip6tables-legacy-save) 2>/dev/null | grep -c '^-')
  nft=$( (iptables-nft-save; ip6tables-nft-save) 2>/dev/null | grep -c '^-')
  mode=nft
  [ "${legacy:-0}" -gt "${nft:-0}" ] && mode=legacy
  echo "$mode" > /run/iptables-mode
fi
name=$(basename "$0")
base=${name%-save}
base=${base%-restore}
exec "/usr/sbin/${base}-${mode}${name#"$base"}" "$@"
`
