// Package spkimages defines the lab's own images, built offline from Debian
// packages and this repository: a Debian bookworm base (debootstrap), the
// router (FRR 8.4), the client (nginx echoing the caller's address on
// /txt), syslog (rsyslog) and our spk-tmm, spk-controller and spk-node.
package spkimages

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spklab/spklab/host/docker"
	"github.com/spklab/spklab/images"
)

// Catalog names.
const (
	Debian     = "debian"
	FRR        = "frr"
	Client     = "client"
	App        = "app"
	Syslog     = "syslog"
	TMM        = "spk-tmm"
	Controller = "spk-controller"
	NodeAgent  = "spk-node"
)

// Refs are the names the lab runs the images under (the topology's
// images: block); empty fields get DefaultRefs'.
type Refs struct {
	Debian, Router, Client, App, Syslog, TMM, Controller, NodeAgent string
}

// DefaultRefs match the default topology's images.
func DefaultRefs() Refs {
	return Refs{
		Debian:     "spklab/debian:bookworm",
		Router:     "spklab/frr:8.4",
		Client:     "spklab/nginx:1.22",
		App:        "spklab/nginx:1.22",
		Syslog:     "spklab/rsyslog:8.2302",
		TMM:        "spklab/spk-tmm:dev",
		Controller: "spklab/spk-controller:dev",
		NodeAgent:  "spklab/spk-node:dev",
	}
}

// Options configure the catalog.
type Options struct {
	Refs Refs
	// SrcDir is the spklab source tree our binaries are built from; ""
	// finds it from the working directory.
	SrcDir string
	// BinDir keeps the built binaries; "" is DefaultBinDir().
	BinDir string
	// Version is stamped into our binaries; "" is the Makefile's (git
	// describe --tags --always --dirty, else "dev").
	Version string
	// AptRoot is where the host's apt configuration is read from; "" is "/".
	AptRoot string
}

// Images returns the catalog: the base first, then what is built on it.
// The app image (tenant pods) is listed only when its ref differs from the
// client's, since one image serves both otherwise.
func Images(o Options) ([]images.Image, error) {
	refs := o.Refs
	def := DefaultRefs()
	for _, f := range []struct {
		v *string
		d string
	}{
		{&refs.Debian, def.Debian}, {&refs.Router, def.Router}, {&refs.Client, def.Client}, {&refs.App, def.App},
		{&refs.Syslog, def.Syslog}, {&refs.TMM, def.TMM}, {&refs.Controller, def.Controller}, {&refs.NodeAgent, def.NodeAgent},
	} {
		if *f.v == "" {
			*f.v = f.d
		}
	}
	binDir := o.BinDir
	if binDir == "" {
		d, err := DefaultBinDir()
		if err != nil {
			return nil, err
		}
		binDir = d
	}
	aptRoot := o.AptRoot
	if aptRoot == "" {
		aptRoot = "/"
	}
	bins := &binaries{srcDir: o.SrcDir, binDir: binDir, version: o.Version}
	clientRecipe, err := clientRecipe()
	if err != nil {
		return nil, err
	}
	imgs := []images.Image{
		debianImage(refs.Debian, aptRoot),
		aptImage(FRR, refs.Router, "the external router (FRR 8.4, BGP with the TMMs); /etc/frr mounted from frr/", frrRecipe),
		aptImage(Client, refs.Client, "the client (nginx; /txt echoes the caller's address, curl)", clientRecipe),
	}
	if refs.App != refs.Client {
		imgs = append(imgs, aptImage(App, refs.App, "the tenants' app pods (nginx answering with the pod's name)", clientRecipe))
	}
	imgs = append(imgs,
		aptImage(Syslog, refs.Syslog, "syslog server (rsyslog on UDP/TCP 514; TMM logs there)", syslogRecipe),
		goImage(bins, TMM, refs.TMM, "the emulated TMM data plane (with nftables and iproute2)", tmmRecipe),
		goImage(bins, Controller, refs.Controller, "the SPK controller (static binary, no OS)", controllerRecipe),
		goImage(bins, NodeAgent, refs.NodeAgent, "the node agent DaemonSet (static binary, netlink only)", nodeRecipe),
	)
	return imgs, nil
}

