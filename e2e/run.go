package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega"

	"github.com/spklab/spklab/e2e/framework"
)

// SelfTestLabel marks the spec whose expectation is broken on purpose (to
// show the evidence dump); it runs only when a label filter names it.
const SelfTestLabel = "evidence-selftest"

// Options tune a run of the suites.
type Options struct {
	// LabelFilter is a Ginkgo label expression ("bgp && ipv4",
	// "!ipv6"); empty runs every suite.
	LabelFilter string
	// JUnitFile, when set, receives the JUnit XML report.
	JUnitFile string
	// ArtifactsDir receives one evidence folder per failed spec; default
	// a new spklab-e2e-<time> folder in the temp dir (made only on failure).
	ArtifactsDir string
	// Verbose streams every spec's progress, not just failures.
	Verbose bool
	// NoColor turns off colour in the report.
	NoColor bool
	// Timeout bounds the whole run; default 10 minutes.
	Timeout time.Duration
}

// Summary is how a run went.
type Summary struct {
	Passed, Failed, Skipped int
	// Timings are the convergence times the bgp suite measured, in order.
	Timings      []Timing
	ArtifactsDir string
	Took         time.Duration
}

// Timing is one measured duration.
type Timing struct {
	Name string
	Took time.Duration
}

func (s *Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d passed, %d failed, %d skipped in %s", s.Passed, s.Failed, s.Skipped, s.Took.Round(time.Millisecond))
	for _, t := range s.Timings {
		fmt.Fprintf(&b, "\n  %s: %s", t.Name, t.Took.Round(time.Millisecond))
	}
	return b.String()
}

// ran guards Ginkgo's once-per-process suite (see the package comment).
var ran atomic.Bool

// ErrAlreadyRan is returned by a second RunSuites in one process.
var ErrAlreadyRan = errors.New("the e2e suites already ran in this process (Ginkgo runs its suite once per process)")

// RunSuites runs the suites against the target and returns their summary;
// the error says how many specs failed (nil when none). Ginkgo's report goes
// to standard output. It can run once per process.
func RunSuites(ctx context.Context, target framework.Target, o Options) (*Summary, error) {
	if err := CheckLabelFilter(o.LabelFilter); err != nil {
		return nil, err
	}
	if !ran.CompareAndSwap(false, true) {
		return nil, ErrAlreadyRan
	}
	if o.ArtifactsDir == "" {
		o.ArtifactsDir = filepath.Join(os.TempDir(), "spklab-e2e-"+time.Now().Format("20060102-150405"))
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	start := time.Now()
	summary := &Summary{ArtifactsDir: o.ArtifactsDir}
	env := &suiteEnv{ctx: ctx, target: target, artifacts: o.ArtifactsDir,
		selfTest: strings.Contains(o.LabelFilter, SelfTestLabel)}

	gomega.RegisterFailHandler(ginkgo.Fail)
	registerSuites(env)
	ginkgo.ReportAfterSuite("spklab summary", func(r ginkgo.Report) {
		for _, s := range r.SpecReports {
			if s.LeafNodeType != types.NodeTypeIt {
				continue
			}
			switch {
			case s.State.Is(types.SpecStatePassed):
				summary.Passed++
			case s.State.Is(types.SpecStateSkipped | types.SpecStatePending):
				summary.Skipped++
			case s.State.Is(types.SpecStateFailureStates):
				summary.Failed++
			}
		}
	})

	suite := types.NewDefaultSuiteConfig()
	suite.LabelFilter = EffectiveLabelFilter(o.LabelFilter)
	suite.Timeout = o.Timeout
	report := types.NewDefaultReporterConfig()
	report.JUnitReport = o.JUnitFile
	report.Verbose = o.Verbose
	report.NoColor = o.NoColor
	t := &testingT{}
	ginkgo.RunSpecs(t, "spklab e2e on "+target.Name(), suite, report)

	summary.Timings = env.timings()
	summary.Took = time.Since(start)
	if t.failed || summary.Failed > 0 {
		return summary, fmt.Errorf("%d of %d spec(s) failed; evidence in %s", summary.Failed, summary.Passed+summary.Failed, o.ArtifactsDir)
	}
	return summary, nil
}

// CheckLabelFilter reports a label expression Ginkgo cannot parse.
func CheckLabelFilter(expr string) error {
	if _, err := types.ParseLabelFilter(EffectiveLabelFilter(expr)); err != nil {
		return fmt.Errorf("label filter %q: %w", expr, err)
	}
	return nil
}

// EffectiveLabelFilter is the filter a run uses: expr, with the evidence
// self-test left out unless expr names it.
func EffectiveLabelFilter(expr string) string {
	expr = strings.TrimSpace(expr)
	switch {
	case strings.Contains(expr, SelfTestLabel):
		return expr
	case expr == "":
		return "!" + SelfTestLabel
	default:
		return "(" + expr + ") && !" + SelfTestLabel
	}
}

// testingT is the GinkgoTestingT RunSpecs reports a failed suite to, so the
// suites run outside go test.
type testingT struct{ failed bool }

func (t *testingT) Fail() { t.failed = true }

// suiteEnv is what the registered specs share during one run.
type suiteEnv struct {
	// ctx is RunSuites' context: cancelling it ends the running spec.
	ctx       context.Context
	target    framework.Target
	artifacts string
	// selfTest registers the deliberately broken spec; otherwise it does
	// not exist, so a normal run reports nothing skipped.
	selfTest bool

	mu       sync.Mutex
	measured []Timing
}

// record keeps a measured duration for the summary and the spec's report.
func (e *suiteEnv) record(name string, took time.Duration) {
	e.mu.Lock()
	e.measured = append(e.measured, Timing{Name: name, Took: took})
	e.mu.Unlock()
	ginkgo.AddReportEntry(name, took.Round(time.Millisecond).String())
	ginkgo.GinkgoWriter.Printf("%s: %s\n", name, took.Round(time.Millisecond))
}

func (e *suiteEnv) timings() []Timing {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Timing(nil), e.measured...)
}

// specContext is the spec's context, also cancelled with RunSuites' one.
func (e *suiteEnv) specContext(sc ginkgo.SpecContext) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(sc)
	stop := context.AfterFunc(e.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}
