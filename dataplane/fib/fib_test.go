package fib

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

func via(gw, vlan string) NextHop { return NextHop{Gateway: addr(gw), VLAN: vlan} }
func onLink(vlan string) NextHop  { return NextHop{VLAN: vlan} }

func route(p string, s Source, hops ...NextHop) Route {
	return Route{Prefix: pfx(p), Source: s, NextHops: hops}
}

func mustAdd(t testing.TB, tb *Table, rs ...Route) {
	t.Helper()
	for _, r := range rs {
		if err := tb.Add(r); err != nil {
			t.Fatalf("Add(%s): %v", r, err)
		}
	}
}

// lpmCase expects dst to match want ("" = no route) with a first next hop
// whose gateway is gw ("" = on-link).
type lpmCase struct {
	dst, want string
	src       Source
	gw        string
}

func checkLookups(t *testing.T, tb *Table, cases []lpmCase) {
	t.Helper()
	for _, c := range cases {
		r, ok := tb.Lookup(addr(c.dst))
		if c.want == "" {
			if ok {
				t.Errorf("Lookup(%s) = %s, want no route", c.dst, r)
			}
			continue
		}
		if !ok {
			t.Errorf("Lookup(%s): no route, want %s", c.dst, c.want)
			continue
		}
		if r.Prefix != pfx(c.want) || r.Source != c.src {
			t.Errorf("Lookup(%s) = %s, want %s from %s", c.dst, r, c.want, c.src)
			continue
		}
		var gw string
		if g := r.NextHops[0].Gateway; g.IsValid() {
			gw = g.String()
		}
		if gw != c.gw {
			t.Errorf("Lookup(%s) = %s, want first gateway %q", c.dst, r, c.gw)
		}
	}
}

func TestLookupIPv4(t *testing.T) {
	tb := New()
	checkLookups(t, tb, []lpmCase{{dst: "10.0.0.1"}}) // empty table
	mustAdd(t, tb,
		route("0.0.0.0/0", BGP, via("192.0.2.1", "external")),
		route("10.0.0.0/8", Static, via("10.20.0.1", "internal")),
		route("10.1.0.0/16", Node, via("10.20.0.11", "egress")),
		route("10.1.2.0/24", Node, via("10.20.0.12", "egress")),
		route("10.1.2.3/32", Static, via("10.20.0.13", "egress")),
		route("192.0.2.0/24", Connected, onLink("external")),
		route("128.0.0.0/1", BGP, via("192.0.2.2", "external")),
	)
	checkLookups(t, tb, []lpmCase{
		{"10.1.2.3", "10.1.2.3/32", Static, "10.20.0.13"},
		{"10.1.2.4", "10.1.2.0/24", Node, "10.20.0.12"},
		{"10.1.2.255", "10.1.2.0/24", Node, "10.20.0.12"},
		{"10.1.3.0", "10.1.0.0/16", Node, "10.20.0.11"},
		{"10.1.255.255", "10.1.0.0/16", Node, "10.20.0.11"},
		{"10.2.0.0", "10.0.0.0/8", Static, "10.20.0.1"},
		{"10.255.255.255", "10.0.0.0/8", Static, "10.20.0.1"},
		{"11.0.0.0", "0.0.0.0/0", BGP, "192.0.2.1"},
		{"0.0.0.0", "0.0.0.0/0", BGP, "192.0.2.1"},
		{"127.255.255.255", "0.0.0.0/0", BGP, "192.0.2.1"},
		{"128.0.0.0", "128.0.0.0/1", BGP, "192.0.2.2"},
		{"192.0.2.77", "192.0.2.0/24", Connected, ""},
		{"192.0.3.1", "128.0.0.0/1", BGP, "192.0.2.2"},
		{"255.255.255.255", "128.0.0.0/1", BGP, "192.0.2.2"},
		{"2001:db8::1", "", 0, ""},                               // IPv4 routes never match IPv6
		{"::ffff:10.1.2.3", "10.1.2.3/32", Static, "10.20.0.13"}, // 4-in-6 is unmapped
	})

	// Without the default route, addresses outside every prefix miss.
	if !tb.Delete(pfx("0.0.0.0/0"), BGP) {
		t.Fatal("Delete(0.0.0.0/0, bgp) = false, want true")
	}
	checkLookups(t, tb, []lpmCase{
		{dst: "11.0.0.0"},
		{dst: "127.0.0.1"},
		{"10.1.2.4", "10.1.2.0/24", Node, "10.20.0.12"},
	})

	// Removing an inner prefix uncovers its parent.
	if !tb.Delete(pfx("10.1.2.0/24"), Node) {
		t.Fatal("Delete(10.1.2.0/24, node) = false")
	}
	checkLookups(t, tb, []lpmCase{
		{"10.1.2.4", "10.1.0.0/16", Node, "10.20.0.11"},
		{"10.1.2.3", "10.1.2.3/32", Static, "10.20.0.13"},
	})
	if _, ok := tb.Lookup(netip.Addr{}); ok {
		t.Error("Lookup(zero Addr) found a route")
	}
}

