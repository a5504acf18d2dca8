package frr

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"

	"golang.org/x/sync/errgroup"
)

// Route is one entry of zebra's RIB: a prefix as one protocol offers it.
type Route struct {
	Prefix netip.Prefix
	// Protocol is who offers it: "connected", "kernel", "static", "bgp", …
	Protocol string
	// Selected is zebra's choice among the prefix's entries.
	Selected bool
	// Installed means the entry is in the kernel FIB.
	Installed        bool
	Distance, Metric int
	NextHops         []NextHop
}

// NextHop is one next hop of a RIB entry.
type NextHop struct {
	// Addr is the gateway; zero for connected and blackhole next hops.
	Addr      netip.Addr
	Interface string
	// Active next hops are usable; FIB ones are installed in the kernel.
	Active, FIB       bool
	DirectlyConnected bool
	Blackhole         bool
}

// routesCommand is zebra's RIB command for a family.
func routesCommand(f Family) string {
	if f == IPv6 {
		return "show ipv6 route json"
	}
	return "show ip route json"
}

// Routes lists zebra's RIB for one family ("show ip route json" or "show
// ipv6 route json"), sorted by prefix; a prefix offered by several
// protocols has one Route each.
func (v *VTY) Routes(ctx context.Context, f Family) ([]Route, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	cmd := routesCommand(f)
	data, err := v.Run(ctx, cmd)
	if err != nil {
		return nil, err
	}
	rs, err := ParseRoutes(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	return rs, nil
}

// RIB is Routes of several families, read at once (one vtysh each, in
// parallel: through docker exec a read takes a good part of a second, and
// convergence timings include the read that saw the routes), in the
// families' order.
func (v *VTY) RIB(ctx context.Context, fs ...Family) ([]Route, error) {
	per := make([][]Route, len(fs))
	g, ctx := errgroup.WithContext(ctx)
	for i, f := range fs {
		g.Go(func() error {
			rs, err := v.Routes(ctx, f)
			per[i] = rs
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return slices.Concat(per...), nil
}

// SelectedRoute returns the selected entry for exactly p, if any.
func SelectedRoute(routes []Route, p netip.Prefix) (Route, bool) {
	for _, r := range routes {
		if r.Prefix == p && r.Selected {
			return r, true
		}
	}
	return Route{}, false
}

// routeJSON is one entry of "show ip route json" (FRR 8.4).
type routeJSON struct {
	Prefix    *string `json:"prefix"`
	Protocol  *string `json:"protocol"`
	Selected  bool    `json:"selected"`
	Installed bool    `json:"installed"`
	Distance  int     `json:"distance"`
	Metric    int     `json:"metric"`
	NextHops  []struct {
		IP                *string `json:"ip"`
		Interface         string  `json:"interfaceName"`
		Active            bool    `json:"active"`
		FIB               bool    `json:"fib"`
		DirectlyConnected bool    `json:"directlyConnected"`
		Blackhole         bool    `json:"blackhole"`
	} `json:"nexthops"`
}

// ParseRoutes parses the output of "show ip route json" or "show ipv6 route
// json" (FRR 8.4), sorted by prefix, then protocol. Unknown fields are
// ignored; a missing or malformed field is an error that names it.
func ParseRoutes(data []byte) ([]Route, error) {
	if err := frrWarning(data); err != nil {
		return nil, err
	}
	var raw map[string][]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("decoding JSON: %w", err)
	}
	var out []Route
	for key, entries := range raw {
		p, err := netip.ParsePrefix(key)
		if err != nil {
			return nil, fmt.Errorf("route key %q is not a prefix: %w", key, err)
		}
		for i, msg := range entries {
			r, err := parseRoute(p, msg)
			if err != nil {
				return nil, fmt.Errorf("route %s[%d]: %w", key, i, err)
			}
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b Route) int {
		return cmp.Or(comparePrefix(a.Prefix, b.Prefix), cmp.Compare(a.Protocol, b.Protocol))
	})
	return out, nil
}

func parseRoute(p netip.Prefix, msg json.RawMessage) (Route, error) {
	var j routeJSON
	if err := json.Unmarshal(msg, &j); err != nil {
		return Route{}, fmt.Errorf("decoding: %w", err)
	}
	if err := required(field{"prefix", j.Prefix != nil}, field{"protocol", j.Protocol != nil}); err != nil {
		return Route{}, err
	}
	if got, err := netip.ParsePrefix(*j.Prefix); err != nil || got != p {
		return Route{}, fmt.Errorf("field \"prefix\" is %q under key %s", *j.Prefix, p)
	}
	r := Route{
		Prefix: p, Protocol: *j.Protocol,
		Selected: j.Selected, Installed: j.Installed,
		Distance: j.Distance, Metric: j.Metric,
	}
	for i, nh := range j.NextHops {
		h := NextHop{
			Interface: nh.Interface, Active: nh.Active, FIB: nh.FIB,
			DirectlyConnected: nh.DirectlyConnected, Blackhole: nh.Blackhole,
		}
		if nh.IP != nil {
			a, err := netip.ParseAddr(*nh.IP)
			if err != nil {
				return r, fmt.Errorf("nexthops[%d]: field \"ip\": %w", i, err)
			}
			h.Addr = a
		}
		r.NextHops = append(r.NextHops, h)
	}
	return r, nil
}

// comparePrefix orders prefixes by address, then length.
func comparePrefix(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}
