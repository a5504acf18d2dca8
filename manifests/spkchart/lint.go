package spkchart

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"

	"github.com/spklab/spklab/manifests"
)

// LintProblem is one finding of helm's linter at warning level or above.
type LintProblem struct {
	Severity string // WARNING or ERROR
	Path     string // the chart file, e.g. templates/tmm-statefulset.yaml
	Message  string
}

func (p LintProblem) String() string {
	return fmt.Sprintf("[%s] %s: %s", p.Severity, p.Path, p.Message)
}

// LintError lists every problem Lint found.
type LintError struct{ Problems []LintProblem }

func (e *LintError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return fmt.Sprintf("SPK chart lint: %d problem(s):\n%s", len(e.Problems), strings.Join(lines, "\n"))
}

// Lint runs helm's linter (Chart.yaml, values and schema, every template
// rendered with values for release namespace ns) on the embedded chart.
// Informational findings (a missing icon) are not problems; warnings and
// errors are, and come back as a *LintError.
func Lint(ns string, values map[string]any) error {
	vals, err := copyValues(values)
	if err != nil {
		return err
	}
	// helm's linter reads a chart directory, not a loaded chart.
	dir, err := os.MkdirTemp("", "spk-chart-lint-")
	if err != nil {
		return fmt.Errorf("lint: %w", err)
	}
	defer os.RemoveAll(dir)
	chartDir := filepath.Join(dir, "spk")
	if err := os.CopyFS(chartDir, manifests.ChartFS()); err != nil {
		return fmt.Errorf("lint: writing the chart: %w", err)
	}
	kv, err := chartutil.ParseKubeVersion(KubeVersion)
	if err != nil {
		return fmt.Errorf("kube version: %w", err)
	}
	res := lint.AllWithKubeVersion(chartDir, vals, ns, kv)
	var problems []LintProblem
	for _, m := range res.Messages {
		if m.Severity < support.WarningSev {
			continue
		}
		sev := "WARNING"
		if m.Severity >= support.ErrorSev {
			sev = "ERROR"
		}
		problems = append(problems, LintProblem{Severity: sev, Path: m.Path, Message: strings.TrimSpace(m.Err.Error())})
	}
	if problems != nil {
		return &LintError{Problems: problems}
	}
	return nil
}