func TestLookupIPv6(t *testing.T) {
	tb := New()
	mustAdd(t, tb,
		route("::/0", BGP, via("2001:db8:2::1", "external")),
		route("2001:db8::/32", Static, via("fd00:20::1", "internal")),
		route("2001:db8:1::/48", Node, via("fd00:20::11", "egress")),
		route("2001:db8:1:2::/64", Node, via("fd00:20::12", "egress")),
		route("2001:db8:1:2::3/128", Static, via("fd00:20::13", "egress")),
		route("2001:db8:1:2::/127", Static, via("fd00:20::14", "egress")),
		route("2001:db8:2::/64", Connected, onLink("external")),
		route("8000::/1", BGP, via("fe80::1", "external")), // link-local gateway
		route("10.0.0.0/8", Static, via("10.20.0.1", "internal")),
	)
	checkLookups(t, tb, []lpmCase{
		{"2001:db8:1:2::3", "2001:db8:1:2::3/128", Static, "fd00:20::13"},
		{"2001:db8:1:2::2", "2001:db8:1:2::/64", Node, "fd00:20::12"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/127", Static, "fd00:20::14"},
		{"2001:db8:1:2::", "2001:db8:1:2::/127", Static, "fd00:20::14"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64", Node, "fd00:20::12"},
		{"2001:db8:1:3::", "2001:db8:1::/48", Node, "fd00:20::11"},
		{"2001:db8:ffff::1", "2001:db8::/32", Static, "fd00:20::1"},
		{"2001:db9::1", "::/0", BGP, "2001:db8:2::1"},
		{"::", "::/0", BGP, "2001:db8:2::1"},
		{"2001:db8:2::42", "2001:db8:2::/64", Connected, ""},
		{"8000::", "8000::/1", BGP, "fe80::1"},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "8000::/1", BGP, "fe80::1"},
		{"fe80::1%external", "8000::/1", BGP, "fe80::1"}, // a zone does not matter
		{"10.1.1.1", "10.0.0.0/8", Static, "10.20.0.1"},
		{"11.1.1.1", "", 0, ""}, // ::/0 does not cover IPv4
	})
	// The 4-in-6 range itself is not routed by ::/0: it is IPv4.
	checkLookups(t, tb, []lpmCase{{dst: "::ffff:11.1.1.1"}})
	if !tb.Delete(pfx("2001:db8:1:2::3/128"), Static) {
		t.Fatal("Delete(host route) = false")
	}
	checkLookups(t, tb, []lpmCase{
		{"2001:db8:1:2::3", "2001:db8:1:2::/64", Node, "fd00:20::12"},
	})
}

// A prefix held by several sources forwards by the best one; the others
// stand behind it and take over, in distance order, as better ones leave.
func TestSourcePreference(t *testing.T) {
	tb := New()
	p := "198.51.100.0/24"
	bgp := route(p, BGP, via("192.0.2.1", "external"))
	node := route(p, Node, via("10.20.0.11", "egress"))
	static := route(p, Static, via("10.20.0.1", "internal"))
	mustAdd(t, tb, bgp)
	checkLookups(t, tb, []lpmCase{{"198.51.100.100", p, BGP, "192.0.2.1"}})
	mustAdd(t, tb, static) // better than BGP: wins at once
	checkLookups(t, tb, []lpmCase{{"198.51.100.100", p, Static, "10.20.0.1"}})
	mustAdd(t, tb, node) // between the two: waits
	checkLookups(t, tb, []lpmCase{{"198.51.100.100", p, Static, "10.20.0.1"}})

	got := tb.Candidates(pfx(p))
	var order []Source
	for _, r := range got {
		order = append(order, r.Source)
	}
	if want := []Source{Static, Node, BGP}; !slices.Equal(order, want) {
		t.Errorf("Candidates = %v, want sources %v", order, want)
	}

	// Replacing the losing BGP route changes nothing visible.
	mustAdd(t, tb, route(p, BGP, via("192.0.2.9", "external")))
	checkLookups(t, tb, []lpmCase{{"198.51.100.100", p, Static, "10.20.0.1"}})

	if !tb.Delete(pfx(p), Static) {
		t.Fatal("Delete(static) = false")
	}
	checkLookups(t, tb, []lpmCase{{"198.51.100.100", p, Node, "10.20.0.11"}})
	if tb.Delete(pfx(p), Static) {
		t.Error("second Delete(static) = true, want false")
	}
	if !tb.Delete(pfx(p), Node) {
		t.Fatal("Delete(node) = false")
	}
	checkLookups(t, tb, []lpmCase{{"198.51.100.100", p, BGP, "192.0.2.9"}})
	if !tb.Delete(pfx(p), BGP) {
		t.Fatal("Delete(bgp) = false")
	}
	checkLookups(t, tb, []lpmCase{{dst: "198.51.100.100"}})
	if n := tb.Len(); n != 0 {
		t.Errorf("Len after deleting everything = %d, want 0", n)
	}
	if rs := tb.Routes(); len(rs) != 0 {
		t.Errorf("Routes after deleting everything = %v, want none", rs)
	}
}

func TestSourceDistances(t *testing.T) {
	want := []struct {
		s    Source
		name string
		d    uint8
	}{{Connected, "connected", 0}, {Static, "static", 1}, {Node, "node", 5}, {BGP, "bgp", 20}}
	for i, w := range want {
		if w.s.String() != w.name || w.s.Distance() != w.d || !w.s.Valid() {
			t.Errorf("%d: %s distance %d valid %v, want %s distance %d", i, w.s, w.s.Distance(), w.s.Valid(), w.name, w.d)
		}
		if i > 0 && want[i-1].d >= w.d {
			t.Errorf("distances are not strictly increasing at %s", w.s)
		}
	}
	for _, s := range []Source{0, BGP + 1, 255} {
		if s.Valid() || s.Distance() != 255 {
			t.Errorf("Source(%d): Valid = %v, Distance = %d; want false, 255", uint8(s), s.Valid(), s.Distance())
		}
	}
}

func TestAddRejects(t *testing.T) {
	good := []NextHop{via("192.0.2.1", "external")}
	cases := []struct {
		name string
		r    Route
		want []string // substrings of the error
	}{
		{"zero prefix", Route{Source: Static, NextHops: good}, []string{"invalid (zero) prefix"}},
		{"bad length", Route{Prefix: netip.PrefixFrom(addr("10.0.0.0"), 33), Source: Static, NextHops: good}, []string{"prefix length out of range"}},
		{"host bits", route("10.0.0.1/8", Static, good...), []string{"10.0.0.1/8", "host bits are set", "10.0.0.0/8"}},
		{"host bits v6", route("2001:db8::1/32", Static, via("2001:db8:2::1", "x")), []string{"2001:db8::1/32", "2001:db8::/32"}},
		{"mapped prefix", route("::ffff:10.0.0.0/104", Static, good...), []string{"::ffff:10.0.0.0/104", "IPv4-mapped", "10.0.0.0/8"}},
		{"no source", Route{Prefix: pfx("10.0.0.0/8"), NextHops: good}, []string{"10.0.0.0/8", "invalid source 0"}},
		{"bad source", Route{Prefix: pfx("10.0.0.0/8"), Source: 9, NextHops: good}, []string{"invalid source 9"}},
		{"no next hops", route("10.0.0.0/8", Static), []string{"10.0.0.0/8 (static)", "no next hops"}},
		{"no VLAN", route("10.0.0.0/8", Static, NextHop{Gateway: addr("192.0.2.1")}), []string{"10.0.0.0/8", "has no VLAN"}},
		{"duplicate hop", route("10.0.0.0/8", BGP, via("192.0.2.1", "external"), via("192.0.2.1", "external")), []string{"10.0.0.0/8 (bgp)", "listed twice"}},
		{"connected via gateway", route("192.0.2.0/24", Connected, via("192.0.2.1", "external")), []string{"192.0.2.0/24 (connected)", "on-link"}},
		{"v4 via v6", route("10.0.0.0/8", BGP, via("2001:db8::1", "external")), []string{"10.0.0.0/8", "2001:db8::1", "not of the prefix's address family"}},
		{"v6 via v4", route("2001:db8::/32", BGP, via("192.0.2.1", "external")), []string{"2001:db8::/32", "192.0.2.1", "address family"}},
		{"mapped gateway", route("10.0.0.0/8", BGP, via("::ffff:192.0.2.1", "external")), []string{"IPv4-mapped", "192.0.2.1"}},
		{"zoned gateway", route("2001:db8::/32", BGP, via("fe80::1%eth0", "external")), []string{"fe80::1%eth0", "zone"}},
		{"unspecified gateway", route("10.0.0.0/8", Static, via("0.0.0.0", "external")), []string{"0.0.0.0", "not a unicast"}},
		{"multicast gateway", route("2001:db8::/32", Static, via("ff02::1", "external")), []string{"ff02::1", "not a unicast"}},
	}
	tb := New()
	for _, c := range cases {
		err := tb.Add(c.r)
		if err == nil {
			t.Errorf("%s: Add(%s) succeeded, want an error", c.name, c.r)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.name, err, w)
			}
		}
	}
	if n := tb.Len(); n != 0 || len(tb.Routes()) != 0 {
		t.Errorf("rejected routes were installed: Len = %d, Routes = %v", n, tb.Routes())
	}
}

