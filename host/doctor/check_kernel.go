package doctor

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/sys/unix"
)

// feature is a kernel feature the lab needs, by module and config symbol.
type feature struct {
	Module, Config, Why string
}

func features() []feature {
	return []feature{
		{"macvlan", "CONFIG_MACVLAN", "external-net and egress-net are macvlan networks"},
		{"vxlan", "CONFIG_VXLAN", "Calico's VXLAN backend and the tenants' egress tunnels"},
		{"br_netfilter", "CONFIG_BRIDGE_NETFILTER", "kube-proxy and Calico filter bridged pod traffic with iptables"},
		{"overlay", "CONFIG_OVERLAY_FS", "Docker's overlay2 storage and containerd inside the kind nodes"},
	}
}

// kernelFacts is what the host says about its modules, from every source
// there is (monolithic kernels have no /proc/modules nor modprobe).
type kernelFacts struct {
	Loaded     map[string]bool // /proc/modules
	SysModule  map[string]bool // /sys/module/<name> exists
	Builtin    map[string]bool // modules.builtin
	Config     map[string]string
	HaveConfig bool
	// Active: the feature is visibly working (bridge sysctls, overlay in
	// /proc/filesystems).
	Active map[string]bool
	// Modprobe: modprobe -n succeeded (nil map: no modprobe to ask).
	Modprobe map[string]bool
}

// Module states.
const (
	modLoaded   = "loaded"
	modBuiltin  = "built in"
	modActive   = "active"
	modLoadable = "loadable, not loaded"
	modMissing  = "missing from this kernel"
	modUnknown  = "unknown"
)

// moduleState judges one feature from the facts.
func moduleState(f feature, k kernelFacts) string {
	switch {
	case k.Loaded[f.Module]:
		return modLoaded
	case k.Builtin[f.Module] || k.Config[f.Config] == "y":
		return modBuiltin
	case k.Active[f.Module] || k.SysModule[f.Module]:
		return modActive
	case k.Config[f.Config] == "m" || k.Modprobe[f.Module]:
		return modLoadable
	case k.HaveConfig || k.Modprobe != nil:
		return modMissing
	}
	return modUnknown
}

// parseKernelConfig reads "CONFIG_X=y|m" and "# CONFIG_X is not set" lines.
func parseKernelConfig(r io.Reader) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "# "); ok {
			if sym, ok := strings.CutSuffix(name, " is not set"); ok {
				out[sym] = "n"
			}
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "CONFIG_") {
			out[k] = v
		}
	}
	return out
}

// parseProcModules lists the modules /proc/modules names.
func parseProcModules(r io.Reader) map[string]bool {
	out := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 {
			out[f[0]] = true
		}
	}
	return out
}

// parseModulesBuiltin lists modules.builtin entries ("kernel/drivers/net/macvlan.ko").
func parseModulesBuiltin(r io.Reader) map[string]bool {
	out := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		base := sc.Text()
		if i := strings.LastIndex(base, "/"); i >= 0 {
			base = base[i+1:]
		}
		if name, ok := strings.CutSuffix(base, ".ko"); ok {
			out[strings.ReplaceAll(name, "-", "_")] = true
		}
	}
	return out
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// gatherKernelFacts reads every source there is on this host.
func gatherKernelFacts(ctx context.Context) kernelFacts {
	k := kernelFacts{Loaded: map[string]bool{}, SysModule: map[string]bool{}, Builtin: map[string]bool{}, Config: map[string]string{}, Active: map[string]bool{}}
	release := kernelRelease()
	if f, err := os.Open("/proc/modules"); err == nil {
		k.Loaded = parseProcModules(f)
		f.Close()
	}
	if f, err := os.Open("/lib/modules/" + release + "/modules.builtin"); err == nil {
		k.Builtin = parseModulesBuiltin(f)
		f.Close()
	}
	if data, err := os.ReadFile("/proc/config.gz"); err == nil {
		if zr, err := gzip.NewReader(bytes.NewReader(data)); err == nil {
			k.Config, k.HaveConfig = parseKernelConfig(zr), true
		}
	} else if f, err := os.Open("/boot/config-" + release); err == nil {
		k.Config, k.HaveConfig = parseKernelConfig(f), true
		f.Close()
	}
	if _, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-iptables"); err == nil {
		k.Active["br_netfilter"] = true
	}
	if data, err := os.ReadFile("/proc/filesystems"); err == nil && strings.Contains(string(data), "\toverlay\n") {
		k.Active["overlay"] = true
	}
	modprobe := lookPath("modprobe")
	for _, f := range features() {
		if _, err := os.Stat("/sys/module/" + f.Module); err == nil {
			k.SysModule[f.Module] = true
		}
		if modprobe != "" {
			if k.Modprobe == nil {
				k.Modprobe = map[string]bool{}
			}
			k.Modprobe[f.Module] = exec.CommandContext(ctx, modprobe, "-n", f.Module).Run() == nil
		}
	}
	return k
}

