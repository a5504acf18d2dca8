package doctor

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spklab/spklab/host/doctor/capset"
	"github.com/spklab/spklab/host/doctor/runcwrap"
)

// ProbeImage is the throwaway image the privileged check runs: nothing but
// the static spklab-runc binary as /spklab-probe, made with docker import
// (no registry needed).
const ProbeImage = "spklab/doctor-probe:latest"

// Labels of the probe image and container.
const (
	labelImage  = "io.spklab.image"
	labelInputs = "io.spklab.inputs"
	labelDoctor = "io.spklab.doctor"
)

// capGap is what the machine cannot grant: dockerd's capability bounding
// set and the capabilities the kernel knows that are missing from it.
type capGap struct {
	Bounding capset.Set
	Missing  []string
	Source   string // whose set: "dockerd (pid N)" or "this process"
}

func readCapGap() (capGap, error) {
	g := capGap{Source: "this process"}
	pid := "self"
	if d, err := findDockerd(); err == nil {
		pid, g.Source = strconv.Itoa(d.PID), fmt.Sprintf("dockerd (pid %d)", d.PID)
	}
	b, err := capset.OfProcess(pid, capset.Bounding)
	if err != nil {
		return g, err
	}
	last, err := capset.LastCap()
	if err != nil {
		return g, err
	}
	g.Bounding, g.Missing = b, b.Missing(last)
	return g, nil
}

// dockerMajor is the major number of a Docker version ("20.10.24+dfsg1" → 20).
func dockerMajor(v string) int {
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		return 0
	}
	return n
}

// FixedIn is the Docker release that stopped asking --privileged containers
// for capabilities the host lacks (moby#42906).
const FixedIn = 23

// privilegedExplanation says why privileged containers fail here.
func privilegedExplanation(version string, g capGap) string {
	return fmt.Sprintf("kind runs every Kubernetes node as a --privileged container. Docker %s, like every Docker "+
		"before %d.0, gives a privileged container every capability the kernel knows, even ones this machine "+
		"cannot grant (moby#42906). The capability bounding set of %s is %s and lacks %s: not even root may "+
		"hold those, so runc fails with \"unable to apply caps: operation not permitted\" and the container never starts.",
		version, FixedIn, g.Source, g.Bounding, strings.Join(g.Missing, ", "))
}

const privilegedFix = "spklab doctor --fix installs spklab-runc, a runc wrapper that removes the capabilities this " +
	"machine cannot grant from each container's config and then runs the real runc, as dockerd's default runtime " +
	"(daemon.json runtimes + default-runtime, then SIGHUP: no restart, running containers keep running). " +
	"Undo: spklab doctor --undo-runc-wrapper. Or use Docker 23 or later."

func checkPrivileged(ctx context.Context, h *host) Result {
	if !h.dockerOK(ctx) {
		return notChecked(errNoDocker)
	}
	gap, gapErr := readCapGap()
	affected := gapErr == nil && len(gap.Missing) > 0 && dockerMajor(h.facts.ServerVersion) < FixedIn
	probe, err := h.findWrapperBinary()
	if err != nil {
		if affected && h.facts.DefaultRuntime != WrapperRuntime {
			return Result{
				Status:      StatusFail,
				Finding:     fmt.Sprintf("privileged containers cannot start: %s lacks %s (not tried: %v)", gap.Source, strings.Join(gap.Missing, ", "), err),
				Explanation: privilegedExplanation(h.facts.ServerVersion, gap),
				Fix:         "build spklab-runc first (make build), then: " + privilegedFix,
			}
		}
		return notChecked(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	out, err := runProbe(ctx, h, probe)
	if err == nil {
		via := "runtime " + h.facts.DefaultRuntime
		if h.facts.DefaultRuntime == WrapperRuntime && gapErr == nil && len(gap.Missing) > 0 {
			via = fmt.Sprintf("through %s, which drops %s", WrapperRuntime, strings.Join(gap.Missing, ", "))
		}
		return Result{Status: StatusOK, Finding: fmt.Sprintf("a --privileged container starts (%s): %s", via, firstLine(out))}
	}
	r := Result{
		Status:  StatusFail,
		Finding: "a --privileged container does not start: " + dockerMessage(err),
	}
	if strings.Contains(err.Error(), "apply caps") && gapErr == nil && len(gap.Missing) > 0 {
		r.Explanation = privilegedExplanation(h.facts.ServerVersion, gap)
		r.Fix = privilegedFix
		r.canFix = h.facts.DefaultRuntime != WrapperRuntime || !strings.HasPrefix(h.facts.Runtimes[WrapperRuntime], h.cfg.installDir())
		if !r.canFix {
			r.Fix = fmt.Sprintf("%s is already dockerd's default runtime and the container still fails: look at dockerd's log", WrapperRuntime)
		}
		return r
	}
	r.Explanation = "kind runs every Kubernetes node as a --privileged container, so no cluster can start until they do."
	r.Fix = "read the message above and dockerd's log (journalctl -u docker, or " + DockerdLog + ")"
	return r
}

// runProbe makes (once per wrapper build) the probe image and runs it
// privileged.
func runProbe(ctx context.Context, h *host, binary string) (string, error) {
	data, err := os.ReadFile(binary)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", binary, err)
	}
	if err := checkStatic(binary); err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	inputs := hex.EncodeToString(sum[:8])
	have, found, err := probeLabel(ctx, h.docker, ProbeImage, labelInputs)
	if err != nil {
		return "", err
	}
	if !found || have != inputs {
		changes := []string{
			`CMD ["/` + runcwrap.ProbeName + `"]`,
			"LABEL " + labelImage + "=doctor-probe",
			"LABEL " + labelInputs + "=" + inputs,
		}
		if err := importProbe(ctx, h.docker, ProbeImage, runcwrap.ProbeName, data, changes); err != nil {
			return "", err
		}
		h.log.Info("made the probe image", "image", ProbeImage, "from", binary)
	}
	return runPrivileged(ctx, h.docker, ProbeImage, map[string]string{labelDoctor: "probe"})
}

// checkStatic refuses a dynamically linked probe: the image holds nothing
// else, so it could not start for a reason unrelated to privileges.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not a Linux program: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; build it with CGO_ENABLED=0", path)
		}
	}
	return nil
}

func fixPrivileged(ctx context.Context, h *host) (string, error) {
	changes, err := h.installWrapper(ctx)
	if len(changes) == 0 && err == nil {
		return "nothing to change: the wrapper was already installed and active", nil
	}
	return strings.Join(changes, "; "), err
}

// dockerMessage keeps the part of a dockerd/runc error chain a student can
// act on: runc's own words when they are there.
func dockerMessage(err error) string {
	msg := firstLine(err.Error())
	if i := strings.Index(msg, "unable to start container process: "); i >= 0 {
		msg = "runc: " + strings.TrimSuffix(msg[i+len("unable to start container process: "):], ": unknown")
	}
	if len(msg) > 240 {
		msg = msg[:240] + "…"
	}
	return msg
}
