package topology

import (
	"fmt"
	"testing"
)

func TestExpectedRouterRoutes(t *testing.T) {
	got := map[string]string{}
	for _, r := range Default().ExpectedRouterRoutes() {
		got[r.Prefix.String()] = fmt.Sprint(r.NextHops)
	}
	want := map[string]string{
		"198.19.19.100/32":        "[192.0.2.201 192.0.2.202]",
		"2001::198:19:19:100/128": "[2001::192:0:2:201 2001::192:0:2:202]",
		"198.20.20.100/32":        "[192.0.2.201 192.0.2.202]",
		"2001::198:20:20:100/128": "[2001::192:0:2:201 2001::192:0:2:202]",
		"192.0.2.100/32":          "[192.0.2.201]",
		"192.0.2.101/32":          "[192.0.2.202]",
		"192.0.2.110/32":          "[192.0.2.201]",
		"192.0.2.111/32":          "[192.0.2.202]",
		"2001::192:0:2:100/128":   "[2001::192:0:2:201]",
		"2001::192:0:2:111/128":   "[2001::192:0:2:202]",
	}
	for p, hops := range want {
		if got[p] != hops {
			t.Errorf("%s via %s, want %s", p, got[p], hops)
		}
	}
	if len(got) != 12 {
		t.Errorf("%d routes, want 12 (4 VIPs, 8 SNAT addresses): %v", len(got), got)
	}
	noBGP := Default()
	noBGP.TMM.BGP.Neighbors = nil
	if r := noBGP.ExpectedRouterRoutes(); r != nil {
		t.Errorf("without neighbors: %v", r)
	}
}
