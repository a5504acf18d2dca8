package frr

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// BGPRoute is a prefix of bgpd's table with every path it holds for it.
type BGPRoute struct {
	Prefix netip.Prefix
	Paths  []BGPPath
}

// BGPPath is one path to a prefix.
type BGPPath struct {
	// NextHop is the path's global next hop: for IPv6 paths FRR also
	// lists (and on a shared link uses) the peer's link-local address,
	// which is in NextHops. 0.0.0.0 or :: for locally originated paths.
	NextHop  netip.Addr
	NextHops []BGPNextHop
	Valid    bool
	// Best is bgpd's best path; Multipath paths are installed with it
	// (ECMP).
	Best, Multipath bool
	// ASPath lists the path's AS numbers in order, AS_SET and
	// confederation segments flattened; empty for local paths.
	ASPath []uint32
	Origin string // "IGP", "EGP" or "incomplete"
	// Peer is the neighbor the path came from; zero when Local.
	Peer netip.Addr
	// Local paths are originated here (network statements, redistribution).
	Local bool
	// From is "external" or "internal".
	From              string
	Metric, LocalPref int
	Weight            int
}

// BGPNextHop is one next hop address of a path.
type BGPNextHop struct {
	Addr netip.Addr
	// Scope is "global" or "link-local" for IPv6, empty for IPv4.
	Scope string
	// Used marks the address bgpd hands to zebra.
	Used bool
}

// Selected returns the paths bgpd installs for the route: the best path and
// its multipath siblings.
func (r BGPRoute) Selected() []BGPPath {
	var out []BGPPath
	for _, p := range r.Paths {
		if p.Best || p.Multipath {
			out = append(out, p)
		}
	}
	return out
}

// FindBGPRoute returns the route for exactly p, if any.
func FindBGPRoute(routes []BGPRoute, p netip.Prefix) (BGPRoute, bool) {
	for _, r := range routes {
		if r.Prefix == p {
			return r, true
		}
	}
	return BGPRoute{}, false
}

// bgpRoutesCommand is bgpd's unicast table command for a family.
func bgpRoutesCommand(f Family) string {
	return "show bgp " + string(f) + " unicast json"
}

// BGPRoutes lists bgpd's unicast table for one family ("show bgp ipv4
// unicast json" or "show bgp ipv6 unicast json"), sorted by prefix.
func (v *VTY) BGPRoutes(ctx context.Context, f Family) ([]BGPRoute, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	cmd := bgpRoutesCommand(f)
	data, err := v.Run(ctx, cmd)
	if err != nil {
		return nil, err
	}
	rs, err := ParseBGPRoutes(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	return rs, nil
}

// bgpPathJSON is one path of "show bgp ipv4 unicast json" (FRR 8.4).
type bgpPathJSON struct {
	Valid     bool    `json:"valid"`
	Best      bool    `json:"bestpath"`
	Multipath bool    `json:"multipath"`
	Path      *string `json:"path"`
	Origin    string  `json:"origin"`
	PeerID    *string `json:"peerId"`
	PathFrom  string  `json:"pathFrom"`
	Metric    int     `json:"metric"`
	LocPrf    int     `json:"locPrf"`
	Weight    int     `json:"weight"`
	NextHops  []struct {
		IP    *string `json:"ip"`
		Scope string  `json:"scope"`
		Used  bool    `json:"used"`
	} `json:"nexthops"`
}

// ParseBGPRoutes parses the output of "show bgp ipv4|ipv6 unicast json" (FRR
// 8.4), sorted by prefix. Unknown fields are ignored; a missing or
// malformed field is an error that names it; FRR's "no BGP instance"
// warning is an error too.
func ParseBGPRoutes(data []byte) ([]BGPRoute, error) {
	if err := frrWarning(data); err != nil {
		return nil, err
	}
	var table struct {
		Routes *map[string][]json.RawMessage `json:"routes"`
	}
	if err := json.Unmarshal(data, &table); err != nil {
		return nil, fmt.Errorf("decoding JSON: %w", err)
	}
	if table.Routes == nil {
		return nil, fmt.Errorf(`field "routes" is missing`)
	}
	out := make([]BGPRoute, 0, len(*table.Routes))
	for key, paths := range *table.Routes {
		p, err := netip.ParsePrefix(key)
		if err != nil {
			return nil, fmt.Errorf("route key %q is not a prefix: %w", key, err)
		}
		r := BGPRoute{Prefix: p}
		for i, msg := range paths {
			path, err := parseBGPPath(msg)
			if err != nil {
				return nil, fmt.Errorf("route %s path %d: %w", key, i, err)
			}
			r.Paths = append(r.Paths, path)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b BGPRoute) int { return comparePrefix(a.Prefix, b.Prefix) })
	return out, nil
}

func parseBGPPath(msg json.RawMessage) (BGPPath, error) {
	var j bgpPathJSON
	if err := json.Unmarshal(msg, &j); err != nil {
		return BGPPath{}, fmt.Errorf("decoding: %w", err)
	}
	if err := required(
		field{"path", j.Path != nil},
		field{"peerId", j.PeerID != nil},
		field{"nexthops", len(j.NextHops) > 0},
	); err != nil {
		return BGPPath{}, err
	}
	p := BGPPath{
		Valid: j.Valid, Best: j.Best, Multipath: j.Multipath,
		Origin: j.Origin, From: j.PathFrom,
		Metric: j.Metric, LocalPref: j.LocPrf, Weight: j.Weight,
	}
	var err error
	if p.ASPath, err = parseASPath(*j.Path); err != nil {
		return p, err
	}
	// bgpd's own paths come from peer_self, whose address is unspecified.
	if *j.PeerID == "(unspec)" {
		p.Local = true
	} else if p.Peer, err = parseAddrField("peerId", *j.PeerID); err != nil {
		return p, err
	}
	for i, nh := range j.NextHops {
		if nh.IP == nil {
			return p, fmt.Errorf("nexthops[%d]: field \"ip\" is missing", i)
		}
		a, err := netip.ParseAddr(*nh.IP)
		if err != nil {
			return p, fmt.Errorf("nexthops[%d]: field \"ip\": %w", i, err)
		}
		p.NextHops = append(p.NextHops, BGPNextHop{Addr: a, Scope: nh.Scope, Used: nh.Used})
		if !p.NextHop.IsValid() && nh.Scope != "link-local" {
			p.NextHop = a
		}
	}
	if !p.NextHop.IsValid() {
		p.NextHop = p.NextHops[0].Addr
	}
	return p, nil
}

// parseASPath reads FRR's AS path string: "65500 64443", with AS_SETs in
// braces ("{1,2}") and confederation segments in parentheses or brackets.
func parseASPath(s string) ([]uint32, error) {
	var out []uint32
	for tok := range strings.FieldsFuncSeq(s, func(r rune) bool {
		return strings.ContainsRune(" ,{}()[]", r)
	}) {
		n, err := strconv.ParseUint(tok, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("field \"path\": %q is not an AS number", tok)
		}
		out = append(out, uint32(n))
	}
	return out, nil
}