// --- Debian base -----------------------------------------------------------

const suite = "bookworm"

// debianImage is debootstrap --variant=minbase, imported as one layer, with
// the host's Debian sources so later apt-get install works the way the
// host's does.
func debianImage(ref, aptRoot string) images.Image {
	return images.Image{
		Name:    Debian,
		Ref:     ref,
		Purpose: "Debian " + suite + " minbase (debootstrap): the base of the other images",
		Inputs: func(context.Context) (string, error) {
			return images.NewHash("debian/v2").String("suite", suite).String("variant", "minbase").
				Strings("cleanup files", debianCleanup.files...).Strings("cleanup trees", debianCleanup.trees...).
				String("apt settings", aptSettings).String("dpkg settings", dpkgNoDocs).Sum()
		},
		Build: func(ctx context.Context, b *images.Builder) error {
			sources, err := hostAptSources(aptRoot)
			if err != nil {
				return err
			}
			mirror, err := mirrorFor(sources, suite)
			if err != nil {
				return err
			}
			acquire, err := hostAcquireOptions(aptRoot)
			if err != nil {
				return err
			}
			root := filepath.Join(b.Dir, "rootfs")
			cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", suite, root, mirror)
			var tailBuf tailWriter
			cmd.Stdout = io.MultiWriter(outputOr(b.Output), &tailBuf)
			cmd.Stderr = cmd.Stdout
			// On interrupt, SIGTERM lets debootstrap unmount the target's
			// /proc and /sys itself; whatever is left is detached below.
			cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
			cmd.WaitDelay = 15 * time.Second
			err = cmd.Run()
			if uerr := images.UnmountUnder(root); uerr != nil && err == nil {
				err = uerr
			}
			if err != nil {
				return fmt.Errorf("debootstrap --variant=minbase %s (Debian package debootstrap, root): %w\n%s", suite, err, tailBuf.String())
			}
			if err := prepareRootfs(root, sources, acquire); err != nil {
				return err
			}
			return importDir(ctx, b, root, "ENV LANG=C.UTF-8", `CMD ["/bin/bash"]`)
		},
	}
}

// debianCleanup is what prepareRootfs removes (part of the base's
// inputs): caches, logs and debootstrap's sources.list (files), and
// documentation but licences (whole trees; the dpkg config below keeps it
// out of later installs too).
var debianCleanup = struct{ files, trees []string }{
	files: []string{"var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*", "var/log/*", "var/log/apt/*", "etc/apt/sources.list"},
	trees: []string{"usr/share/doc/*/*", "usr/share/man/*", "usr/share/info/*", "usr/share/locale/*"},
}

func prepareRootfs(root string, sources []aptSource, acquire string) error {
	for _, pattern := range debianCleanup.files {
		matches, _ := filepath.Glob(filepath.Join(root, pattern))
		for _, m := range matches {
			if st, err := os.Lstat(m); err == nil && !st.IsDir() {
				os.Remove(m)
			}
		}
	}
	for _, pattern := range debianCleanup.trees {
		matches, _ := filepath.Glob(filepath.Join(root, pattern))
		for _, m := range matches {
			// Licences and the locale alias list stay.
			if b := filepath.Base(m); b == "locale.alias" || b == "copyright" {
				continue
			}
			if err := os.RemoveAll(m); err != nil {
				return fmt.Errorf("preparing the base root filesystem: %w", err)
			}
		}
	}
	files := map[string]string{
		"etc/apt/sources.list.d/debian.sources": deb822(sources),
		"etc/apt/apt.conf.d/90spklab":           aptSettings,
		"etc/dpkg/dpkg.cfg.d/90spklab-nodoc":    dpkgNoDocs,
	}
	if acquire != "" {
		files["etc/apt/apt.conf.d/89spklab-host"] = acquire
	}
	for name, text := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("preparing the base root filesystem: %w", err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return fmt.Errorf("preparing the base root filesystem: %w", err)
		}
	}
	return nil
}

