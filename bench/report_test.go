package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spklab/spklab/internal/golden"
	"github.com/spklab/spklab/lab/netns"
)

func TestVerdict(t *testing.T) {
	higher := Spec{Name: "rate", Better: Higher, Target: 0.5}
	lower := Spec{Name: "p99", Better: Lower, Target: 2}
	ok := func(v float64) Result { return Result{Value: v} }
	for _, tc := range []struct {
		name     string
		m        Metric
		verdict  Verdict
		ratio    float64
		hasRatio bool
	}{
		{"higher at target", Metric{higher, ok(5), ok(10)}, Pass, 0.5, true},
		{"higher below target", Metric{higher, ok(4.99), ok(10)}, Fail, 0.499, true},
		{"higher above kernel", Metric{higher, ok(30), ok(10)}, Pass, 3, true},
		{"lower at target", Metric{lower, ok(4), ok(2)}, Pass, 2, true},
		{"lower above target", Metric{lower, ok(4.2), ok(2)}, Fail, 2.1, true},
		{"lower better than kernel", Metric{lower, ok(1), ok(2)}, Pass, 0.5, true},
		{"spk-tmm failed", Metric{higher, Result{Err: "timed out"}, ok(10)}, Fail, 0, false},
		{"kernel failed", Metric{higher, ok(5), Result{Err: "timed out"}}, Unjudged, 0, false},
		{"both failed", Metric{higher, Result{Err: "x"}, Result{Err: "y"}}, Unjudged, 0, false},
		{"kernel zero", Metric{higher, ok(5), ok(0)}, Unjudged, 0, false},
		{"no target", Metric{Spec{Name: "info", Better: Higher}, ok(1), ok(2)}, Reported, 0.5, true},
		{"no target, failed", Metric{Spec{Name: "info", Better: Higher}, Result{Err: "x"}, ok(2)}, Reported, 0, false},
		{"no direction", Metric{Spec{Name: "odd", Target: 1}, ok(1), ok(1)}, Unjudged, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if v := tc.m.Verdict(); v != tc.verdict {
				t.Errorf("verdict %q, want %q", v, tc.verdict)
			}
			r, has := tc.m.Ratio()
			if has != tc.hasRatio || (has && (r-tc.ratio) > 1e-9 || (tc.ratio-r) > 1e-9) {
				t.Errorf("ratio %v %v, want %v %v", r, has, tc.ratio, tc.hasRatio)
			}
		})
	}
	if s := higher.TargetText(); s != "≥ 0.50x" {
		t.Errorf("target text %q", s)
	}
	if s := lower.TargetText(); s != "≤ 2.00x" {
		t.Errorf("target text %q", s)
	}
}

// sampleReport is a report as Run builds it: rows first seen on either data
// plane, a failed spk-tmm cell, a detail, a note and a failed target.
func sampleReport() *Report {
	r := &Report{Duration: 10 * time.Second, Connections: 32}
	tp := Spec{Name: "TCP throughput, offloads off", Unit: "Gbit/s", Better: Higher, Target: 0.5, Note: "iperf3, one stream"}
	on := Spec{Name: "TCP throughput, offloads on", Unit: "Gbit/s", Better: Higher}
	conn := Spec{Name: "new connections/s", Unit: "conn/s", Better: Higher, Target: 0.5}
	p99 := Spec{Name: "latency p99, keep-alive", Unit: "ms", Better: Lower, Target: 2}
	step := Spec{Name: "bring-up: router FRR", Unit: "ms", Better: Lower}
	r.put(tp, netns.DataplaneTMM, Result{Value: 1.234})
	r.put(on, netns.DataplaneTMM, Failed(errors.New("iperf3: unable to connect to server: Connection timed out")))
	r.put(conn, netns.DataplaneTMM, Result{Value: 3100, Detail: "12 failed requests besides 31000 answered"})
	r.put(p99, netns.DataplaneTMM, Result{Value: 2.61})
	r.put(step, netns.DataplaneTMM, Result{Value: 351})
	r.put(tp, netns.DataplaneKernel, Result{Value: 2.8})
	r.put(on, netns.DataplaneKernel, Result{Value: 13.04})
	r.put(conn, netns.DataplaneKernel, Result{Value: 8300})
	r.put(p99, netns.DataplaneKernel, Result{Value: 0.0123})
	r.put(Spec{Name: "bring-up: kernel only", Unit: "ms", Better: Lower}, netns.DataplaneKernel, Result{Value: 0.5})
	return r
}

