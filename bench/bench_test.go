package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spklab/spklab/internal/testenv"
	"github.com/spklab/spklab/lab/netns"
	"github.com/spklab/spklab/topology"
)

// requireLab skips (fails in CI) unless the benchmark can run here, and
// returns a config with a fresh spk-tmm build, a random cluster prefix and
// temporary directories. Cleanup takes both labs down whatever happened.
func requireLab(t *testing.T) Config {
	t.Helper()
	testenv.RequireRoot(t)
	for _, tool := range [][2]string{{"nginx", "nginx-light"}, {"ethtool", "ethtool"}, {"nft", "nftables"},
		{"curl", "curl"}, {"iperf3", "iperf3"}, {"wrk", "wrk"}} {
		testenv.RequireTool(t, tool[0], tool[1])
	}
	dir := t.TempDir()
	bin := testenv.BuildTMM(t)
	b := make([]byte, 2)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Topology:      topology.Default(),
		TMMBinary:     bin,
		Duration:      time.Second,
		Connections:   8,
		ClusterPrefix: "bt" + hex.EncodeToString(b),
		RunRoot:       filepath.Join(dir, "run"),
		MemoryFlows:   20_000,
		Logger:        slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	}
	t.Cleanup(func() {
		for _, dp := range Dataplanes() {
			topo := topology.Default()
			topo.RenameCluster(cfg.Cluster(dp))
			l, err := netns.New(topo, netns.Options{RunDir: filepath.Join(cfg.RunRoot, topo.Cluster.Name), TMMBinary: bin})
			if err != nil {
				t.Error(err)
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := l.Down(ctx); err != nil {
				t.Errorf("cleanup: %v", err)
			}
			cancel()
		}
	})
	return cfg
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// labNamespaces lists the namespaces of the run's labs that exist.
func labNamespaces(t *testing.T, cfg Config) []string {
	t.Helper()
	entries, err := os.ReadDir(netns.NetnsDir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		for _, dp := range Dataplanes() {
			if strings.HasPrefix(e.Name(), netns.NamespacePrefix+cfg.Cluster(dp)+"-") {
				out = append(out, e.Name())
			}
		}
	}
	return out
}

// TestRunBothDataplanes runs every workload for a second on both data
// planes: every offloads-off number is there and positive on both, the
// offloads-on cell is a number or a measured reason, and no namespace
// is left.
func TestRunBothDataplanes(t *testing.T) {
	cfg := requireLab(t)
	cfg.OutputDir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("Run took %s", time.Since(start))
	var b strings.Builder
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", b.String())
	if len(rep.Errors) != 0 {
		t.Errorf("errors: %q", rep.Errors)
	}
	rows := map[string]Metric{}
	for _, m := range rep.Metrics {
		rows[m.Name] = m
	}
	for _, w := range Workloads() {
		for _, s := range w.Specs {
			m, ok := rows[s.Name]
			if !ok {
				t.Errorf("no row %q", s.Name)
				continue
			}
			if s.Name == "TCP throughput, offloads on" {
				// spk-tmm may not carry offloaded traffic yet: then the
				// cell must say why.
				if !m.Kernel.OK() || m.Kernel.Value <= 0 || (m.TMM.OK() && m.TMM.Value <= 0) || (!m.TMM.OK() && len(m.TMM.Err) < 10) {
					t.Errorf("%s: spk-tmm %+v kernel %+v", s.Name, m.TMM, m.Kernel)
				}
				continue
			}
			if strings.HasPrefix(s.Name, "BGP ") {
				// Only spk-tmm speaks BGP; the kernel lab has static routes.
				if !m.TMM.OK() || m.TMM.Value <= 0 || m.TMM.Value > 1000 || !strings.Contains(m.Kernel.Err, "not applicable") {
					t.Errorf("%s: spk-tmm %+v kernel %+v (want spk-tmm under 1 s, kernel not applicable)", s.Name, m.TMM, m.Kernel)
				}
				continue
			}
			if !m.TMM.OK() || m.TMM.Value <= 0 || !m.Kernel.OK() || m.Kernel.Value <= 0 {
				t.Errorf("%s: spk-tmm %+v kernel %+v", s.Name, m.TMM, m.Kernel)
			}
			if s.Target != 0 && m.Verdict() != Pass && m.Verdict() != Fail {
				t.Errorf("%s: verdict %q", s.Name, m.Verdict())
			}
		}
	}
	// Both labs reported their data plane's bring-up step under one name.
	if m := rows["bring-up: data plane"]; !m.TMM.OK() || !m.Kernel.OK() {
		t.Errorf("bring-up: data plane: %+v", m)
	}
	kept, err := os.ReadDir(cfg.OutputDir)
	if err != nil || len(kept) != 8 {
		t.Errorf("raw outputs kept: %d %v", len(kept), err)
	}
	if left := labNamespaces(t, cfg); len(left) != 0 {
		t.Errorf("namespaces left: %q", left)
	}
}

// TestRunInterrupted cancels the run from inside a workload while the
// spk-tmm lab is up: Run returns the cancellation, the kernel lab is never
// built, and the spk-tmm lab is gone.
func TestRunInterrupted(t *testing.T) {
	cfg := requireLab(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var during []string
	spec := Spec{Name: "blocked", Unit: "s", Better: Lower}
	cfg.Workloads = []Workload{{Name: "block", NeedsLab: true, Specs: []Spec{spec}, Run: func(ctx context.Context, env *Env) []Sample {
		during = labNamespaces(t, cfg)
		cancel()
		<-ctx.Done()
		return []Sample{{spec, Failed(ctx.Err())}}
	}}}
	rep, err := Run(ctx, cfg)
	if !errors.Is(err, context.Canceled) || rep == nil {
		t.Fatalf("Run: %v, report %v", err, rep)
	}
	if len(during) != 12 {
		t.Errorf("namespaces while the workload ran: %q", during)
	}
	if left := labNamespaces(t, cfg); len(left) != 0 {
		t.Errorf("namespaces left: %q", left)
	}
	if len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], "kernel: not measured: context canceled") {
		t.Errorf("errors %q", rep.Errors)
	}
	if len(rep.Metrics) != 1 || rep.Metrics[0].TMM.Err != "context canceled" || rep.Metrics[0].Kernel.Err != notMeasured {
		t.Errorf("metrics %+v", rep.Metrics)
	}
}
