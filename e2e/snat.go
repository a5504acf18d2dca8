package e2e

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/spklab/spklab/e2e/framework"
	"github.com/spklab/spklab/host/frr"
	"github.com/spklab/spklab/topology"
)

// registerSNAT: docs/architecture.md, "What the suites check" item 3. From every pod of a tenant with a SNAT
// pool, the client's /txt (which echoes the source address it sees) shows
// one of that tenant's SNAT addresses — never another tenant's.
func registerSNAT(e *suiteEnv) {
	topo := e.target.Topology()
	ginkgo.Describe("snat", ginkgo.Label(LabelSNAT), func() {
		for _, fam := range families() {
			client, ok := clientAddr(topo, fam.family)
			if !ok {
				continue
			}
			url := framework.HTTPURL(client, 80, "/txt")
			for _, tn := range topo.Tenants {
				own := snatAddrs(topo, tn.Namespace, fam.family)
				tenant := tn.Namespace
				// A family the tenant's pods have no address of is not
				// checked at all (rather than reported as skipped): the
				// lab's pods are IPv4-only.
				var pods []framework.TenantPod
				for _, p := range e.target.Pods(tenant) {
					if p.HasFamily(fam.family == frr.IPv6) {
						pods = append(pods, p)
					}
				}
				if len(own) == 0 || len(pods) == 0 {
					continue
				}
				ginkgo.It(fmt.Sprintf("%s pods reach the client %s from a %s SNAT address %v, never another tenant's", tenant, url, tenant, own), ginkgo.Label(fam.label), func(sc ginkgo.SpecContext) {
					ctx, cancel := e.specContext(sc)
					defer cancel()
					var conns []framework.Connection
					for _, p := range pods {
						for i := range 4 {
							conns = append(conns, framework.Connection{
								Name: fmt.Sprintf("%s egress %d", p.Name, i+1),
								From: p.Exec,
								URL:  url,
								Body: regexp.MustCompile(`^` + oneOf(own) + `\n?$`),
							})
						}
					}
					report := framework.Checker{}.Run(ctx, conns)
					others := otherSNATAddrs(topo, tenant, fam.family)
					for _, r := range report {
						seen := strings.TrimSpace(r.Body)
						gomega.Expect(others).NotTo(gomega.HaveKey(seen), "%s left as %s, a SNAT address of tenant %s", r.Connection.Name, seen, others[seen])
					}
					expectOK(report.Err())
				}, ginkgo.SpecTimeout(specTimeout))
			}
		}
	})
}

// clientAddr is the client's address of the family.
func clientAddr(t *topology.Topology, f frr.Family) (netip.Addr, bool) {
	s := t.Client.IPv4
	if f == frr.IPv6 {
		s = t.Client.IPv6
	}
	a, err := netip.ParseAddr(s)
	return a, err == nil
}

// snatAddrs are a tenant's SNAT addresses of one family, every row.
func snatAddrs(t *topology.Topology, tenant string, f frr.Family) []string {
	var out []string
	for _, tn := range t.Tenants {
		if tn.Namespace != tenant || tn.SNATPool == nil {
			continue
		}
		for _, row := range tn.SNATPool.Rows {
			for _, s := range row {
				if a, err := netip.ParseAddr(s); err == nil && framework.FamilyOf(a) == f && !slices.Contains(out, a.String()) {
					out = append(out, a.String())
				}
			}
		}
	}
	return out
}

// otherSNATAddrs maps every other tenant's SNAT address to its tenant.
func otherSNATAddrs(t *topology.Topology, tenant string, f frr.Family) map[string]string {
	out := map[string]string{}
	for _, tn := range t.Tenants {
		if tn.Namespace == tenant {
			continue
		}
		for _, a := range snatAddrs(t, tn.Namespace, f) {
			out[a] = tn.Namespace
		}
	}
	return out
}
