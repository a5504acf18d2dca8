package e2e

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/spklab/spklab/e2e/framework"
)

// registerIngress: docs/architecture.md, "What the suites check" item 1. From the client, each tenant's VIP
// answers 200 from one of that tenant's pods, and repeated requests spread
// over all of them; IPv4 and IPv6.
func registerIngress(e *suiteEnv) {
	topo := e.target.Topology()
	ginkgo.Describe("ingress", ginkgo.Label(LabelIngress), func() {
		for _, fam := range families() {
			for _, tn := range topo.Tenants {
				url, ok := framework.IngressURL(topo, tn.Namespace, fam.family)
				if !ok {
					continue
				}
				tenant := tn.Namespace
				ginkgo.It(fmt.Sprintf("the %s VIP %s answers 200 from a %s pod", tenant, url, tenant), ginkgo.Label(fam.label), func(sc ginkgo.SpecContext) {
					ctx, cancel := e.specContext(sc)
					defer cancel()
					pods := e.target.Pods(tenant)
					gomega.Expect(pods).NotTo(gomega.BeEmpty(), "tenant %s has no pods", tenant)
					conns := make([]framework.Connection, 3)
					for i := range conns {
						conns[i] = podAnswer(e, tenant, url, pods, i)
					}
					report := framework.Checker{}.Run(ctx, conns)
					expectOK(report.Err())
					expectRightNode(report, pods)
				}, ginkgo.SpecTimeout(specTimeout))

				ginkgo.It(fmt.Sprintf("repeated requests to the %s VIP %s spread over every %s pod", tenant, url, tenant), ginkgo.Label(fam.label), func(sc ginkgo.SpecContext) {
					ctx, cancel := e.specContext(sc)
					defer cancel()
					pods := e.target.Pods(tenant)
					gomega.Expect(pods).NotTo(gomega.BeEmpty(), "tenant %s has no pods", tenant)
					// Sequential, as a user would send them: round robin
					// per TMM and ECMP over the TMMs must still reach
					// every pod within a few rounds.
					conns := make([]framework.Connection, 4*len(pods))
					for i := range conns {
						conns[i] = podAnswer(e, tenant, url, pods, i)
					}
					report := framework.Checker{Parallel: 1}.Run(ctx, conns)
					expectOK(report.Err())
					expectRightNode(report, pods)
					seen := report.Pods()
					for _, p := range pods {
						gomega.Expect(seen).To(gomega.HaveKey(p.Name), "%d requests were answered by %v: pod %s never answered", len(conns), seen, p.Name)
					}
				}, ginkgo.SpecTimeout(specTimeout))
			}
		}
	})
}

// podAnswer is a request to url that one of the tenant's pods must answer:
// "pod <name> node <node>" and X-Pod: <name>.
func podAnswer(e *suiteEnv, tenant, url string, pods []framework.TenantPod, i int) framework.Connection {
	names := make([]string, len(pods))
	for j, p := range pods {
		names[j] = p.Name
	}
	return framework.Connection{
		Name:   fmt.Sprintf("%s VIP request %d", tenant, i+1),
		From:   e.target.Client(),
		URL:    url,
		Body:   regexp.MustCompile(`^pod ` + oneOf(names) + ` node \S+\n?$`),
		Header: regexp.MustCompile(`(?i)^x-pod:\s*` + oneOf(names) + `\s*$`),
	}
}

// expectRightNode checks that each answer names the node its pod runs on.
func expectRightNode(report framework.Report, pods []framework.TenantPod) {
	node := map[string]string{}
	for _, p := range pods {
		node[p.Name] = p.Node
	}
	for _, r := range report {
		f := strings.Fields(r.Body)
		gomega.Expect(f).To(gomega.HaveLen(4), "answer %q", r.Body)
		gomega.Expect(f[3]).To(gomega.Equal(node[f[1]]), "pod %s says it runs on %s; the lab put it on %s", f[1], f[3], node[f[1]])
	}
}
