package fib

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

func TestLookupFlowSpreads(t *testing.T) {
	hops := []NextHop{via("192.0.2.201", "external"), via("192.0.2.202", "external"), via("192.0.2.203", "external"), via("192.0.2.204", "external")}
	tb := New()
	mustAdd(t, tb, route("198.19.19.100/32", BGP, hops...))
	dst := addr("198.19.19.100")
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 100000
	for _, kind := range []string{"sequential", "random", "multiples of 1024"} {
		count := map[NextHop]int{}
		for i := range uint32(n) {
			h := i
			switch kind {
			case "random":
				h = rng.Uint32()
			case "multiples of 1024":
				h = i << 10
			}
			nh, r, ok := tb.LookupFlow(dst, h)
			if !ok || r.Prefix != pfx("198.19.19.100/32") {
				t.Fatalf("LookupFlow(%s, %d) = %v, %s, %v", dst, h, nh, r, ok)
			}
			count[nh]++
		}
		if len(count) != len(hops) {
			t.Errorf("%s hashes: reached %d next hops, want %d: %v", kind, len(count), len(hops), count)
		}
		for _, h := range hops {
			// Expected n/4 = 25000 each; 4% is over 10 standard deviations.
			if c := count[h]; c < n/4*96/100 || c > n/4*104/100 {
				t.Errorf("%s hashes: %s got %d of %d flows, want about %d", kind, h, c, n, n/4)
			}
		}
	}
}

func TestLookupFlowStable(t *testing.T) {
	hops := []NextHop{via("2001:db8::201", "external"), via("2001:db8::202", "external"), via("2001:db8::203", "external")}
	tb := New()
	mustAdd(t, tb, route("2001:db8:100::/48", BGP, hops...))
	dst := addr("2001:db8:100::7")
	first := make([]NextHop, 1000)
	for h := range first {
		first[h], _, _ = tb.LookupFlow(dst, uint32(h)*2654435761)
	}
	again := func(what string) {
		t.Helper()
		for h, want := range first {
			for range 2 {
				if got, _, _ := tb.LookupFlow(dst, uint32(h)*2654435761); got != want {
					t.Fatalf("%s: hash %d went to %s, before to %s", what, h, got, want)
				}
			}
		}
	}
	again("repeated calls")

	// Unrelated updates, and reinstalling the same set in another order
	// (as a BGP resync may), move no flow.
	mustAdd(t, tb, route("2001:db8:200::/48", BGP, hops[0]), route("::/0", Static, hops[1]))
	again("after unrelated updates")
	rev := slices.Clone(hops)
	slices.Reverse(rev)
	mustAdd(t, tb, route("2001:db8:100::/48", BGP, rev...))
	again("after reinstalling the set in another order")
	if err := tb.Replace(BGP, []Route{route("2001:db8:100::/48", BGP, hops[2], hops[0], hops[1])}); err != nil {
		t.Fatal(err)
	}
	again("after a Replace with the same set")

	// A single next hop takes every flow.
	mustAdd(t, tb, route("2001:db8:100::/48", BGP, hops[1]))
	for h := range uint32(1000) {
		if got, _, _ := tb.LookupFlow(dst, h*7919); got != hops[1] {
			t.Fatalf("single next hop: hash %d went to %s", h, got)
		}
	}
	if _, _, ok := tb.LookupFlow(addr("192.0.2.1"), 1); ok { // no IPv4 routes
		t.Error("LookupFlow found a route for an uncovered address")
	}
}

// Hash-threshold moves fewer flows than modulo when the set shrinks: with
// 4 next hops going to 3, modulo moves about 3/4 of the flows, hash-
// threshold 1/2; the flows of the removed next hop must move in any case.
func TestLookupFlowDisruption(t *testing.T) {
	hops := []NextHop{via("192.0.2.1", "e"), via("192.0.2.2", "e"), via("192.0.2.3", "e"), via("192.0.2.4", "e")}
	tb := New()
	mustAdd(t, tb, route("0.0.0.0/0", BGP, hops...))
	dst := netip.MustParseAddr("203.0.113.9")
	const n = 40000
	before := make([]NextHop, n)
	for h := range before {
		before[h], _, _ = tb.LookupFlow(dst, uint32(h))
	}
	mustAdd(t, tb, route("0.0.0.0/0", BGP, hops[:3]...))
	moved := 0
	for h := range before {
		after, _, _ := tb.LookupFlow(dst, uint32(h))
		if after == hops[3] {
			t.Fatalf("hash %d still goes to the removed next hop", h)
		}
		if after != before[h] {
			moved++
		}
	}
	if moved > n*55/100 {
		t.Errorf("removing 1 of 4 next hops moved %d of %d flows, want about half", moved, n)
	}
}