func TestDeleteNothing(t *testing.T) {
	tb := New()
	if tb.Delete(pfx("10.0.0.0/8"), Static) {
		t.Error("Delete on an empty table = true")
	}
	mustAdd(t, tb, route("10.0.0.0/8", Static, via("192.0.2.1", "x")))
	for _, c := range []struct {
		p netip.Prefix
		s Source
	}{
		{pfx("10.0.0.0/8"), BGP},       // other source
		{pfx("10.0.0.0/9"), Static},    // other prefix
		{pfx("10.0.0.0/7"), Static},    // covering prefix
		{netip.Prefix{}, Static},       // invalid
		{pfx("10.0.0.0/8"), Source(0)}, // invalid source
	} {
		if tb.Delete(c.p, c.s) {
			t.Errorf("Delete(%s, %s) = true, want false", c.p, c.s)
		}
	}
	checkLookups(t, tb, []lpmCase{{"10.1.1.1", "10.0.0.0/8", Static, "192.0.2.1"}})
}

func TestAddReplacesAndCopies(t *testing.T) {
	tb := New()
	hops := []NextHop{via("192.0.2.2", "external"), via("192.0.2.1", "external")}
	mustAdd(t, tb, route("10.0.0.0/8", BGP, hops...))
	r, _ := tb.Lookup(addr("10.0.0.1"))
	want := []NextHop{via("192.0.2.1", "external"), via("192.0.2.2", "external")}
	if !slices.Equal(r.NextHops, want) {
		t.Errorf("NextHops = %v, want sorted %v", r.NextHops, want)
	}
	hops[0] = via("192.0.2.99", "x") // the caller's slice is not the table's
	r, _ = tb.Lookup(addr("10.0.0.1"))
	if !slices.Equal(r.NextHops, want) {
		t.Errorf("after caller changed its slice: NextHops = %v, want %v", r.NextHops, want)
	}
	routes := tb.Routes()
	routes[0].NextHops[0] = via("192.0.2.99", "x") // nor is the Routes result
	r, _ = tb.Lookup(addr("10.0.0.1"))
	if !slices.Equal(r.NextHops, want) {
		t.Errorf("after caller changed Routes(): NextHops = %v, want %v", r.NextHops, want)
	}

	// Add of the same prefix and source replaces.
	mustAdd(t, tb, route("10.0.0.0/8", BGP, via("192.0.2.3", "external")))
	checkLookups(t, tb, []lpmCase{{"10.0.0.1", "10.0.0.0/8", BGP, "192.0.2.3"}})
	if n := tb.Len(); n != 1 {
		t.Errorf("Len = %d, want 1", n)
	}
}

