// Package doctor checks that this host can run the lab — docker answers,
// privileged containers start, inotify limits, lab subnets free, kernel
// features, memory and disk for the kind lab; the host programs of the
// netns lab and the benchmark — and explains each problem in plain
// words with its fix. With Fix set it repairs what it can (start dockerd,
// install the spklab-runc runtime wrapper, raise inotify limits, load
// modules) and checks again.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"github.com/spklab/spklab/host/docker"
	"log/slog"
	"time"

	"github.com/spklab/spklab/topology"
)

// Status is the outcome of one check.
type Status string

// Statuses. Only StatusFail blocks the lab.
const (
	StatusOK    Status = "ok"
	StatusWarn  Status = "warn"
	StatusFail  Status = "fail"
	StatusFixed Status = "fixed" // failed or warned, --fix repaired it, the re-check passed
)

// Check IDs, in the order they run.
const (
	CheckDocker     = "docker"
	CheckPrivileged = "privileged"
	CheckInotify    = "inotify"
	CheckSubnets    = "subnets"
	CheckKernel     = "kernel"
	CheckLinks      = "links"
	CheckMemory     = "memory"
	CheckDisk       = "disk"
	CheckTools      = "netns-tools"
)

// Result is what one check found.
type Result struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Status Status `json:"status"`
	// Blocking is true while the problem stops the lab (status fail).
	Blocking bool `json:"blocking"`
	// Finding is one line: what was seen, with the figures.
	Finding string `json:"finding"`
	// Explanation says in plain words why it matters.
	Explanation string `json:"explanation,omitempty"`
	// Fix is the command that repairs it, or what --fix did.
	Fix      string        `json:"fix,omitempty"`
	Duration time.Duration `json:"-"`
	// canFix says --fix knows how to repair this finding.
	canFix bool
}

// Report is a whole doctor run.
type Report struct {
	Checks   []Result      `json:"checks"`
	Fix      bool          `json:"fix"` // --fix was given
	Duration time.Duration `json:"-"`
}

