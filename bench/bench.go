package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/spklab/spklab/host/hosttools"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/spklab/spklab/lab/netns"
	"github.com/spklab/spklab/topology"
)

// Defaults of Config.
const (
	DefaultDuration      = 10 * time.Second
	DefaultConnections   = 32
	DefaultClusterPrefix = "bench"
	DefaultMemoryFlows   = 1_000_000
)

// Config is one benchmark run.
type Config struct {
	// Topology is the lab to build (copied; its cluster is renamed).
	Topology *topology.Topology
	// TMMBinary is the spk-tmm program (netns.Options.TMMBinary).
	TMMBinary string
	// Duration of each timed workload; DefaultDuration when 0.
	Duration time.Duration
	// Connections wrk keeps open; DefaultConnections when 0.
	Connections int
	// Workloads are what can run, in order; Workloads() when nil. A
	// measurement from elsewhere (BGP convergence) is appended here.
	Workloads []Workload
	// Only names the workloads to run; empty = all.
	Only []string
	// ClusterPrefix names the labs <prefix>-tmm and <prefix>-kern, apart
	// from a developer's running lab; DefaultClusterPrefix when "".
	ClusterPrefix string
	// RunRoot holds the labs' run dirs; netns.DefaultRunRoot when "".
	RunRoot string
	// MemoryFlows is how many flows the memory workload inserts;
	// DefaultMemoryFlows when 0.
	MemoryFlows int
	// OutputDir, when set, keeps each wrk and iperf3 run's raw output
	// there as <dataplane>-<workload>.txt/.json (evidence of the numbers).
	OutputDir string
	// Logger receives progress; slog.Default() when nil.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.Connections == 0 {
		c.Connections = DefaultConnections
	}
	if c.ClusterPrefix == "" {
		c.ClusterPrefix = DefaultClusterPrefix
	}
	if c.RunRoot == "" {
		c.RunRoot = netns.DefaultRunRoot
	}
	if c.MemoryFlows == 0 {
		c.MemoryFlows = DefaultMemoryFlows
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Workloads == nil {
		c.Workloads = Workloads()
	}
	return c
}

func (c Config) check() error {
	var errs []error
	if c.Duration < time.Second {
		errs = append(errs, fmt.Errorf("duration %s: at least 1s (wrk and iperf3 count whole seconds)", c.Duration))
	}
	if c.Duration > 10*time.Minute {
		errs = append(errs, fmt.Errorf("duration %s: at most 10m per workload", c.Duration))
	}
	if c.Connections < 1 || c.Connections > 1000 {
		errs = append(errs, fmt.Errorf("connections %d: 1–1000", c.Connections))
	}
	if c.MemoryFlows < 1 || c.MemoryFlows > 10_000_000 {
		errs = append(errs, fmt.Errorf("memory flows %d: 1–10000000", c.MemoryFlows))
	}
	if _, err := Select(c.Workloads, c.Only); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Check reports what is wrong with the configuration (defaults applied),
// for a caller that wants to refuse it before anything runs.
func (c Config) Check() error { return c.withDefaults().check() }

// Cluster is the cluster name of a data plane's lab.
func (c Config) Cluster(dataplane string) string {
	suffix := "tmm"
	if dataplane == netns.DataplaneKernel {
		suffix = "kern"
	}
	return c.withDefaults().ClusterPrefix + "-" + suffix
}

// Dataplanes are measured in this order: spk-tmm first, then the kernel.
func Dataplanes() []string { return []string{netns.DataplaneTMM, netns.DataplaneKernel} }

// Run measures every selected workload on both data planes and returns
// the report. Each lab is torn down after its measurements, also when ctx
// ends; the report then holds what was measured and Run returns ctx's
// error. An error before anything runs (a bad Config) returns no report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if cfg.Topology == nil {
		return nil, errors.New("bench: no topology")
	}
	if err := hosttools.Require("spklab bench", hosttools.Bench()); err != nil {
		return nil, err
	}
	ws, _ := Select(cfg.Workloads, cfg.Only)
	if cfg.OutputDir != "" {
		if err := os.MkdirAll(cfg.OutputDir, 0o755); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
	}
	rep := &Report{Duration: cfg.Duration, Connections: cfg.Connections}
	for _, dp := range Dataplanes() {
		if err := ctx.Err(); err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s: not measured: %v", dp, err))
			continue
		}
		runDataplane(ctx, cfg, dp, ws, rep)
	}
	return rep, ctx.Err()
}

