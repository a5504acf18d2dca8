// Package bench measures spk-tmm against the kernel on the netns lab: one
// run brings the same topology up twice (cluster names <prefix>-tmm and
// <prefix>-kern), once with spk-tmm and once with the kernel data plane
// (nftables DNAT and SNAT), runs the same bounded workloads against each
// from the lab's client namespace, tears each lab down, and reports every
// metric as a spk-tmm / kernel ratio against its target.
//
// A metric is a Spec (name, unit, which way is better, target ratio) and
// each data plane's Result; a Workload fills some metrics. Adding a
// measurement (BGP convergence, say) is adding a Workload to Workloads.
package bench

import (
	"fmt"
	"math"
)

// Better says which way a metric improves.
type Better string

// Directions of Better.
const (
	Higher Better = "higher"
	Lower  Better = "lower"
)

// Spec says what a metric is.
type Spec struct {
	Name   string `json:"name"`
	Unit   string `json:"unit"`
	Better Better `json:"better"`
	// Target is the spk-tmm / kernel ratio the metric must reach: at
	// least Target when Better is Higher, at most when Lower. 0 = the
	// metric is reported, not judged.
	Target float64 `json:"target,omitempty"`
	// Note says how the metric is measured, when its name does not.
	Note string `json:"note,omitempty"`
}

// Result is one data plane's value of a metric, or why there is none.
type Result struct {
	Value float64 `json:"value"`
	// Err is why there is no value; the value is meaningless then.
	Err string `json:"error,omitempty"`
	// Detail qualifies a value (e.g. the socket errors wrk counted).
	Detail string `json:"detail,omitempty"`
}

// OK reports whether the result holds a value.
func (r Result) OK() bool { return r.Err == "" }

// Failed is a result with no value, for the reason err.
func Failed(err error) Result { return Result{Err: err.Error()} }

// Metric is one row of the report: a spec and both data planes' results.
type Metric struct {
	Spec
	TMM    Result `json:"spkTMM"`
	Kernel Result `json:"kernel"`
}

// Verdict is what a metric's ratio says about its target.
type Verdict string

// Verdicts.
const (
	// Pass: the ratio meets the target.
	Pass Verdict = "pass"
	// Fail: the ratio misses the target, or spk-tmm has no value.
	Fail Verdict = "fail"
	// Unjudged: the metric has a target but no kernel reference value.
	Unjudged Verdict = "error"
	// Reported: the metric has no target.
	Reported Verdict = "-"
)

// Ratio is spk-tmm's value over the kernel's, when both are there and the
// kernel's is not zero.
func (m Metric) Ratio() (float64, bool) {
	if !m.TMM.OK() || !m.Kernel.OK() || m.Kernel.Value == 0 {
		return 0, false
	}
	r := m.TMM.Value / m.Kernel.Value
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return 0, false
	}
	return r, true
}

// Verdict judges the metric against its target. A spk-tmm that could not
// be measured fails (it did not carry the load); a missing kernel value
// leaves the metric unjudged (the reference is broken, not spk-tmm).
func (m Metric) Verdict() Verdict {
	if m.Target == 0 {
		return Reported
	}
	if !m.Kernel.OK() || m.Kernel.Value <= 0 {
		return Unjudged
	}
	r, ok := m.Ratio()
	if !ok {
		return Fail
	}
	switch m.Better {
	case Higher:
		if r >= m.Target {
			return Pass
		}
	case Lower:
		if r <= m.Target {
			return Pass
		}
	default:
		return Unjudged
	}
	return Fail
}

// TargetText is the target as the table shows it: "≥ 0.50x", "≤ 2.00x", "-".
func (s Spec) TargetText() string {
	if s.Target == 0 {
		return "-"
	}
	op := "≥"
	if s.Better == Lower {
		op = "≤"
	}
	return fmt.Sprintf("%s %.2fx", op, s.Target)
}
