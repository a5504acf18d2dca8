package doctor

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// inotify limits kind needs for a multi-node cluster (kind's "known
// issues": every node runs systemd, kubelet and containerd, each watching
// files, and the limits are per user — all nodes run as root).
const (
	MinInotifyInstances = 512
	MinInotifyWatches   = 524288
)

// inotifySysctl is one inotify limit: its /proc/sys file and minimum.
type inotifySysctl struct {
	Name string // sysctl name
	Min  int
}

func inotifySysctls() []inotifySysctl {
	return []inotifySysctl{
		{"fs.inotify.max_user_instances", MinInotifyInstances},
		{"fs.inotify.max_user_watches", MinInotifyWatches},
	}
}

func sysctlPath(name string) string { return "/proc/sys/" + strings.ReplaceAll(name, ".", "/") }

func readSysctlInt(name string) (int, error) {
	data, err := os.ReadFile(sysctlPath(name))
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", name, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, fmt.Errorf("%s = %q: %w", name, data, err)
	}
	return n, nil
}

func checkInotify(_ context.Context, _ *host) Result {
	var have, low, fixes []string
	for _, s := range inotifySysctls() {
		v, err := readSysctlInt(s.Name)
		if err != nil {
			return notChecked(err)
		}
		have = append(have, fmt.Sprintf("%s=%d", s.Name, v))
		if v < s.Min {
			low = append(low, fmt.Sprintf("%s is %d (needs ≥ %d)", s.Name, v, s.Min))
			fixes = append(fixes, fmt.Sprintf("%s=%d", s.Name, s.Min))
		}
	}
	if len(low) == 0 {
		return Result{Status: StatusOK, Finding: strings.Join(have, ", ") + fmt.Sprintf(" (kind needs ≥ %d and ≥ %d)", MinInotifyInstances, MinInotifyWatches)}
	}
	return Result{
		Status:  StatusFail,
		Finding: strings.Join(low, "; "),
		Explanation: "Every kind node runs systemd, kubelet and containerd, which watch files with inotify; the limits " +
			"count for all of them together (they all run as root). With the small defaults, pods and nodes fail " +
			"with \"too many open files\" once a few nodes run.",
		Fix: "sudo sysctl -w " + strings.Join(fixes, " ") + " (spklab doctor --fix does this; it lasts until reboot: " +
			"to keep it, put those lines in /etc/sysctl.d/99-spklab.conf)",
		canFix: true,
	}
}

// fixInotify raises (never lowers) the limits in the running kernel.
func fixInotify(_ context.Context, _ *host) (string, error) {
	var did []string
	for _, s := range inotifySysctls() {
		v, err := readSysctlInt(s.Name)
		if err != nil {
			return strings.Join(did, ", "), err
		}
		if v >= s.Min {
			continue
		}
		if err := os.WriteFile(sysctlPath(s.Name), []byte(strconv.Itoa(s.Min)), 0o644); err != nil {
			return strings.Join(did, ", "), fmt.Errorf("setting %s: %w", s.Name, err)
		}
		did = append(did, fmt.Sprintf("%s %d → %d", s.Name, v, s.Min))
	}
	return "set " + strings.Join(did, ", ") + " in the running kernel (not persistent: lost at reboot; " +
		"add them to /etc/sysctl.d/99-spklab.conf to keep them)", nil
}

// Memory and disk the lab needs. The kind lab's measured steady state is
// 2.0–2.6 GiB; builds (Go, Kubernetes) need more headroom. Images: ~1.3 GB
// in docker plus a copy in each of the 4 nodes' containerd and the node
// image itself ≈ 8 GiB; image builds and kind's own layers want more.
const (
	GiB             = 1 << 30
	WantMemory      = 4 * GiB
	MinMemory       = 5 * GiB / 2 // below the lab's measured steady state
	WantDisk        = 15 * GiB
	MinDisk         = 8 * GiB
	memoryRationale = "the lab's measured steady state is 2.0–2.6 GiB of host memory; image builds want more"
	diskRationale   = "the images take ~1.3 GB in Docker plus a copy in each kind node and the node image (≈ 8 GiB); builds want more"
)

// meminfo reads MemTotal and MemAvailable (bytes) from /proc/meminfo text.
func meminfo(r io.Reader) (total, available uint64, err error) {
	sc := bufio.NewScanner(r)
	found := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || (f[0] != "MemTotal:" && f[0] != "MemAvailable:") {
			continue
		}
		kb, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("meminfo %s: %w", f[0], err)
		}
		if f[0] == "MemTotal:" {
			total = kb * 1024
		} else {
			available = kb * 1024
		}
		found++
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if found < 2 {
		return 0, 0, fmt.Errorf("meminfo has no MemTotal/MemAvailable")
	}
	return total, available, nil
}

// gib formats bytes as GiB with one decimal.
func gib(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/GiB) }

// judge grades an amount against a wanted and a minimum figure.
func judge(have, want, min uint64) Status {
	switch {
	case have >= want:
		return StatusOK
	case have >= min:
		return StatusWarn
	}
	return StatusFail
}

func checkMemory(_ context.Context, _ *host) Result {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return notChecked(err)
	}
	defer f.Close()
	total, avail, err := meminfo(f)
	if err != nil {
		return notChecked(err)
	}
	r := Result{
		Status: judge(avail, WantMemory, MinMemory),
		Finding: fmt.Sprintf("%s available of %s (wants ≥ %s, needs ≥ %s)",
			gib(avail), gib(total), gib(WantMemory), gib(MinMemory)),
	}
	if r.Status != StatusOK {
		r.Explanation = "Four kind nodes, Calico, Multus, the SPK pods and the infra containers share this memory: " + memoryRationale + "."
		r.Fix = "close other programs or give the machine more memory"
	}
	return r
}

func checkDisk(ctx context.Context, h *host) Result {
	dir, where := "/var/lib/docker", "Docker's default root (docker not reachable)"
	if h.dockerOK(ctx) && h.facts.RootDir != "" {
		dir, where = h.facts.RootDir, "DockerRootDir"
	}
	for {
		if _, err := os.Stat(dir); err == nil || dir == "/" {
			break
		}
		dir = filepath.Dir(dir)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return notChecked(fmt.Errorf("statfs %s: %w", dir, err))
	}
	free := st.Bavail * uint64(st.Bsize)
	size := st.Blocks * uint64(st.Bsize)
	r := Result{
		Status: judge(free, WantDisk, MinDisk),
		Finding: fmt.Sprintf("%s free of %s at %s, %s (wants ≥ %s, needs ≥ %s)",
			gib(free), gib(size), dir, where, gib(WantDisk), gib(MinDisk)),
	}
	if r.Status != StatusOK {
		r.Explanation = "Docker keeps every image and container layer there: " + diskRationale + "."
		r.Fix = "free space there (docker system prune removes unused images and build cache), or move Docker's data-root to a bigger disk"
	}
	return r
}