// runDataplane brings one data plane's lab up (when a workload needs it),
// runs the workloads in order and takes the lab down.
func runDataplane(ctx context.Context, cfg Config, dp string, ws []Workload, rep *Report) {
	log := cfg.Logger.With("dataplane", dp)
	env := &Env{Dataplane: dp, Duration: cfg.Duration, Connections: cfg.Connections, MemoryFlows: cfg.MemoryFlows, Log: log, outputDir: cfg.OutputDir}
	var labErr error
	if slices.ContainsFunc(ws, func(w Workload) bool { return w.NeedsLab }) {
		lab, err := newLab(cfg, dp, env)
		if err == nil {
			defer func() {
				// Teardown outlives a cancelled run, bounded.
				down, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				defer cancel()
				if err := lab.Down(down); err != nil {
					rep.Errors = append(rep.Errors, fmt.Sprintf("%s: taking the lab down: %v", dp, err))
				}
			}()
			err = bringUp(ctx, lab, env)
		}
		if err != nil {
			labErr = fmt.Errorf("the %s lab did not come up: %w", dp, err)
			rep.Errors = append(rep.Errors, labErr.Error())
			log.Error("bench: lab", "err", labErr)
		}
	}
	for _, w := range ws {
		if w.NeedsLab && labErr != nil {
			for _, s := range w.Specs {
				rep.put(s, dp, Failed(labErr))
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			for _, s := range w.Specs {
				rep.put(s, dp, Failed(err))
			}
			continue
		}
		log.Info("bench: measuring", "workload", w.Name)
		got := w.Run(ctx, env)
		for _, s := range got {
			rep.put(s.Spec, dp, s.Result)
		}
		// A spec the workload did not report is not silently dropped.
		for _, s := range w.Specs {
			if !slices.ContainsFunc(got, func(g Sample) bool { return g.Name == s.Name }) {
				rep.put(s, dp, Result{Err: "not reported by workload " + w.Name})
			}
		}
	}
}

// newLab builds the data plane's lab from a renamed copy of the topology,
// with the iperf3 virtual server added (see iperfCRs).
func newLab(cfg Config, dp string, env *Env) (*netns.Lab, error) {
	t, err := copyTopology(cfg.Topology)
	if err != nil {
		return nil, err
	}
	t.RenameCluster(cfg.Cluster(dp))
	http, err := httpVIP(t)
	if err != nil {
		return nil, err
	}
	env.HTTP = http
	env.tmmAddrs = tmmAddrs(t)
	lab, err := netns.New(t, netns.Options{
		RunDir:    strings.TrimSuffix(cfg.RunRoot, "/") + "/" + t.Cluster.Name,
		TMMBinary: cfg.TMMBinary,
		Dataplane: dp,
		ExtraCRs:  iperfCRs(env),
		Logger:    env.Log,
	})
	if err != nil {
		return nil, err
	}
	env.Lab = lab
	for _, p := range lab.Pods() {
		if p.IP == env.IperfPod.IP {
			env.IperfPod = p
		}
	}
	if env.IperfPod.Namespace == "" {
		return nil, fmt.Errorf("the iperf3 member %s is none of the lab's pods", env.IperfPod.IP)
	}
	return lab, nil
}

// copyTopology deep-copies a topology through its YAML form, so renaming
// the copy leaves the caller's alone.
func copyTopology(t *topology.Topology) (*topology.Topology, error) {
	data, err := yaml.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("copying the topology: %w", err)
	}
	c, err := topology.Parse("topology copy", data)
	if err != nil {
		return nil, fmt.Errorf("copying the topology: %w", err)
	}
	if !bytes.Equal(mustYAML(c), data) {
		return nil, errors.New("copying the topology: the copy differs from the original")
	}
	return c, nil
}

func mustYAML(t *topology.Topology) []byte {
	data, _ := yaml.Marshal(t)
	return data
}

// httpVIP is the first tenant IPv4 virtual server: wrk's target.
func httpVIP(t *topology.Topology) (netip.AddrPort, error) {
	for _, tn := range t.Tenants {
		if tn.Ingress == nil || tn.Ingress.IPv4 == "" || tn.Ingress.Port == 0 {
			continue
		}
		a, err := netip.ParseAddr(tn.Ingress.IPv4)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("tenant %s VIP: %w", tn.Namespace, err)
		}
		return netip.AddrPortFrom(a, uint16(tn.Ingress.Port)), nil
	}
	return netip.AddrPort{}, errors.New("the topology has no tenant with an IPv4 virtual server on a port to load")
}
