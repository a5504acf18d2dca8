package framework

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/spklab/spklab/host/frr"
	"github.com/spklab/spklab/topology"
)

// FamilyOf is the FRR address family of an address.
func FamilyOf(a netip.Addr) frr.Family {
	if a.Is4() {
		return frr.IPv4
	}
	return frr.IPv6
}

// ExpectedNeighbors are the TMM addresses the router must have sessions
// with in one family: every replica's self IP of that family on the BGP
// VLAN, when a TMM neighbor of that family is configured.
func ExpectedNeighbors(t *topology.Topology, f frr.Family) []netip.Addr {
	v := t.BGPVLAN()
	if v == nil {
		return nil
	}
	peers := false
	for _, n := range t.TMM.BGP.Neighbors {
		if a, err := netip.ParseAddr(n.IP); err == nil && FamilyOf(a) == f {
			peers = true
		}
	}
	if !peers {
		return nil
	}
	var out []netip.Addr
	for i := 0; i < t.TMM.Replicas && i < len(v.SelfIPs); i++ {
		s := v.SelfIPs[i].IPv4
		if f == frr.IPv6 {
			s = v.SelfIPs[i].IPv6
		}
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// VIPs are the tenants' ingress addresses of one family, by tenant.
func VIPs(t *topology.Topology, f frr.Family) map[string]netip.Addr {
	out := map[string]netip.Addr{}
	for _, tn := range t.Tenants {
		if tn.Ingress == nil {
			continue
		}
		for _, s := range []string{tn.Ingress.IPv4, tn.Ingress.IPv6} {
			if a, err := netip.ParseAddr(s); err == nil && FamilyOf(a) == f {
				out[tn.Namespace] = a
			}
		}
	}
	return out
}

// RouteKind selects the VIP or the SNAT routes among the expected ones.
type RouteKind int

// The kinds of routes the TMMs announce.
const (
	VIPRoutes RouteKind = iota
	SNATRoutes
)

// ExpectedRoutes are the router routes of one kind and family the
// topology expects (topology.ExpectedRouterRoutes, split).
func ExpectedRoutes(t *topology.Topology, kind RouteKind, f frr.Family) []topology.RouterRoute {
	vips := map[netip.Addr]bool{}
	for _, a := range VIPs(t, f) {
		vips[a] = true
	}
	var out []topology.RouterRoute
	for _, r := range t.ExpectedRouterRoutes() {
		if FamilyOf(r.Prefix.Addr()) == f && vips[r.Prefix.Addr()] == (kind == VIPRoutes) {
			out = append(out, r)
		}
	}
	return out
}

// PresentRoutes lists the prefixes that still have a route of any protocol
// in the RIB (for a withdrawal, the list must become empty).
func PresentRoutes(rib []frr.Route, prefixes ...netip.Prefix) []string {
	var out []string
	for _, p := range prefixes {
		for _, r := range rib {
			if r.Prefix == p {
				out = append(out, fmt.Sprintf("%s still in the RIB (%s via %s)", p, r.Protocol, nextHopList(r)))
				break
			}
		}
	}
	return out
}

func nextHopList(r frr.Route) string {
	var hs []string
	for _, h := range r.NextHops {
		hs = append(hs, h.Addr.String())
	}
	return strings.Join(hs, ",")
}

// NeighborProblems checks that the router has an Established session with
// every wanted address, from AS remoteAS to AS localAS. A non-zero since
// also wants each session younger than since (a new one after a restart,
// not the old session the router has not yet noticed is gone).
func NeighborProblems(got []frr.Neighbor, want []netip.Addr, remoteAS, localAS uint32, since time.Time) []string {
	var out []string
	for _, a := range want {
		i := slices.IndexFunc(got, func(n frr.Neighbor) bool { return n.Address == a })
		if i < 0 {
			out = append(out, fmt.Sprintf("%s: no session at the router", a))
			continue
		}
		n := got[i]
		switch {
		case !n.Established():
			msg := fmt.Sprintf("%s: %s, not Established", a, n.State)
			if n.LastReset != "" {
				msg += " (last reset: " + n.LastReset + ")"
			}
			out = append(out, msg)
		case n.RemoteAS != remoteAS || n.LocalAS != localAS:
			out = append(out, fmt.Sprintf("%s: AS %d → %d, want AS %d → %d", a, n.RemoteAS, n.LocalAS, remoteAS, localAS))
		case !since.IsZero() && n.Uptime > time.Since(since):
			out = append(out, fmt.Sprintf("%s: the session is %s old, older than the restart %s ago", a, n.Uptime, time.Since(since).Round(time.Millisecond)))
		}
	}
	return out
}