func TestReportTable(t *testing.T) {
	r := sampleReport()
	if len(r.Metrics) != 6 {
		t.Fatalf("rows %+v", r.Metrics)
	}
	// A row seen on one data plane only says so on the other.
	if m := r.Metrics[4]; m.Kernel.Err != "not measured" || !m.TMM.OK() {
		t.Errorf("TMM-only row %+v", m)
	}
	if m := r.Metrics[5]; m.TMM.Err != "not measured" || m.Kernel.Value != 0.5 {
		t.Errorf("kernel-only row %+v", m)
	}
	if r.Passed() || !r.Judged() {
		t.Errorf("passed %v judged %v", r.Passed(), r.Judged())
	}
	var fails []string
	for _, m := range r.WithVerdict(Fail) {
		fails = append(fails, m.Name)
	}
	if strings.Join(fails, ",") != "TCP throughput, offloads off,new connections/s,latency p99, keep-alive" {
		t.Errorf("failed %q", fails)
	}
	var b bytes.Buffer
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/report.table.golden", b.Bytes())

	b.Reset()
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/report.json.golden", b.Bytes())
	var back struct {
		Passed  bool     `json:"passed"`
		Failed  []string `json:"failed"`
		Metrics []struct {
			Name    string   `json:"name"`
			Ratio   *float64 `json:"ratio"`
			Verdict string   `json:"verdict"`
			TMM     Result   `json:"spkTMM"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Passed || len(back.Failed) != 3 || back.Metrics[0].Ratio == nil || *back.Metrics[0].Ratio != 1.234/2.8 ||
		back.Metrics[1].Ratio != nil || back.Metrics[1].TMM.Err == "" || back.Metrics[0].Verdict != "fail" {
		t.Errorf("JSON read back: %+v", back)
	}
}

func TestReportVerdicts(t *testing.T) {
	spec := Spec{Name: "rate", Unit: "x", Better: Higher, Target: 0.5}
	pass := &Report{}
	pass.put(spec, netns.DataplaneTMM, Result{Value: 9})
	pass.put(spec, netns.DataplaneKernel, Result{Value: 10})
	if !pass.Passed() || !strings.HasPrefix(pass.Summary(), "targets: 1 of 1 passed") {
		t.Errorf("passing report: %v %q", pass.Passed(), pass.Summary())
	}
	noRef := &Report{}
	noRef.put(spec, netns.DataplaneTMM, Result{Value: 9})
	noRef.put(spec, netns.DataplaneKernel, Result{Err: "iperf3 failed"})
	if noRef.Judged() || noRef.Passed() || !strings.Contains(noRef.Summary(), `not judged (no kernel reference): "rate"`) {
		t.Errorf("no kernel reference: %q", noRef.Summary())
	}
	broken := &Report{Errors: []string{"the kernel lab did not come up"}}
	broken.put(spec, netns.DataplaneTMM, Result{Value: 9})
	broken.put(spec, netns.DataplaneKernel, Result{Value: 9})
	if broken.Judged() || broken.Passed() || !strings.Contains(broken.Summary(), "1 error(s)") {
		t.Errorf("run with errors: %q", broken.Summary())
	}
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0.00", 0.0123: "0.0123", 1.234: "1.23", 12.34: "12.3", 123.4: "123", 79406.71: "79407", -2.5: "-2.50",
	} {
		if got := formatValue(v); got != want {
			t.Errorf("%v: %q, want %q", v, got, want)
		}
	}
}

func TestSelectAndConfig(t *testing.T) {
	all := Workloads()
	var names []string
	for _, w := range all {
		names = append(names, w.Name)
		if len(w.Specs) == 0 || w.Run == nil {
			t.Errorf("workload %s has no specs or no Run", w.Name)
		}
	}
	if strings.Join(names, ",") != "bringup,throughput,keepalive,conn,bgp,offloads,memory" {
		t.Errorf("workloads %q", names)
	}
	// The offloads workload leaves offloads on: nothing needing the lab
	// may run after it.
	seen := false
	for _, w := range all {
		if w.Name == "offloads" {
			seen = true
		} else if seen && w.NeedsLab {
			t.Errorf("%s needs the lab and runs after offloads", w.Name)
		}
	}
	got, err := Select(all, []string{"memory", "throughput"})
	if err != nil || len(got) != 2 || got[0].Name != "throughput" || got[1].Name != "memory" {
		t.Errorf("Select: %v %v", got, err)
	}
	if _, err := Select(all, []string{"conn", "bgpx", "x"}); err == nil || !strings.Contains(err.Error(), `"bgpx", "x"`) || !strings.Contains(err.Error(), "known are bringup,") {
		t.Errorf("unknown workloads: %v", err)
	}
	// Targets of the brief.
	targets := map[string]string{}
	for _, w := range all {
		for _, s := range w.Specs {
			if s.Target != 0 {
				targets[s.Name] = s.TargetText()
			}
		}
	}
	want := map[string]string{
		"TCP throughput, offloads off": "≥ 0.50x", "new connections/s": "≥ 0.50x",
		"latency p99, keep-alive": "≤ 2.00x", "latency p99, Connection: close": "≤ 2.00x",
	}
	if len(targets) != len(want) {
		t.Errorf("targets %v", targets)
	}
	for k, v := range want {
		if targets[k] != v {
			t.Errorf("target of %s: %q, want %q", k, targets[k], v)
		}
	}

	if err := (Config{}).Check(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	for _, c := range []Config{
		{Duration: 500 * time.Millisecond}, {Duration: time.Hour}, {Connections: -1}, {Connections: 5000},
		{MemoryFlows: -3}, {Only: []string{"nope"}},
	} {
		if err := c.Check(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if c := (Config{}); c.Cluster(netns.DataplaneTMM) != "bench-tmm" || c.Cluster(netns.DataplaneKernel) != "bench-kern" {
		t.Errorf("clusters %s %s", c.Cluster(netns.DataplaneTMM), c.Cluster(netns.DataplaneKernel))
	}
	if seconds(1500*time.Millisecond) != 2 || seconds(0) != 1 || seconds(10*time.Second) != 10 {
		t.Error("seconds rounds wrong")
	}
}
