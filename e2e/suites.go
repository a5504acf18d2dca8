package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"

	"github.com/spklab/spklab/e2e/framework"
	"github.com/spklab/spklab/host/frr"
)

// Labels: one per area, one per IP family.
const (
	LabelIngress = "ingress"
	LabelSNAT    = "snat"
	LabelBGP     = "bgp"
	LabelIPv4    = "ipv4"
	LabelIPv6    = "ipv6"
	// LabelDisruptive marks specs that change the lab (and restore it).
	LabelDisruptive = "disruptive"
)

// families are the IP families the suites check, with their labels.
func families() []struct {
	family frr.Family
	label  string
} {
	return []struct {
		family frr.Family
		label  string
	}{{frr.IPv4, LabelIPv4}, {frr.IPv6, LabelIPv6}}
}

// specTimeout bounds one ordinary spec.
const specTimeout = time.Minute

// registerSuites adds every suite, and the evidence dump on failure, to
// Ginkgo's suite.
func registerSuites(e *suiteEnv) {
	ginkgo.JustAfterEach(func(sc ginkgo.SpecContext) {
		r := ginkgo.CurrentSpecReport()
		if !r.Failed() {
			return
		}
		dir := filepath.Join(e.artifacts, specDir(r.FullText()))
		note := fmt.Sprintf("%s\n\n%s\n\nat %s\n", r.FullText(), r.Failure.Message, r.Failure.Location)
		err := framework.DumpEvidence(sc, e.target, dir, note)
		ginkgo.AddReportEntry("evidence", dir)
		ginkgo.GinkgoWriter.Printf("evidence dumped into %s\n", dir)
		if err != nil {
			ginkgo.GinkgoWriter.Printf("%v\n", err)
		}
	}, ginkgo.NodeTimeout(30*time.Second))

	registerIngress(e)
	registerSNAT(e)
	registerBGP(e)
	registerIsolation(e)
	if e.selfTest {
		registerSelfTest(e)
	}
}

// specDir turns a spec's full text into a folder name.
func specDir(text string) string {
	s := strings.Trim(regexp.MustCompile(`[^a-z0-9.]+`).ReplaceAllString(strings.ToLower(text), "-"), "-.")
	if len(s) > 100 {
		s = strings.TrimRight(s[:100], "-.")
	}
	if s == "" {
		s = "spec"
	}
	return s
}

// oneOf is a regexp alternation of the literal strings.
func oneOf(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = regexp.QuoteMeta(s)
	}
	return "(" + strings.Join(q, "|") + ")"
}

// expectOK fails the spec with err's own text (the checker's per-connection
// diagnostics read better than Gomega's dump of an error value).
func expectOK(err error) {
	if err != nil {
		ginkgo.Fail(err.Error(), 1)
	}
}
