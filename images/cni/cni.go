// Package cni builds the lab's pod networking images offline from Go module
// sources and Debian packages: Calico v3.30.1 (node, cni, kube-controllers),
// Multus v4.2.3 (thin plugin) and the CNI reference plugins v1.6.2, under
// the references manifests/cni deploys them by.
//
// Each image's binaries are built in a wrapper module (wrappers/, like
// images/kubebin's) that pins the upstream release; Calico's releases are not
// served by the module proxy under their tags, so it is pinned at the
// pseudo-version of the v3.30.1 commit.
package cni

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spklab/spklab/host/docker"
	"github.com/spklab/spklab/images"
)

// Catalog names of the images this package builds.
const (
	NameCalicoNode        = "calico-node"
	NameCalicoCNI         = "calico-cni"
	NameCalicoControllers = "calico-kube-controllers"
	NameMultus            = "multus"
	NamePlugins           = "cni-plugins"
)

// DebianImage is the catalog name of the Debian base image (images/
// spkimages) that calico-node and cni-plugins are built FROM.
const DebianImage = "debian"

// Versions and the references the manifests pin.
const (
	CalicoVersion  = "v3.30.1"
	MultusVersion  = "v4.2.3"
	PluginsVersion = "v1.6.2"

	RefCalicoNode        = "docker.io/calico/node:" + CalicoVersion
	RefCalicoCNI         = "docker.io/calico/cni:" + CalicoVersion
	RefCalicoControllers = "docker.io/calico/kube-controllers:" + CalicoVersion
	RefMultus            = "ghcr.io/k8snetworkplumbingwg/multus-cni:" + MultusVersion
	RefPlugins           = "spklab/cni-plugins:" + PluginsVersion
)

// The modules the images compile, for images.Image.Compiles: calico-cni
// and calico-kube-controllers take turns, so the second finds Calico's
// packages in Go's build cache. calico-node builds with cgo, which changes
// every package's build: it shares nothing with them and runs beside them.
const (
	calicoModule    = "github.com/projectcalico/calico"
	calicoCgoModule = calicoModule + " (cgo)"
	multusModule    = "gopkg.in/k8snetworkplumbingwg/multus-cni.v4"
	pluginsModule   = "github.com/containernetworking/plugins"
)

// calicoCommit is the commit of Calico's v3.30.1 release (the wrapper's
// pseudo-version), stamped where Calico's Makefiles stamp the git revision.
const calicoCommit = "393b14e729a6"

// Options tune Images. The zero value is ready to use.
type Options struct {
	// Log is for the catalog's symmetry with the other image packages:
	// builds report through the Builder's log.
	Log *slog.Logger
}

// Images returns the CNI images, in build order.
func Images(Options) []images.Image {
	return []images.Image{pluginsImage(), calicoNodeImage(), calicoCNIImage(), calicoControllersImage(), multusImage()}
}

// Calico's module is unknown to the checksum database (pseudo-versions of
// a repository whose tags the proxy refuses): skip it there, only in the
// build's environment.
var calicoEnv = []string{"GONOSUMDB=github.com/projectcalico"}

func calicoStamp(pkgVar string) string { return "-X " + pkgVar + "=" + CalicoVersion }

// calicoNodeWrapper builds calico-node and mountns with cgo against
// Debian's libbpf: with cgo off calico-node panics at start ("LIBBPF
// syscall stub") even in iptables mode.
var calicoNodeWrapper = wrapper{
	dir: "calico", env: calicoEnv,
	binaries: []binary{
		{
			name: "calico-node", pkg: "github.com/projectcalico/calico/node/cmd/calico-node", cgo: true,
			ldflags: strings.Join([]string{
				calicoStamp("github.com/projectcalico/calico/node/pkg/lifecycle/startup.VERSION"),
				calicoStamp("github.com/projectcalico/calico/node/buildinfo.GitVersion"),
				"-X github.com/projectcalico/calico/node/buildinfo.GitRevision=" + calicoCommit,
			}, " "),
			env: []string{"CGO_CFLAGS=-I/usr/include/bpf", "CGO_LDFLAGS=-lbpf -lelf -lz"},
		},
		{name: "mountns", pkg: "github.com/projectcalico/calico/node/cmd/mountns", cgo: true},
	},
}