// cgroupVersion names the cgroup layout mounted at /sys/fs/cgroup.
func cgroupVersion() string {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return "unknown"
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "v2"
	}
	if err := unix.Statfs("/sys/fs/cgroup/unified", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "v1 (hybrid)"
	}
	return "v1"
}

func checkKernel(ctx context.Context, _ *host) Result {
	k := gatherKernelFacts(ctx)
	var parts, missing, loadable, unknown, why []string
	for _, f := range features() {
		st := moduleState(f, k)
		parts = append(parts, f.Module+" "+st)
		switch st {
		case modMissing:
			missing = append(missing, f.Module)
			why = append(why, f.Module+": "+f.Why)
		case modLoadable:
			loadable = append(loadable, f.Module)
			why = append(why, f.Module+": "+f.Why)
		case modUnknown:
			unknown = append(unknown, f.Module)
		}
	}
	r := Result{Status: StatusOK, Finding: strings.Join(parts, ", ") + "; cgroup " + cgroupVersion() + " (kind runs on v1 and v2)"}
	switch {
	case len(missing) > 0:
		r.Status = StatusFail
		r.Explanation = "The lab needs these kernel features: " + strings.Join(why, "; ") + ". This kernel has none of " + strings.Join(missing, ", ") + "."
		r.Fix = "use a kernel built with them (Debian's standard kernel has them all as modules)"
	case len(loadable) > 0:
		r.Status = StatusWarn
		r.Explanation = "These modules are available but not loaded: " + strings.Join(why, "; ") + ". Docker and kind load most of them on demand, but not from inside containers."
		r.Fix = "sudo modprobe -a " + strings.Join(loadable, " ") + " (spklab doctor --fix does this)"
		r.canFix = true
	case len(unknown) > 0:
		r.Status = StatusWarn
		r.Explanation = "Could not tell whether the kernel has " + strings.Join(unknown, ", ") + ": no /proc/modules entry, no kernel config and no modprobe to ask."
		r.Fix = "check by hand: ls /sys/module, or zgrep the CONFIG_ symbols in /proc/config.gz"
	}
	return r
}

// fixKernel loads the modules that are loadable but not loaded.
func fixKernel(ctx context.Context, _ *host) (string, error) {
	k := gatherKernelFacts(ctx)
	var loaded []string
	for _, f := range features() {
		if moduleState(f, k) != modLoadable {
			continue
		}
		if out, err := exec.CommandContext(ctx, "modprobe", f.Module).CombinedOutput(); err != nil {
			return "loaded " + strings.Join(loaded, " "), fmt.Errorf("modprobe %s: %w: %s", f.Module, err, strings.TrimSpace(string(out)))
		}
		loaded = append(loaded, f.Module)
	}
	return "loaded " + strings.Join(loaded, " ") + " (modprobe; not persistent: list them in /etc/modules-load.d/spklab.conf to load them at boot)", nil
}
