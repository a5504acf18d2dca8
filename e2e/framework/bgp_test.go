package framework

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/spklab/spklab/host/frr"
	"github.com/spklab/spklab/topology"
)

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func TestExpectationsFromTheDefaultTopology(t *testing.T) {
	topo := topology.Default()
	if got := fmt.Sprint(ExpectedNeighbors(topo, frr.IPv4)); got != "[192.0.2.201 192.0.2.202]" {
		t.Errorf("v4 neighbors %s", got)
	}
	if got := fmt.Sprint(ExpectedNeighbors(topo, frr.IPv6)); got != "[2001::192:0:2:201 2001::192:0:2:202]" {
		t.Errorf("v6 neighbors %s", got)
	}
	// Without a v6 neighbor the router has no v6 sessions to check.
	topo.TMM.BGP.Neighbors = topo.TMM.BGP.Neighbors[:1]
	if got := ExpectedNeighbors(topo, frr.IPv6); got != nil {
		t.Errorf("v6 neighbors without a v6 TMM neighbor: %v", got)
	}
	topo = topology.Default()
	for _, tc := range []struct {
		kind RouteKind
		f    frr.Family
		want string
	}{
		{VIPRoutes, frr.IPv4, "198.19.19.100/32 via [192.0.2.201 192.0.2.202]; 198.20.20.100/32 via [192.0.2.201 192.0.2.202]"},
		{VIPRoutes, frr.IPv6, "2001::198:19:19:100/128 via [2001::192:0:2:201 2001::192:0:2:202]; 2001::198:20:20:100/128 via [2001::192:0:2:201 2001::192:0:2:202]"},
		{SNATRoutes, frr.IPv4, "192.0.2.100/32 via [192.0.2.201]; 192.0.2.101/32 via [192.0.2.202]; 192.0.2.110/32 via [192.0.2.201]; 192.0.2.111/32 via [192.0.2.202]"},
	} {
		var got []string
		for _, r := range ExpectedRoutes(topo, tc.kind, tc.f) {
			got = append(got, fmt.Sprintf("%s via %v", r.Prefix, r.NextHops))
		}
		if strings.Join(got, "; ") != tc.want {
			t.Errorf("kind %d %s:\n got %s\nwant %s", tc.kind, tc.f, strings.Join(got, "; "), tc.want)
		}
	}
	if got := fmt.Sprint(VIPs(topo, frr.IPv6)); got != "map[blue:2001::198:20:20:100 red:2001::198:19:19:100]" {
		t.Errorf("VIPs %s", got)
	}
	if u, ok := IngressURL(topo, "red", frr.IPv6); !ok || u != "http://[2001::198:19:19:100]/" {
		t.Errorf("red v6 URL %q", u)
	}
	if _, ok := IngressURL(topo, "green", frr.IPv4); ok {
		t.Error("a tenant that does not exist has a URL")
	}
	if u := HTTPURL(netip.MustParseAddr("10.11.22.33"), 8050, "/txt"); u != "http://10.11.22.33:8050/txt" {
		t.Errorf("URL %q", u)
	}
}

func TestNeighborProblems(t *testing.T) {
	want := addrs("192.0.2.201", "192.0.2.202", "192.0.2.203", "192.0.2.204")
	got := []frr.Neighbor{
		{Address: want[0], RemoteAS: 64443, LocalAS: 65500, State: "Established", Uptime: time.Hour},
		{Address: want[1], RemoteAS: 64443, LocalAS: 65500, State: "Active", LastReset: "NSF peer closed the session"},
		{Address: want[2], RemoteAS: 64999, LocalAS: 65500, State: "Established", Uptime: time.Minute},
	}
	ps := NeighborProblems(got, want, 64443, 65500, time.Time{})
	wantPs := []string{
		"192.0.2.202: Active, not Established (last reset: NSF peer closed the session)",
		"192.0.2.203: AS 64999 → 65500, want AS 64443 → 65500",
		"192.0.2.204: no session at the router",
	}
	if strings.Join(ps, "\n") != strings.Join(wantPs, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(ps, "\n"), strings.Join(wantPs, "\n"))
	}
	// After a restart, the hour-old session is the stale one.
	ps = NeighborProblems(got[:1], want[:1], 64443, 65500, time.Now().Add(-2*time.Second))
	if len(ps) != 1 || !strings.Contains(ps[0], "older than the restart") {
		t.Errorf("stale session: %v", ps)
	}
	fresh := []frr.Neighbor{{Address: want[0], RemoteAS: 64443, LocalAS: 65500, State: "Established", Uptime: time.Second}}
	if ps := NeighborProblems(fresh, want[:1], 64443, 65500, time.Now().Add(-2*time.Second)); ps != nil {
		t.Errorf("new session: %v", ps)
	}
}

func TestPresentRoutes(t *testing.T) {
	vip := netip.MustParsePrefix("198.19.19.100/32")
	snat := netip.MustParsePrefix("192.0.2.100/32")
	hop := func(s string) frr.NextHop { return frr.NextHop{Addr: netip.MustParseAddr(s), Active: true, FIB: true} }
	rib := []frr.Route{
		{Prefix: vip, Protocol: "bgp", Selected: true, Installed: true, NextHops: []frr.NextHop{hop("192.0.2.202")}},
		{Prefix: snat, Protocol: "bgp", Selected: true, Installed: true, NextHops: []frr.NextHop{hop("192.0.2.201")}},
	}
	gone := netip.MustParsePrefix("2001::198:19:19:100/128")
	if ps := PresentRoutes(rib, vip, gone); len(ps) != 1 || !strings.HasPrefix(ps[0], "198.19.19.100/32 still in the RIB (bgp via 192.0.2.202)") {
		t.Errorf("present %v", ps)
	}
}

func TestCaptureIsBounded(t *testing.T) {
	got := strings.Join(CaptureArgv(CaptureDuration, CapturePackets), " ")
	if got != "timeout -s INT 2 tcpdump -i any -n -U -c 200 -w -" {
		t.Errorf("capture %q", got)
	}
}