// calicoBuildPackages are the Debian packages calico-node's cgo build
// links against.
var calicoBuildPackages = map[string]string{
	"/usr/include/bpf/libbpf.h": "libbpf-dev",
	"/usr/include/libelf.h":     "libelf-dev",
	"/usr/include/pcap/pcap.h":  "libpcap-dev",
	"/usr/include/zlib.h":       "zlib1g-dev",
}

// checkBuildPackages says which Debian packages to install when the C
// headers calico-node needs are missing.
func checkBuildPackages() error {
	var missing []string
	for header, pkg := range calicoBuildPackages {
		if _, err := os.Stat(header); err != nil {
			missing = append(missing, pkg)
		}
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		missing = append(missing, "gcc")
	}
	if len(missing) > 0 {
		return fmt.Errorf("building calico-node needs cgo and Debian packages that are missing: apt-get install %s", strings.Join(missing, " "))
	}
	return nil
}

// calicoNodeDockerfile: Debian with what calico-node runs (runit, the
// iptables/ipset/conntrack/ip tools, libbpf and libpcap) and Calico's own
// node filesystem (runit services, rc.local, start_runit) from its module.
func calicoNodeDockerfile(from string) string {
	return `FROM ` + from + `
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    runit iptables ipset conntrack iproute2 kmod procps libbpf1 libpcap0.8 ca-certificates \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && rm -rf /etc/service && mkdir /etc/service
COPY filesystem/ /
COPY bin/ /bin/
ENV SVDIR=/etc/service/enabled
CMD ["start_runit"]
`
}

func calicoNodeImage() images.Image {
	return images.Image{
		Name: NameCalicoNode, Ref: RefCalicoNode, Pull: RefCalicoNode,
		Compiles: calicoCgoModule,
		Purpose:  "Calico node agent (felix; VXLAN, no BIRD)",
		Needs:    []string{DebianImage},
		Inputs:   wrapperInputs("cni/calico-node/1", calicoNodeDockerfile(""), calicoNodeWrapper),
		Build: func(ctx context.Context, b *images.Builder) error {
			if err := checkBuildPackages(); err != nil {
				return err
			}
			from, err := b.Ref(DebianImage)
			if err != nil {
				return err
			}
			bins, err := calicoNodeWrapper.build(ctx, b, filepath.Join(b.Dir, "bin"))
			if err != nil {
				return err
			}
			files, err := calicoNodeFiles(ctx, filepath.Join(b.Dir, "src-calico"))
			if err != nil {
				return err
			}
			for _, n := range []string{"calico-node", "mountns"} {
				files = append(files, docker.File{Name: "bin/" + n, Mode: 0o755, Path: bins[n]})
			}
			return b.DockerBuild(ctx, calicoNodeDockerfile(from), files, nil)
		},
	}
}

// calicoNodeFiles returns Calico's node/filesystem from the module cache
// (as the wrapper in dir resolves it) as build context entries under
// filesystem/: etc/ as is, sbin/ into /usr/sbin. Module files lose their
// exec bits, so scripts get theirs back here.
func calicoNodeFiles(ctx context.Context, dir string) ([]docker.File, error) {
	mod, err := goModDir(ctx, dir, calicoModule, calicoEnv)
	if err != nil {
		return nil, err
	}
	root := filepath.Join(mod, "node", "filesystem")
	var out []docker.File
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		name := filepath.Base(rel)
		if name == ".gitkeep" {
			return nil
		}
		mode := os.FileMode(0o644)
		if name == "run" || name == "rc.local" || strings.HasPrefix(rel, "sbin/") {
			mode = 0o755
		}
		if strings.HasPrefix(rel, "sbin/") {
			rel = "usr/" + rel
		}
		out = append(out, docker.File{Name: "filesystem/" + rel, Mode: mode, Path: p})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading Calico's node filesystem in %s: %w", root, err)
	}
	return out, nil
}

// goModDir is `go list -m` in a wrapper module: the module cache
// directory of path at the version the wrapper requires.
func goModDir(ctx context.Context, dir, path string, env []string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", path)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), baseEnv()...), env...)
	out, err := cmd.CombinedOutput()
	d := strings.TrimSpace(string(out))
	if err != nil || d == "" {
		return "", fmt.Errorf("locating module %s (go list -m in %s): %v: %s", path, dir, err, d)
	}
	return d, nil
}

