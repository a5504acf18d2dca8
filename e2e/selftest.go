package e2e

import (
	"fmt"
	"regexp"

	"github.com/onsi/ginkgo/v2"

	"github.com/spklab/spklab/e2e/framework"
	"github.com/spklab/spklab/host/frr"
)

// registerSelfTest adds a spec whose expectation is wrong on purpose: the
// first tenant's VIP must answer from another tenant's pod. It fails, and
// its evidence folder shows what a real failure leaves behind. It runs only
// when the label filter names SelfTestLabel.
func registerSelfTest(e *suiteEnv) {
	topo := e.target.Topology()
	tenant, _ := firstIngress(topo)
	url, ok := framework.IngressURL(topo, tenant, frr.IPv4)
	if !ok {
		return
	}
	ginkgo.Describe("evidence self-test", ginkgo.Label(SelfTestLabel), func() {
		ginkgo.It(fmt.Sprintf("(deliberately broken) the %s VIP answers from another tenant's pod", tenant), func(sc ginkgo.SpecContext) {
			ctx, cancel := e.specContext(sc)
			defer cancel()
			var others []string
			for _, tn := range topo.Tenants {
				if tn.Namespace != tenant {
					for _, p := range e.target.Pods(tn.Namespace) {
						others = append(others, p.Name)
					}
				}
			}
			report := framework.Checker{Attempts: 2}.Run(ctx, []framework.Connection{{
				Name: "broken expectation", From: e.target.Client(), URL: url,
				Body: regexp.MustCompile(`^pod ` + oneOf(others) + ` `),
			}})
			expectOK(report.Err())
		}, ginkgo.SpecTimeout(specTimeout))
	})
}