func TestRoutesSorted(t *testing.T) {
	tb := New()
	in := []Route{
		route("2001:db8::/32", Static, via("2001:db8:2::1", "e")),
		route("10.1.0.0/16", Node, via("10.20.0.11", "egress")),
		route("::/0", BGP, via("2001:db8:2::1", "e")),
		route("10.0.0.0/8", Static, via("10.20.0.1", "i")),
		route("10.0.0.0/8", BGP, via("192.0.2.1", "e")), // loses: not listed
		route("0.0.0.0/0", BGP, via("192.0.2.1", "e")),
		route("192.0.2.0/24", Connected, onLink("e")),
		route("10.0.0.0/24", Static, via("10.20.0.1", "i")),
		route("9.0.0.0/8", Static, via("10.20.0.1", "i")),
		route("2001:db8::1/128", Static, via("2001:db8:2::1", "e")),
	}
	mustAdd(t, tb, in...)
	var got []string
	for _, r := range tb.Routes() {
		got = append(got, r.Prefix.String()+" "+r.Source.String())
	}
	want := []string{
		"0.0.0.0/0 bgp", "9.0.0.0/8 static", "10.0.0.0/8 static", "10.0.0.0/24 static",
		"10.1.0.0/16 node", "192.0.2.0/24 connected",
		"::/0 bgp", "2001:db8::/32 static", "2001:db8::1/128 static",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Routes =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := tb.Len(); n != len(want) {
		t.Errorf("Len = %d, want %d", n, len(want))
	}
}

func TestReplace(t *testing.T) {
	tb := New()
	mustAdd(t, tb,
		route("0.0.0.0/0", Static, via("192.0.2.1", "e")),
		route("198.51.100.0/24", BGP, via("192.0.2.1", "e")),
		route("203.0.113.0/24", BGP, via("192.0.2.1", "e")),
		route("203.0.113.0/24", Static, via("192.0.2.2", "e")),
	)
	err := tb.Replace(BGP, []Route{
		route("198.51.100.0/24", BGP, via("192.0.2.1", "e"), via("192.0.2.3", "e")),
		route("2001:db8:100::/48", BGP, via("2001:db8:2::1", "e")),
	})
	if err != nil {
		t.Fatal(err)
	}
	checkLookups(t, tb, []lpmCase{
		{"198.51.100.1", "198.51.100.0/24", BGP, "192.0.2.1"},
		{"2001:db8:100::1", "2001:db8:100::/48", BGP, "2001:db8:2::1"},
		{"203.0.113.1", "203.0.113.0/24", Static, "192.0.2.2"}, // static untouched
	})
	if c := tb.Candidates(pfx("203.0.113.0/24")); len(c) != 1 || c[0].Source != Static {
		t.Errorf("203.0.113.0/24 candidates = %v, want only the static one", c)
	}
	if r, _ := tb.Lookup(addr("198.51.100.1")); len(r.NextHops) != 2 {
		t.Errorf("198.51.100.0/24 = %s, want 2 next hops", r)
	}

	// An invalid set changes nothing at all.
	before := tb.Routes()
	bad := [][]Route{
		{route("198.51.100.0/24", BGP, via("192.0.2.1", "e")), route("10.0.0.1/8", BGP, via("192.0.2.1", "e"))},
		{route("198.51.100.0/24", BGP, via("192.0.2.1", "e")), route("198.51.100.0/24", BGP, via("192.0.2.3", "e"))},
		{route("198.51.100.0/24", Static, via("192.0.2.1", "e"))},
	}
	wantErr := []string{"host bits", "listed twice", "has source static"}
	for i, rs := range bad {
		err := tb.Replace(BGP, rs)
		if err == nil || !strings.Contains(err.Error(), wantErr[i]) {
			t.Errorf("Replace(bad set %d) error = %v, want one mentioning %q", i, err, wantErr[i])
		}
	}
	if err := tb.Replace(0, nil); err == nil {
		t.Error("Replace(invalid source) succeeded")
	}
	if after := tb.Routes(); !slices.EqualFunc(before, after, func(a, b Route) bool { return a.equal(&b) }) {
		t.Errorf("failed Replace changed the table:\n%v\n%v", before, after)
	}

	// An empty set withdraws every route of the source.
	if err := tb.Replace(BGP, nil); err != nil {
		t.Fatal(err)
	}
	checkLookups(t, tb, []lpmCase{
		{"198.51.100.1", "0.0.0.0/0", Static, "192.0.2.1"},
		{dst: "2001:db8:100::1"},
	})
	if n := tb.Len(); n != 2 {
		t.Errorf("Len = %d, want 2 (the static routes)", n)
	}
}

// A Replace that changes nothing publishes no new snapshot: a BGP resync
// with an unchanged RIB costs the readers nothing.
func TestReplaceUnchangedKeepsSnapshot(t *testing.T) {
	tb := New()
	rs := []Route{
		route("198.51.100.0/24", BGP, via("192.0.2.1", "e"), via("192.0.2.3", "e")),
		route("2001:db8:100::/48", BGP, via("2001:db8:2::1", "e")),
	}
	if err := tb.Replace(BGP, rs); err != nil {
		t.Fatal(err)
	}
	s := tb.cur.Load()
	slices.Reverse(rs[0].NextHops) // order of next hops does not matter
	if err := tb.Replace(BGP, rs); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, tb, rs[1])
	if tb.cur.Load() != s {
		t.Error("an unchanged Replace/Add published a new snapshot")
	}
}