// Images stay small: no recommends, no apt cache, no documentation.
const (
	aptSettings = "APT::Install-Recommends \"false\";\nAPT::Install-Suggests \"false\";\n" +
		"DPkg::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true\"; };\n"
	dpkgNoDocs = "path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\n" +
		"path-exclude /usr/share/locale/*\npath-include /usr/share/locale/locale.alias\n"
)

// importDir imports a root filesystem directory; tar(1) keeps device
// nodes, hard links, owners and extended attributes as they are.
func importDir(ctx context.Context, b *images.Builder, root string, changes ...string) error {
	cmd := exec.CommandContext(ctx, "tar", "--numeric-owner", "--xattrs", "-C", root, "-c", ".")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr tailWriter
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("tar of %s: %w", root, err)
	}
	ierr := b.Import(ctx, out, changes...)
	if ierr != nil {
		io.Copy(io.Discard, out)
	}
	werr := cmd.Wait()
	if ierr != nil {
		return ierr
	}
	if werr != nil {
		return fmt.Errorf("tar of %s: %w: %s", root, werr, stderr.String())
	}
	return nil
}

// --- images on the base ----------------------------------------------------

// recipe is a Dockerfile on the base (its FROM line is added) and the
// files of its context.
type recipe struct {
	dockerfile string
	files      []docker.File
}

// aptImage is a Debian-based image: the recipe's text and files are its
// inputs (the base's hash is folded in by the framework).
func aptImage(name, ref, purpose string, r recipe) images.Image {
	return images.Image{
		Name:    name,
		Ref:     ref,
		Purpose: purpose,
		Needs:   []string{Debian},
		Inputs: func(context.Context) (string, error) {
			return hashRecipe(name+"/v1", r, nil).Sum()
		},
		Build: func(ctx context.Context, b *images.Builder) error {
			base, err := b.Ref(Debian)
			if err != nil {
				return err
			}
			return b.DockerBuild(ctx, "FROM "+base+"\n"+r.dockerfile, r.files, nil)
		},
	}
}

func hashRecipe(name string, r recipe, binary *string) *images.Hash {
	h := images.NewHash(name).String("dockerfile", r.dockerfile)
	for _, f := range r.files {
		h.String("file "+f.Name, fmt.Sprintf("%o", f.Mode.Perm())).Bytes("data "+f.Name, f.Data)
	}
	if binary != nil {
		h.File(*binary)
	}
	return h
}

// goRecipe is an image carrying one of our commands: its Dockerfile
// copies the binary from the context under its own name; base is
// Debian (needs the base image) or "scratch".
type goRecipe struct {
	fromDebian bool
	recipe
}

func goImage(bins *binaries, name, ref, purpose string, r goRecipe) images.Image {
	img := images.Image{
		Name:    name,
		Ref:     ref,
		Purpose: purpose,
		Inputs: func(ctx context.Context) (string, error) {
			p, err := bins.path(ctx, name)
			if err != nil {
				return "", err
			}
			return hashRecipe(name+"/v1", r.recipe, &p).String("from debian", fmt.Sprint(r.fromDebian)).Sum()
		},
		Build: func(ctx context.Context, b *images.Builder) error {
			p, err := bins.path(ctx, name)
			if err != nil {
				return err
			}
			from := "scratch"
			if r.fromDebian {
				if from, err = b.Ref(Debian); err != nil {
					return err
				}
			}
			files := append([]docker.File{{Name: name, Mode: 0o755, Path: p}}, r.files...)
			return b.DockerBuild(ctx, "FROM "+from+"\n"+r.dockerfile, files, nil)
		},
	}
	if r.fromDebian {
		img.Needs = []string{Debian}
	}
	return img
}

// tailWriter keeps the last few KiB written to it, for error messages.
type tailWriter struct{ b []byte }

func (t *tailWriter) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tailWriter) String() string { return strings.TrimSpace(string(t.b)) }

func outputOr(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
