// Package kindnode builds the kind node image (kindest/node:v1.32.0)
// offline: Kubernetes from images/kubebin, etcd, CoreDNS and a pause of our own
// as registry.k8s.io images, a base image from Debian packages carrying
// kind's own base-image files (read from the kind module at build time),
// assembled the way kind's nodeimage package does it.
//
// The catalog entries:
//
//	pause, etcd, coredns,        registry.k8s.io images of one static binary
//	kube-apiserver, -scheduler,  each (FROM scratch; kube-proxy on Debian with
//	-controller-manager, -proxy  iptables, ipset and conntrack)
//	kind-base                    Debian + systemd + containerd + runc + kind's files
//	kind-node                    kind-base + kubeadm/kubelet/kubectl in /usr/bin,
//	                             /kind/version, and the seven images above
//	                             imported (pinned) into containerd's k8s.io namespace
package kindnode

import (
	"context"
	"log/slog"
	"sync"

	"github.com/spklab/spklab/images"
	"github.com/spklab/spklab/images/kubebin"
)

// Catalog names of the images this package builds.
const (
	NamePause   = "pause"
	NameEtcd    = "etcd"
	NameCoreDNS = "coredns"
	NameBase    = "kind-base"
	NameNode    = "kind-node"
)

// DebianImage is the catalog name of the Debian base image (images/
// spkimages) that kind-base and kube-proxy are built FROM.
const DebianImage = "debian"

// Versions and references: what kubeadm v1.32.0 asks for.
const (
	KubeVersion = "v1.32.0"

	RefNode    = "kindest/node:" + KubeVersion
	RefBase    = "spklab/kind-base:" + KubeVersion
	RefPause   = "registry.k8s.io/pause:3.10"
	RefEtcd    = "registry.k8s.io/etcd:3.5.16-0"
	RefCoreDNS = "registry.k8s.io/coredns/coredns:v1.11.3"
)

// Options tune Images. The zero value is ready to use.
type Options struct {
	// Kubebin is where Kubernetes, etcd and CoreDNS binaries are built and
	// cached (images/kubebin); its zero value is the user cache.
	Kubebin kubebin.Options
	// Log receives kubebin's build progress when Kubebin.Log is nil.
	Log *slog.Logger
}

// Images returns the node image and what it is built from.
func Images(opts Options) []images.Image {
	if opts.Kubebin.Log == nil {
		opts.Kubebin.Log = opts.Log
	}
	bins := &kubeBins{opts: opts.Kubebin}
	out := []images.Image{
		pauseImage(),
		binaryImage(bins, NameEtcd, RefEtcd, "etcd", "the control plane's etcd (kubeadm static pod)", scratchDockerfile("etcd", "", "")),
		binaryImage(bins, NameCoreDNS, RefCoreDNS, "coredns", "cluster DNS", corednsDockerfile),
	}
	for _, n := range controlPlaneImages {
		out = append(out, controlPlaneImage(bins, n))
	}
	return append(out, baseImage(), nodeImage(bins))
}

// kubeBins asks kubebin for binaries once per catalog: Inputs and Build of
// several images need the same directories.
type kubeBins struct {
	opts kubebin.Options

	mu   sync.Mutex
	dirs map[string]string
}

// dir returns a directory holding the named binaries (built on first use,
// cached by kubebin afterwards). Its name encodes every input of those
// binaries, which makes it a cheap Inputs value.
func (k *kubeBins) dir(ctx context.Context, names ...string) (string, error) {
	key := ""
	for _, n := range names {
		key += n + "\x00"
	}
	k.mu.Lock()
	d, ok := k.dirs[key]
	k.mu.Unlock()
	if ok {
		return d, nil
	}
	// Not under the lock: images build side by side, and etcd's must not
	// wait for a Kubernetes build (kubebin.Ensure serialises builds of
	// one binary with file locks).
	d, err := kubebin.Ensure(ctx, k.opts, names...)
	if err != nil {
		return "", err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dirs == nil {
		k.dirs = map[string]string{}
	}
	k.dirs[key] = d
	return d, nil
}