func TestZeroTable(t *testing.T) {
	var tb Table
	if _, ok := tb.Lookup(addr("10.0.0.1")); ok {
		t.Error("zero Table found a route")
	}
	if _, _, ok := tb.LookupFlow(addr("10.0.0.1"), 1); ok {
		t.Error("zero Table LookupFlow found a route")
	}
	if rs := tb.Routes(); rs != nil {
		t.Errorf("zero Table Routes = %v", rs)
	}
	mustAdd(t, &tb, route("10.0.0.0/8", Static, via("192.0.2.1", "e")))
	checkLookups(t, &tb, []lpmCase{{"10.0.0.1", "10.0.0.0/8", Static, "192.0.2.1"}})
}

func TestRouteString(t *testing.T) {
	r := route("10.0.0.0/8", BGP, via("192.0.2.1", "external"), onLink("internal"))
	if got, want := r.String(), "10.0.0.0/8 [bgp/20] via 192.0.2.1 dev external, dev internal"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	tb := New()
	mustAdd(t, tb,
		route("0.0.0.0/0", BGP, via("192.0.2.1", "e"), via("192.0.2.2", "e")),
		route("10.0.0.0/8", Static, via("192.0.2.1", "e")),
		route("::/0", BGP, via("2001:db8::1", "e"), via("2001:db8::2", "e")),
		route("2001:db8::/32", Static, via("2001:db8::1", "e")),
	)
	dsts := []netip.Addr{addr("10.1.1.1"), addr("11.1.1.1"), addr("::ffff:10.1.1.1"), addr("2001:db8::5"), addr("2001:db9::5")}
	var sink int
	n := testing.AllocsPerRun(1000, func() {
		for i, d := range dsts {
			if r, ok := tb.Lookup(d); ok {
				sink += len(r.NextHops)
			}
			if h, _, ok := tb.LookupFlow(d, uint32(i)); ok {
				sink += len(h.VLAN)
			}
		}
	})
	if n != 0 {
		t.Errorf("Lookup/LookupFlow allocate %v times per run, want 0", n)
	}
	_ = sink
}