var calicoCNIWrapper = wrapper{
	dir: "calico", env: calicoEnv,
	binaries: []binary{
		{name: "calico", pkg: "github.com/projectcalico/calico/cni-plugin/cmd/calico", ldflags: calicoStamp("main.VERSION")},
		{name: "install", pkg: "github.com/projectcalico/calico/cni-plugin/cmd/install", ldflags: calicoStamp("main.VERSION")},
	},
}

// calicoCNIDockerfile: the installer and Calico's plugin (calico-ipam is
// the same program under another name), plus the reference plugins its
// network config chains (bandwidth, portmap), as Calico's own image has.
func calicoCNIDockerfile(plugins string) string {
	return `FROM ` + plugins + ` AS plugins
FROM scratch
COPY --from=plugins /plugins/ /opt/cni/bin/
COPY calico /opt/cni/bin/calico
COPY calico /opt/cni/bin/calico-ipam
COPY install /opt/cni/bin/install
ENV PATH=/opt/cni/bin
WORKDIR /opt/cni/bin
CMD ["/opt/cni/bin/install"]
`
}

func calicoCNIImage() images.Image {
	return images.Image{
		Name: NameCalicoCNI, Ref: RefCalicoCNI, Pull: RefCalicoCNI,
		Compiles: calicoModule,
		Purpose:  "Calico CNI plugin and its installer (init container)",
		Needs:    []string{NamePlugins},
		Inputs:   wrapperInputs("cni/calico-cni/1", calicoCNIDockerfile(""), calicoCNIWrapper),
		Build: func(ctx context.Context, b *images.Builder) error {
			plugins, err := b.Ref(NamePlugins)
			if err != nil {
				return err
			}
			bins, err := calicoCNIWrapper.build(ctx, b, filepath.Join(b.Dir, "bin"))
			if err != nil {
				return err
			}
			return b.DockerBuild(ctx, calicoCNIDockerfile(plugins), []docker.File{
				{Name: "calico", Mode: 0o755, Path: bins["calico"]},
				{Name: "install", Mode: 0o755, Path: bins["install"]},
			}, nil)
		},
	}
}

var calicoControllersWrapper = wrapper{
	dir: "calico", env: calicoEnv,
	binaries: []binary{
		{name: "kube-controllers", pkg: "github.com/projectcalico/calico/kube-controllers/cmd/kube-controllers", ldflags: calicoStamp("main.VERSION")},
		{name: "check-status", pkg: "github.com/projectcalico/calico/kube-controllers/cmd/check-status", ldflags: calicoStamp("main.VERSION")},
		{name: "wrapper", pkg: "github.com/projectcalico/calico/kube-controllers/cmd/wrapper"},
	},
}

// calicoControllersDockerfile: Calico's layout, run as user 999 (the
// manifest says runAsNonRoot), which owns the status and profile files.
const calicoControllersDockerfile = `FROM scratch
COPY --chown=999:0 empty /status/status.json
COPY --chown=999:0 empty /profiles/mem.pprof
COPY --chown=999:0 empty /profiles/cpu.pprof
COPY kube-controllers check-status wrapper /usr/bin/
USER 999
ENTRYPOINT ["/usr/bin/wrapper", "/usr/bin/kube-controllers"]
`

func calicoControllersImage() images.Image {
	return images.Image{
		Name: NameCalicoControllers, Ref: RefCalicoControllers, Pull: RefCalicoControllers,
		Compiles: calicoModule,
		Purpose:  "Calico's Kubernetes controllers (IPAM and node garbage collection)",
		Inputs:   wrapperInputs("cni/calico-kube-controllers/1", calicoControllersDockerfile, calicoControllersWrapper),
		Build: func(ctx context.Context, b *images.Builder) error {
			bins, err := calicoControllersWrapper.build(ctx, b, filepath.Join(b.Dir, "bin"))
			if err != nil {
				return err
			}
			files := []docker.File{{Name: "empty", Data: []byte{}}}
			for _, n := range []string{"kube-controllers", "check-status", "wrapper"} {
				files = append(files, docker.File{Name: n, Mode: 0o755, Path: bins[n]})
			}
			return b.DockerBuild(ctx, calicoControllersDockerfile, files, nil)
		},
	}
}

