package frr

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/spklab/spklab/topology"
)

func TestMismatches(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.201"), netip.MustParseAddr("192.0.2.202")
	vip := netip.MustParsePrefix("198.19.19.100/32")
	want := []topology.RouterRoute{{Prefix: vip, NextHops: []netip.Addr{b, a}, What: "VIP red"}}
	route := func(proto string, installed bool, hops ...netip.Addr) []Route {
		r := Route{Prefix: vip, Protocol: proto, Selected: true, Installed: installed}
		for _, h := range hops {
			r.NextHops = append(r.NextHops, NextHop{Addr: h, Active: true})
		}
		return []Route{r}
	}
	for _, tc := range []struct {
		name string
		rib  []Route
		want string // "" = converged
	}{
		{"converged, next hops in any order", route("bgp", true, a, b), ""},
		{"missing", nil, "198.19.19.100/32 (VIP red): no route"},
		{"one next hop", route("bgp", true, a), "bgp via [192.0.2.201], want bgp via [192.0.2.201 192.0.2.202]"},
		{"static", route("static", true, a, b), "static via"},
		{"not in the kernel", route("bgp", false, a, b), "selected but not installed"},
	} {
		got := strings.Join(Mismatches(tc.rib, want), "\n")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
