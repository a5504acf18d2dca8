package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spklab/spklab/lab/netns"
)

// Report is the outcome of a run.
type Report struct {
	// Duration and Connections are the workloads' settings.
	Duration    time.Duration `json:"duration"`
	Connections int           `json:"connections"`
	Metrics     []Metric      `json:"metrics"`
	// Errors are what kept a data plane or a workload from being measured
	// at all (a lab that did not come up, an interrupted run).
	Errors []string `json:"errors,omitempty"`
}

// WithVerdict lists the metrics whose verdict is v.
func (r *Report) WithVerdict(v Verdict) []Metric {
	var out []Metric
	for _, m := range r.Metrics {
		if m.Verdict() == v {
			out = append(out, m)
		}
	}
	return out
}

// Judged reports whether every target could be judged and nothing kept a
// measurement from running: only then do pass and fail mean something.
func (r *Report) Judged() bool {
	return len(r.Errors) == 0 && len(r.WithVerdict(Unjudged)) == 0
}

// Passed reports whether the run was judged and every target passed.
func (r *Report) Passed() bool {
	return r.Judged() && len(r.WithVerdict(Fail)) == 0
}

// put records one data plane's result of a metric, adding the row the
// first time the metric is seen.
func (r *Report) put(s Spec, dataplane string, res Result) {
	i := -1
	for j := range r.Metrics {
		if r.Metrics[j].Name == s.Name {
			i = j
		}
	}
	if i < 0 {
		r.Metrics = append(r.Metrics, Metric{Spec: s})
		i = len(r.Metrics) - 1
		// A row first seen on one data plane is missing on the other
		// until that one reports it.
		missing := Result{Err: notMeasured}
		r.Metrics[i].TMM, r.Metrics[i].Kernel = missing, missing
	}
	if dataplane == netns.DataplaneKernel {
		r.Metrics[i].Kernel = res
	} else {
		r.Metrics[i].TMM = res
	}
}

// reportJSON adds what a machine would otherwise recompute.
type reportJSON struct {
	Duration    string       `json:"duration"`
	Connections int          `json:"connections"`
	Metrics     []metricJSON `json:"metrics"`
	Errors      []string     `json:"errors,omitempty"`
	Passed      bool         `json:"passed"`
	Failed      []string     `json:"failed,omitempty"`
}

type metricJSON struct {
	Metric
	Ratio   *float64 `json:"ratio,omitempty"`
	Verdict Verdict  `json:"verdict"`
}

// WriteJSON writes the report as indented JSON, with each metric's ratio
// and verdict and the names of the failed metrics.
func (r *Report) WriteJSON(w io.Writer) error {
	out := reportJSON{Duration: r.Duration.String(), Connections: r.Connections, Errors: r.Errors, Passed: r.Passed(), Metrics: []metricJSON{}}
	for _, m := range r.Metrics {
		mj := metricJSON{Metric: m, Verdict: m.Verdict()}
		if ratio, ok := m.Ratio(); ok {
			mj.Ratio = &ratio
		}
		out.Metrics = append(out.Metrics, mj)
	}
	for _, m := range r.WithVerdict(Fail) {
		out.Failed = append(out.Failed, m.Name)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("writing the report as JSON: %w", err)
	}
	return nil
}

// WriteTable writes the report as a table, one row per metric, then the
// notes its cells refer to ([n]), then the verdict.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tUNIT\tSPK-TMM\tKERNEL\tRATIO\tTARGET\tRESULT")
	var notes []string
	note := func(text string) string {
		notes = append(notes, text)
		return fmt.Sprintf("[%d]", len(notes))
	}
	cell := func(m Metric, plane string, res Result) string {
		switch {
		case res.Err == notMeasured:
			return "n/a"
		case !res.OK():
			return "failed " + note(plane+", "+m.Name+": "+res.Err)
		case res.Detail != "":
			return formatValue(res.Value) + " " + note(plane+", "+m.Name+": "+res.Detail)
		}
		return formatValue(res.Value)
	}
	for _, m := range r.Metrics {
		name := m.Name
		if m.Note != "" {
			name += " " + note(m.Name+": "+m.Note)
		}
		ratio := "-"
		if v, ok := m.Ratio(); ok {
			ratio = fmt.Sprintf("%.2fx", v)
			if math.Abs(v) >= 100 {
				ratio = fmt.Sprintf("%.0fx", v) // a step one lab all but skips: decimals add nothing
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, m.Unit,
			cell(m, netns.DataplaneTMM, m.TMM), cell(m, netns.DataplaneKernel, m.Kernel), ratio, m.TargetText(), strings.ToUpper(string(m.Verdict())))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the table: %w", err)
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for i, n := range notes {
			fmt.Fprintf(w, "[%d] %s\n", i+1, n)
		}
	}
	fmt.Fprintln(w)
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
	_, err := fmt.Fprintln(w, r.Summary())
	return err
}

// Summary is the one-line verdict: how many targets passed, which failed,
// which could not be judged.
func (r *Report) Summary() string {
	pass, fail, unjudged := r.WithVerdict(Pass), r.WithVerdict(Fail), r.WithVerdict(Unjudged)
	total := len(pass) + len(fail) + len(unjudged)
	s := fmt.Sprintf("targets: %d of %d passed", len(pass), total)
	if len(fail) > 0 {
		s += "; failed: " + names(fail)
	}
	if len(unjudged) > 0 {
		s += "; not judged (no kernel reference): " + names(unjudged)
	}
	if len(r.Errors) > 0 {
		s += fmt.Sprintf("; %d error(s) kept measurements from running", len(r.Errors))
	}
	return s
}

// names quotes the metrics' names: they hold commas themselves.
func names(ms []Metric) string {
	var out []string
	for _, m := range ms {
		out = append(out, `"`+m.Name+`"`)
	}
	return strings.Join(out, ", ")
}

// notMeasured is the error of a row's cell that one data plane never
// reported (a bring-up step only one of them has).
const notMeasured = "not measured"

// formatValue shows about three significant digits without exponents.
func formatValue(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1 || a == 0:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
