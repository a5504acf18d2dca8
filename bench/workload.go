package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spklab/spklab/lab/netns"
)

// Env is what a workload measures: one data plane, its lab (nil for a
// workload that needs none) and the run's settings.
type Env struct {
	Dataplane   string
	Lab         *netns.Lab
	Duration    time.Duration
	Connections int
	MemoryFlows int
	// HTTP is the virtual server wrk loads (nginx in the tenant's pods).
	HTTP netip.AddrPort
	// Iperf is the iperf3 virtual server, whose only member is IperfPod.
	Iperf    netip.AddrPort
	IperfPod netns.Pod
	Log      *slog.Logger

	// ready is how long after Up the lab answered on HTTP.
	ready time.Duration
	// tmmAddrs are the TMMs' self IPs the router routes the VIPs to.
	tmmAddrs []netip.Addr
	// outputDir keeps raw tool outputs (Config.OutputDir); "" = none.
	outputDir string
}

// Sample is one data plane's result of one metric.
type Sample struct {
	Spec
	Result
}

// Workload fills some metrics for one data plane at a time.
type Workload struct {
	// Name is what --only selects.
	Name string
	// NeedsLab: Run gets Env.Lab up and answering on its VIPs.
	NeedsLab bool
	// Specs are the metrics Run reports (it may add more, as bring-up
	// does per step); each gets the error when Run cannot run.
	Specs []Spec
	// Run measures; every failure is a Result's Err, never a panic.
	Run func(ctx context.Context, env *Env) []Sample
}

// Workloads are the built-in workloads in the order they run. The
// offloads workload turns offloads on for good, so it runs last of those
// that need the lab.
func Workloads() []Workload {
	specBringUp := Spec{Name: "bring-up total", Unit: "ms", Better: Lower}
	specReady := Spec{Name: "bring-up: until the VIP answers", Unit: "ms", Better: Lower,
		Note: "after Up returned: the router reaches every TMM self IP and curl gets 200 from the HTTP VIP"}

	specThroughput := Spec{Name: "TCP throughput, offloads off", Unit: "Gbit/s", Better: Higher, Target: 0.5,
		Note: "iperf3, one stream, client → VIP:5201 → one pod"}
	specThroughputOn := Spec{Name: "TCP throughput, offloads on", Unit: "Gbit/s", Better: Higher,
		Note: "as offloads off, after ethtool turns TSO/GSO/GRO and checksum offloads on on every lab veth"}

	specKeepAliveRate := Spec{Name: "requests/s, keep-alive", Unit: "req/s", Better: Higher}
	specKeepAliveP50 := Spec{Name: "latency p50, keep-alive", Unit: "ms", Better: Lower}
	specKeepAliveP99 := Spec{Name: "latency p99, keep-alive", Unit: "ms", Better: Lower, Target: 2}

	specConnRate := Spec{Name: "new connections/s", Unit: "conn/s", Better: Higher, Target: 0.5,
		Note: "wrk requests/s with Connection: close (one connection per request)"}
	specConnP50 := Spec{Name: "latency p50, Connection: close", Unit: "ms", Better: Lower}
	specConnP99 := Spec{Name: "latency p99, Connection: close", Unit: "ms", Better: Lower, Target: 2}

	specFlowBytes := Spec{Name: "connection table, bytes per entry", Unit: "B", Better: Lower,
		Note: "spk-tmm: live heap per flow of a dataplane/conntrack table filled in-process; kernel: nf_conntrack slab object size (hash buckets not counted)"}
	specFlowMiB := Spec{Name: "connection table per 1M entries", Unit: "MiB", Better: Lower}

	bgpWithdraw50, bgpWithdraw99, bgpAnnounce50, bgpAnnounce99 := bgpSpecs()

	return []Workload{
		{Name: "bringup", NeedsLab: true, Specs: []Spec{specBringUp, specReady}, Run: func(_ context.Context, env *Env) []Sample {
			return runBringUp(env, specBringUp, specReady)
		}},
		{Name: "throughput", NeedsLab: true, Specs: []Spec{specThroughput}, Run: func(ctx context.Context, env *Env) []Sample {
			return []Sample{{specThroughput, runIperf(ctx, env, "throughput")}}
		}},
		{Name: "keepalive", NeedsLab: true, Specs: []Spec{specKeepAliveRate, specKeepAliveP50, specKeepAliveP99}, Run: func(ctx context.Context, env *Env) []Sample {
			r, err := runWrk(ctx, env, "keepalive", false)
			return wrkSamples(r, err, specKeepAliveRate, specKeepAliveP50, specKeepAliveP99)
		}},
		{Name: "conn", NeedsLab: true, Specs: []Spec{specConnRate, specConnP50, specConnP99}, Run: func(ctx context.Context, env *Env) []Sample {
			r, err := runWrk(ctx, env, "conn", true)
			return wrkSamples(r, err, specConnRate, specConnP50, specConnP99)
		}},
		{Name: "bgp", NeedsLab: true, Specs: []Spec{bgpWithdraw50, bgpWithdraw99, bgpAnnounce50, bgpAnnounce99}, Run: func(ctx context.Context, env *Env) []Sample {
			return runBGP(ctx, env, bgpWithdraw50, bgpWithdraw99, bgpAnnounce50, bgpAnnounce99)
		}},
		{Name: "offloads", NeedsLab: true, Specs: []Spec{specThroughputOn}, Run: func(ctx context.Context, env *Env) []Sample {
			if err := setOffloads(ctx, env.Lab, true); err != nil {
				return []Sample{{specThroughputOn, Failed(err)}}
			}
			return []Sample{{specThroughputOn, runIperf(ctx, env, "offloads")}}
		}},
		{Name: "memory", Specs: []Spec{specFlowBytes, specFlowMiB}, Run: func(_ context.Context, env *Env) []Sample {
			return runMemory(env, specFlowBytes, specFlowMiB)
		}},
	}
}