// Blocking lists the IDs of checks whose problem stops the lab.
func (r *Report) Blocking() []string {
	var ids []string
	for _, c := range r.Checks {
		if c.Blocking {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// Result returns the check with that ID.
func (r *Report) Result(id string) (Result, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return Result{}, false
}

// Config says what to check and whether to fix.
type Config struct {
	// Topology gives the lab's subnets; nil uses the default lab.
	Topology *topology.Topology
	// Fix repairs what can be repaired, then checks again.
	Fix bool
	// Only runs just these check IDs (nil: all).
	Only []string
	// DockerHost overrides DOCKER_HOST (e.g. unix:///var/run/docker.sock).
	DockerHost string
	// WrapperBinary is the spklab-runc program to install and to use as the
	// probe; "" looks beside this executable, then on $PATH, then at the
	// installed copy.
	WrapperBinary string
	// InstallDir is where the wrapper is installed (default InstallDir).
	InstallDir string
	Logger     *slog.Logger
}

// InstallDir is where --fix installs spklab-runc: outside the build tree,
// because dockerd runs it for every container from then on.
const InstallDir = "/usr/local/libexec/spklab"

func (c Config) installDir() string {
	if c.InstallDir != "" {
		return c.InstallDir
	}
	return InstallDir
}

func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// check is one host check: run finds, fix (if any) repairs.
type check struct {
	id, title string
	run       func(context.Context, *host) Result
	fix       func(context.Context, *host) (string, error)
}

func checks() []check {
	return []check{
		{CheckDocker, "Docker answers", checkDocker, fixDocker},
		{CheckPrivileged, "Privileged containers start", checkPrivileged, fixPrivileged},
		{CheckInotify, "inotify limits for kind", checkInotify, fixInotify},
		{CheckSubnets, "Lab subnets are free", checkSubnets, nil},
		{CheckKernel, "Kernel features", checkKernel, fixKernel},
		{CheckLinks, "Network device types", checkLinks, nil},
		{CheckMemory, "Free memory", checkMemory, nil},
		{CheckDisk, "Free disk for images", checkDisk, nil},
		{CheckTools, "Host programs of the netns lab and the benchmark", checkTools, nil},
	}
}

// CheckIDs lists every check, in the order they run.
func CheckIDs() []string {
	var ids []string
	for _, c := range checks() {
		ids = append(ids, c.id)
	}
	return ids
}

// host is one run's view of the machine: the docker connection and what
// the checks learned, shared between checks of the run.
type host struct {
	cfg    Config
	log    *slog.Logger
	topo   *topology.Topology
	docker *docker.Client
	facts  docker.DaemonInfo
	// dockerErr is why docker is not usable ("" facts then).
	dockerErr error
	tried     bool
}

// connect (re)connects to dockerd and reads its facts.
func (h *host) connect(ctx context.Context) {
	h.tried = true
	if h.docker == nil {
		d, err := docker.NewAt(h.cfg.DockerHost)
		if err != nil {
			h.dockerErr = err
			return
		}
		h.docker = d
	}
	h.facts, h.dockerErr = daemonFacts(ctx, h.docker)
}

// dockerOK connects on first use and reports whether docker answers.
func (h *host) dockerOK(ctx context.Context) bool {
	if !h.tried {
		h.tried = true
		h.connect(ctx)
	}
	return h.docker != nil && h.dockerErr == nil
}

// Run checks the host and, with cfg.Fix, repairs what it can. The error is
// for a run that could not happen at all; problems are in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	start := time.Now()
	h := &host{cfg: cfg, log: cfg.logger(), topo: cfg.Topology}
	if h.topo == nil {
		h.topo = topology.Default()
	}
	selected, err := selectChecks(cfg.Only)
	if err != nil {
		return nil, err
	}
	defer func() {
		if h.docker != nil {
			h.docker.Close()
		}
	}()
	rep := &Report{Fix: cfg.Fix}
	for _, c := range selected {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rep.Checks = append(rep.Checks, runCheck(ctx, h, c))
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

func selectChecks(only []string) ([]check, error) {
	all := checks()
	if len(only) == 0 {
		return all, nil
	}
	var out []check
	for _, c := range all {
		for _, id := range only {
			if c.id == id {
				out = append(out, c)
			}
		}
	}
	for _, id := range only {
		found := false
		for _, c := range all {
			found = found || c.id == id
		}
		if !found {
			return nil, fmt.Errorf("no check %q; checks are %v", id, CheckIDs())
		}
	}
	return out, nil
}

// runCheck runs one check, fixes it when asked and possible, and checks
// again after a fix.
func runCheck(ctx context.Context, h *host, c check) Result {
	start := time.Now()
	r := c.run(ctx, h)
	if h.cfg.Fix && c.fix != nil && r.canFix {
		h.log.Info("fixing", "check", c.id, "finding", r.Finding)
		did, err := c.fix(ctx, h)
		again := c.run(ctx, h)
		switch {
		case err != nil:
			again.Fix = fmt.Sprintf("--fix failed: %v. %s", err, again.Fix)
			if again.Status == StatusOK {
				again.Status = StatusWarn
			}
		case again.Status == StatusOK:
			again.Status = StatusFixed
			again.Fix = "--fix: " + did
		case did != "":
			again.Fix = "--fix did: " + did + "; still: " + again.Fix
		}
		r = again
	}
	r.ID, r.Title = c.id, c.title
	r.Blocking = r.Status == StatusFail
	r.Duration = time.Since(start)
	h.log.Debug("check", "id", c.id, "status", r.Status, "took", r.Duration.Round(time.Millisecond), "finding", r.Finding)
	return r
}

// errNoDocker explains a check that needs docker when docker is down.
var errNoDocker = errors.New("docker is not reachable (see the docker check)")

// notChecked is the result of a check that could not look.
func notChecked(why error) Result {
	return Result{Status: StatusWarn, Finding: "not checked: " + why.Error()}
}

// millis is a duration in milliseconds, to the microsecond.
func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
