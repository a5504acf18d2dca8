package fib

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Every route of generation g has next hops whose gateways encode g, so a
// reader can tell which generation a route belongs to. Even generations hold
// 10.0.0.0/8 and 64 more specific /16s (and the same in IPv6); odd ones only
// the covering /8, so a torn update would show as a /16 with an odd tag or
// a /8 with an even one (for an address a /16 covers).
const (
	genSubnets = 64
	genHops    = 3
)

func genGateway(v6 bool, g, j int) netip.Addr {
	tag := uint32(g*genHops + j)
	if !v6 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], 0x64400000+tag) // 100.64.0.0 + tag
		return netip.AddrFrom4(b)
	}
	b := [16]byte{0: 0xfd}
	binary.BigEndian.PutUint32(b[12:], tag)
	return netip.AddrFrom16(b)
}

func genOfGateway(a netip.Addr) int {
	var tag uint32
	if a.Is4() {
		b := a.As4()
		tag = binary.BigEndian.Uint32(b[:]) - 0x64400000
	} else {
		b := a.As16()
		tag = binary.BigEndian.Uint32(b[12:])
	}
	return int(tag / genHops)
}

func genRoutes(g int) []Route {
	var out []Route
	for _, v6 := range []bool{false, true} {
		hops := func() []NextHop {
			h := make([]NextHop, genHops)
			for j := range h {
				h[j] = NextHop{Gateway: genGateway(v6, g, j), VLAN: "external"}
			}
			return h
		}
		cover, sub := "10.0.0.0/8", "10.%d.0.0/16"
		if v6 {
			cover, sub = "fd10::/16", "fd10:%x::/32"
		}
		out = append(out, Route{Prefix: pfx(cover), Source: BGP, NextHops: hops()})
		if g%2 == 0 {
			for i := range genSubnets {
				out = append(out, Route{Prefix: pfx(fmt.Sprintf(sub, i)), Source: BGP, NextHops: hops()})
			}
		}
	}
	return out
}

// routeGen returns the generation of r, failing if its next hops do not
// agree on one.
func routeGen(r Route) (int, error) {
	g := genOfGateway(r.NextHops[0].Gateway)
	for _, h := range r.NextHops {
		if genOfGateway(h.Gateway) != g {
			return 0, fmt.Errorf("route %s mixes generations", r)
		}
	}
	if len(r.NextHops) != genHops {
		return 0, fmt.Errorf("route %s has %d next hops, want %d", r, len(r.NextHops), genHops)
	}
	return g, nil
}

// lookupGen returns the generation of r, the result of a lookup of an
// address that one of the /16s (or IPv6 /32s) covers, failing if r is
// inconsistent: such an address must find its /16 in even generations and
// the /8 in odd ones.
func lookupGen(r Route) (int, error) {
	g, err := routeGen(r)
	if err != nil {
		return 0, err
	}
	isSub := r.Prefix.Bits() == 16 && r.Prefix.Addr().Is4() || r.Prefix.Bits() == 32 && r.Prefix.Addr().Is6()
	if isSub != (g%2 == 0) {
		return 0, fmt.Errorf("route %s of generation %d: torn update", r, g)
	}
	return g, nil
}

// TestConcurrentReplace runs readers against writers and checks that every
// reader sees whole generations, in order. Run it with -race.
func TestConcurrentReplace(t *testing.T) {
	tb := New()
	if err := tb.Replace(BGP, genRoutes(0)); err != nil {
		t.Fatal(err)
	}
	// At most 2000 generations and about 3s (the race detector and a
	// loaded machine slow everything down), but at least 100.
	maxGens, budget := 2000, 3*time.Second
	if testing.Short() {
		maxGens = 200
	}
	start := time.Now()
	var gens atomic.Int64
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 16)

	// The BGP writer publishes generations 1, 2, ...
	wg.Go(func() {
		defer done.Store(true)
		for g := 1; g <= maxGens && (g <= 100 || time.Since(start) < budget); g++ {
			if err := tb.Replace(BGP, genRoutes(g)); err != nil {
				errs <- err
				return
			}
			gens.Store(int64(g))
		}
	})
	// A second writer churns static routes elsewhere, contending for the
	// writers' lock and changing the tries' shape under the readers.
	wg.Go(func() {
		for i := 0; !done.Load(); i++ {
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i), 0}), 24)
			if err := tb.Add(Route{Prefix: p, Source: Static, NextHops: []NextHop{{VLAN: "internal"}}}); err != nil {
				errs <- err
				return
			}
			if i%2 == 1 {
				tb.Delete(netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i - 1), 0}), 24), Static)
			}
		}
	})
	var lookups atomic.Int64
	for reader := range 4 {
		wg.Go(func() {
			last := 0 // generations only go forward for one reader
			n := 0
			fail := func(err error) { errs <- fmt.Errorf("reader %d after %d lookups: %w", reader, n, err) }
			for ; !done.Load() || n < 1000; n++ {
				i := (n*7 + reader) % genSubnets
				dst := netip.AddrFrom4([4]byte{10, byte(i), 1, 1})
				if n%2 == 1 {
					dst = netip.AddrFrom16([16]byte{0: 0xfd, 1: 0x10, 3: byte(i), 15: 1})
				}
				hop, r, ok := tb.LookupFlow(dst, uint32(n))
				if !ok {
					fail(fmt.Errorf("no route for %s", dst))
					return
				}
				g, err := lookupGen(r)
				if err != nil {
					fail(err)
					return
				}
				if g < last {
					fail(fmt.Errorf("saw generation %d after %d", g, last))
					return
				}
				last = g
				if genOfGateway(hop.Gateway) != g {
					fail(fmt.Errorf("LookupFlow gave next hop %s for route %s", hop, r))
					return
				}
				if n%500 == 0 { // the listing is one snapshot too
					rs := tb.Routes()
					var bgp []Route
					for _, r := range rs {
						if r.Source == BGP {
							bgp = append(bgp, r)
						}
					}
					g0, err := routeGen(bgp[0])
					if err == nil && g0 < last {
						err = fmt.Errorf("Routes shows generation %d after %d", g0, last)
					}
					want := 2
					if g0%2 == 0 {
						want += 2 * genSubnets
					}
					if err == nil && len(bgp) != want {
						err = fmt.Errorf("Routes of generation %d has %d BGP routes, want %d", g0, len(bgp), want)
					}
					for _, r := range bgp {
						if g, e := routeGen(r); err == nil && (e != nil || g != g0) {
							err = fmt.Errorf("Routes mixes generations %d and %d (%v)", g0, g, e)
						}
					}
					if err != nil {
						fail(err)
						return
					}
					last = g0
				}
			}
			lookups.Add(int64(n))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d generations, %d lookups", gens.Load(), lookups.Load())
}