// Select returns the workloads of all that names names (all of them when
// names is empty), in run order; an unknown name is an error listing the
// known ones.
func Select(all []Workload, names []string) ([]Workload, error) {
	if len(names) == 0 {
		return all, nil
	}
	var known []string
	for _, w := range all {
		known = append(known, w.Name)
	}
	var unknown []string
	for _, n := range names {
		if !slices.Contains(known, n) {
			unknown = append(unknown, fmt.Sprintf("%q", n))
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown workload(s) %s: known are %s", strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	var out []Workload
	for _, w := range all {
		if slices.Contains(names, w.Name) {
			out = append(out, w)
		}
	}
	return out, nil
}

// runBringUp reports the lab's Up step times and how long after Up the
// HTTP VIP first answered. The data plane's own step ("spk-tmm" or
// "kernel data plane") gets one row name so the two can be compared.
func runBringUp(env *Env, specBringUp, specReady Spec) []Sample {
	steps := env.Lab.StepTimes()
	if len(steps) == 0 {
		return []Sample{{specBringUp, Result{Err: "the lab recorded no step times"}}}
	}
	var out []Sample
	var total time.Duration
	for _, s := range steps {
		name := s.Step
		if name == netns.TMMBinaryName || name == kernelStep {
			name = "data plane"
		}
		out = append(out, Sample{Spec{Name: "bring-up: " + name, Unit: "ms", Better: Lower}, Result{Value: ms(s.Duration)}})
		total += s.Duration
	}
	return append(out,
		Sample{specBringUp, Result{Value: ms(total)}},
		Sample{specReady, Result{Value: ms(env.ready)}})
}

// kernelStep is the name netns.Lab.Up gives the kernel data plane's step.
const kernelStep = "kernel data plane"

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// wrkSamples turns one wrk run into its rate, p50 and p99 samples.
func wrkSamples(r WrkResult, err error, rate, p50, p99 Spec) []Sample {
	if err != nil {
		return []Sample{{rate, Failed(err)}, {p50, Failed(err)}, {p99, Failed(err)}}
	}
	detail := ""
	if n := r.Errors(); n > 0 {
		detail = wrkErrorText(r)
	}
	return []Sample{
		{rate, Result{Value: r.RequestsSec, Detail: detail}},
		{p50, Result{Value: ms(r.P50)}},
		{p99, Result{Value: ms(r.P99)}},
	}
}

func wrkErrorText(r WrkResult) string {
	return fmt.Sprintf("%d failed requests besides %d answered (socket errors: connect %d, read %d, write %d, timeout %d; non-2xx/3xx %d)",
		r.Errors(), r.Requests, r.ErrConnect, r.ErrRead, r.ErrWrite, r.ErrTimeout, r.Non2xx)
}

// runMemory measures the connection table: spk-tmm's in-process, the
// kernel's from its slab cache.
func runMemory(env *Env, specFlowBytes, specFlowMiB Spec) []Sample {
	var per float64
	var err error
	if env.Dataplane == netns.DataplaneKernel {
		per, err = KernelConntrackBytes(SlabinfoPath)
	} else {
		per, err = TableBytesPerFlow(env.MemoryFlows)
	}
	if err != nil {
		return []Sample{{specFlowBytes, Failed(err)}, {specFlowMiB, Failed(err)}}
	}
	return []Sample{
		{specFlowBytes, Result{Value: per}},
		{specFlowMiB, Result{Value: per * 1e6 / (1 << 20)}},
	}
}

// keep saves a tool's raw output as <dataplane>-<name> in the output dir,
// when there is one; failing to is logged, never fatal to the measurement.
func (e *Env) keep(name string, data []byte) {
	if e.outputDir == "" {
		return
	}
	path := filepath.Join(e.outputDir, e.Dataplane+"-"+name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		e.Log.Warn("bench: keeping raw output", "err", err)
	}
}
