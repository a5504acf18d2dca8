package frr

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/spklab/spklab/topology"
)

// Mismatches compares zebra's RIB with the routes the lab expects from the
// TMMs: each wanted prefix must be selected, from BGP, with exactly the
// wanted next hops, all active, and installed in the kernel (so traffic
// follows it). It returns one plain line per difference; none means
// converged.
func Mismatches(rib []Route, want []topology.RouterRoute) []string {
	var out []string
	for _, w := range want {
		r, ok := SelectedRoute(rib, w.Prefix)
		if !ok {
			out = append(out, fmt.Sprintf("%s (%s): no route", w.Prefix, w.What))
			continue
		}
		var got []netip.Addr
		for _, h := range r.NextHops {
			if h.Active {
				got = append(got, h.Addr)
			}
		}
		slices.SortFunc(got, netip.Addr.Compare)
		exp := slices.SortedFunc(slices.Values(w.NextHops), netip.Addr.Compare)
		switch {
		case r.Protocol != "bgp" || !slices.Equal(got, exp):
			out = append(out, fmt.Sprintf("%s (%s): %s via %v, want bgp via %v", w.Prefix, w.What, r.Protocol, got, exp))
		case !r.Installed:
			out = append(out, fmt.Sprintf("%s (%s): selected but not installed in the kernel", w.Prefix, w.What))
		}
	}
	return out
}
