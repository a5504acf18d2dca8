package doctor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// DockerdLog is where --fix sends the output of a dockerd it starts itself
// (no systemd), the same file the lab's CI uses.
const DockerdLog = "/var/log/dockerd.log"

func checkDocker(ctx context.Context, h *host) Result {
	h.connect(ctx) // always afresh: this check is the one that says how docker is
	if h.dockerOK(ctx) {
		f := h.facts
		return Result{
			Status: StatusOK,
			Finding: fmt.Sprintf("Docker %s answers at %s (API %s, default runtime %s, cgroup v%s)",
				f.ServerVersion, f.Host, f.APIVersion, f.DefaultRuntime, f.CgroupVersion),
		}
	}
	r := Result{
		Status:  StatusFail,
		Finding: "no Docker daemon answers: " + firstLine(h.dockerErr.Error()),
		Explanation: "The kind lab runs every Kubernetes node, the router, the client and syslog as " +
			"Docker containers, so nothing can start without a running Docker daemon (dockerd).",
	}
	msg := strings.ToLower(h.dockerErr.Error())
	switch {
	case strings.Contains(msg, "permission denied"):
		r.Explanation += " The daemon is there, but this user may not use its socket."
		r.Fix = "run spklab as root (sudo), or add yourself to the docker group: sudo usermod -aG docker $USER, then log in again"
		return r
	case h.cfg.DockerHost != "" || (os.Getenv("DOCKER_HOST") != "" && !strings.HasPrefix(os.Getenv("DOCKER_HOST"), "unix://")):
		r.Fix = "start the daemon that DOCKER_HOST / --docker-host names, or unset it to use the local one"
		return r
	}
	plan, err := planDockerStart(systemdRuns(), lookPath("systemctl"), lookPath("dockerd"))
	if err != nil {
		r.Explanation += " " + err.Error()
		r.Fix = "install Docker: sudo apt-get install docker.io (Debian's Docker 20.10 works; the doctor then fixes privileged containers)"
		return r
	}
	r.Fix = plan.describe() + " (spklab doctor --fix does this)"
	r.canFix = true
	return r
}

// dockerStart is how to start dockerd on this host.
type dockerStart struct {
	argv []string
	// detached: start the program in its own session with output to
	// DockerdLog and leave it running (no service manager here).
	detached bool
}

func (p dockerStart) describe() string {
	if p.detached {
		return fmt.Sprintf("start it: sudo sh -c '%s >> %s 2>&1 &' (it is not a service: start it again after a reboot)",
			strings.Join(p.argv, " "), DockerdLog)
	}
	return "start it: sudo " + strings.Join(p.argv, " ")
}

// planDockerStart picks systemd's docker service when systemd runs the
// machine, else dockerd itself, detached.
func planDockerStart(systemd bool, systemctl, dockerd string) (dockerStart, error) {
	switch {
	case dockerd == "":
		return dockerStart{}, fmt.Errorf("Docker is not installed (no dockerd on $PATH)")
	case systemd && systemctl != "":
		return dockerStart{argv: []string{systemctl, "start", "docker"}}, nil
	default:
		return dockerStart{argv: []string{dockerd}, detached: true}, nil
	}
}

func systemdRuns() bool {
	_, err := os.Stat("/run/systemd/system")
	return err == nil
}

func lookPath(name string) string {
	p, _ := exec.LookPath(name)
	return p
}

// fixDocker starts dockerd and waits until it answers.
func fixDocker(ctx context.Context, h *host) (string, error) {
	plan, err := planDockerStart(systemdRuns(), lookPath("systemctl"), lookPath("dockerd"))
	if err != nil {
		return "", err
	}
	did := ""
	if plan.detached {
		logf, err := os.OpenFile(DockerdLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return "", fmt.Errorf("opening %s: %w", DockerdLog, err)
		}
		defer logf.Close()
		cmd := exec.Command(plan.argv[0], plan.argv[1:]...)
		cmd.Stdout, cmd.Stderr = logf, logf
		// Its own session: dockerd must outlive this command.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			return "", fmt.Errorf("starting %s: %w", plan.argv[0], err)
		}
		did = fmt.Sprintf("started %s (pid %d) logging to %s; it is not a service, so start it again after a reboot",
			plan.argv[0], cmd.Process.Pid, DockerdLog)
		_ = cmd.Process.Release()
	} else {
		if out, err := exec.CommandContext(ctx, plan.argv[0], plan.argv[1:]...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("%s: %w: %s", strings.Join(plan.argv, " "), err, strings.TrimSpace(string(out)))
		}
		did = "ran " + strings.Join(plan.argv, " ")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		h.connect(ctx)
		if h.dockerOK(ctx) {
			return did, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return did, fmt.Errorf("dockerd did not answer within 30 s (see %s): %w", DockerdLog, h.dockerErr)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