// multusWrapper builds the thin plugin's programs, stamped as Multus's
// hack/build-go.sh does.
var multusWrapper = func() wrapper {
	const pkg = multusModule
	ld := "-X " + pkg + "/pkg/multus.version=" + MultusVersion + " -X " + pkg + "/pkg/multus.gitTreeState=clean -X " + pkg + "/pkg/multus.releaseStatus=,released"
	return wrapper{dir: "multus", binaries: []binary{
		{name: "multus", pkg: pkg + "/cmd/multus", ldflags: ld},
		{name: "passthru", pkg: pkg + "/cmd/passthru-cni", ldflags: ld},
		{name: "install_multus", pkg: pkg + "/cmd/install_multus", ldflags: ld},
		{name: "thin_entrypoint", pkg: pkg + "/cmd/thin_entrypoint", ldflags: ld},
	}}
}()

// multusDockerfile is Multus's thin image layout: install_multus copies
// /usr/src/multus-cni/bin/{multus,passthru} to the host, thin_entrypoint
// writes the multus CNI config and kubeconfig.
const multusDockerfile = `FROM scratch
COPY multus passthru /usr/src/multus-cni/bin/
COPY install_multus thin_entrypoint /
ENTRYPOINT ["/thin_entrypoint"]
`

func multusImage() images.Image {
	return images.Image{
		Name: NameMultus, Ref: RefMultus, Pull: RefMultus,
		Compiles: multusModule,
		Purpose:  "Multus thin plugin (the TMM's extra interfaces)",
		Inputs:   wrapperInputs("cni/multus/1", multusDockerfile, multusWrapper),
		Build: func(ctx context.Context, b *images.Builder) error {
			bins, err := multusWrapper.build(ctx, b, filepath.Join(b.Dir, "bin"))
			if err != nil {
				return err
			}
			var files []docker.File
			for _, n := range []string{"multus", "passthru", "install_multus", "thin_entrypoint"} {
				files = append(files, docker.File{Name: n, Mode: 0o755, Path: bins[n]})
			}
			return b.DockerBuild(ctx, multusDockerfile, files, nil)
		},
	}
}

// Plugins are the CNI reference plugins built (Linux ones).
var Plugins = []string{
	"ipam/dhcp", "ipam/host-local", "ipam/static",
	"main/bridge", "main/dummy", "main/host-device", "main/ipvlan", "main/loopback", "main/macvlan", "main/ptp", "main/tap", "main/vlan",
	"meta/bandwidth", "meta/firewall", "meta/portmap", "meta/sbr", "meta/tuning", "meta/vrf",
}

var pluginsWrapper = func() wrapper {
	w := wrapper{dir: "plugins"}
	for _, p := range Plugins {
		w.binaries = append(w.binaries, binary{
			name: filepath.Base(p), pkg: "github.com/containernetworking/plugins/plugins/" + p,
			ldflags: "-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=" + PluginsVersion,
		})
	}
	return w
}()

// pluginsDockerfile: the plugins in /plugins and a shell to copy them to
// the node (the DaemonSet's init container does, atomically per file).
func pluginsDockerfile(from string) string {
	return `FROM ` + from + `
COPY plugins/ /plugins/
`
}

func pluginsImage() images.Image {
	return images.Image{
		Name: NamePlugins, Ref: RefPlugins,
		Compiles: pluginsModule,
		Purpose:  "CNI reference plugins (macvlan, bridge, host-local, portmap …) installed on every node",
		Needs:    []string{DebianImage},
		Inputs:   wrapperInputs("cni/plugins/1", pluginsDockerfile(""), pluginsWrapper),
		Build: func(ctx context.Context, b *images.Builder) error {
			from, err := b.Ref(DebianImage)
			if err != nil {
				return err
			}
			bins, err := pluginsWrapper.build(ctx, b, filepath.Join(b.Dir, "plugins"))
			if err != nil {
				return err
			}
			var files []docker.File
			for _, w := range pluginsWrapper.binaries {
				files = append(files, docker.File{Name: "plugins/" + w.name, Mode: 0o755, Path: bins[w.name]})
			}
			return b.DockerBuild(ctx, pluginsDockerfile(from), files, nil)
		},
	}
}
