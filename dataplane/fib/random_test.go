package fib

import (
	"cmp"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// reference is the obviously correct FIB: a list scanned linearly.
type reference struct {
	routes map[refKey]Route
}

type refKey struct {
	p netip.Prefix
	s Source
}

func (f *reference) lookup(dst netip.Addr) (Route, bool) {
	dst = dst.Unmap()
	var best Route
	found := false
	for _, r := range f.routes {
		if !r.Prefix.Contains(dst) {
			continue
		}
		if !found || r.Prefix.Bits() > best.Prefix.Bits() ||
			(r.Prefix.Bits() == best.Prefix.Bits() && r.Source.Distance() < best.Source.Distance()) {
			best, found = r, true
		}
	}
	return best, found
}

func (f *reference) winners() []Route {
	win := map[netip.Prefix]Route{}
	for _, r := range f.routes {
		if w, ok := win[r.Prefix]; !ok || r.Source.Distance() < w.Source.Distance() {
			win[r.Prefix] = r
		}
	}
	var out []Route
	for _, r := range win {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Route) int {
		return cmp.Or(a.Prefix.Addr().Compare(b.Prefix.Addr()), cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits()))
	})
	return out
}

// randomFamily draws prefixes that nest and collide a lot: their addresses
// come from a few bases with random low bits, their lengths are uniform.
type randomFamily struct {
	bits  int
	bases []netip.Addr
}

func newRandomFamily(rng *rand.Rand, v6 bool) randomFamily {
	f := randomFamily{bits: 32}
	if v6 {
		f.bits = 128
	}
	for range 8 {
		f.bases = append(f.bases, f.randAddr(rng, netip.Addr{}, 0))
	}
	return f
}

// randAddr returns base with every bit from position keep on random (or a
// fully random address when base is the zero Addr).
func (f randomFamily) randAddr(rng *rand.Rand, base netip.Addr, keep int) netip.Addr {
	var b [16]byte
	n := f.bits / 8
	for i := range n {
		b[i] = byte(rng.Uint32())
	}
	if base.IsValid() {
		bb := base.AsSlice()
		for i := range n {
			m := byte(0)
			switch {
			case (i+1)*8 <= keep:
				m = 0xff
			case i*8 < keep:
				m = ^byte(0xff >> (keep - i*8))
			}
			b[i] = bb[i]&m | b[i]&^m
		}
	}
	a, _ := netip.AddrFromSlice(b[:n])
	return a
}

func (f randomFamily) prefix(rng *rand.Rand) netip.Prefix {
	base := f.bases[rng.IntN(len(f.bases))]
	// Keep a random number of the base's bits, so prefixes share paths
	// of every length.
	a := f.randAddr(rng, base, rng.IntN(f.bits+1))
	return netip.PrefixFrom(a, rng.IntN(f.bits+1)).Masked()
}

func (f randomFamily) dst(rng *rand.Rand, known []netip.Prefix) netip.Addr {
	switch {
	case len(known) > 0 && rng.IntN(3) == 0: // a prefix's first or last address
		p := known[rng.IntN(len(known))]
		if rng.IntN(2) == 0 {
			return p.Addr()
		}
		return lastAddr(p)
	case rng.IntN(2) == 0:
		return f.randAddr(rng, f.bases[rng.IntN(len(f.bases))], rng.IntN(f.bits+1))
	default:
		return f.randAddr(rng, netip.Addr{}, 0)
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func randomHops(rng *rand.Rand, p netip.Prefix, s Source) []NextHop {
	if s == Connected {
		return []NextHop{{VLAN: fmt.Sprintf("v%d", rng.IntN(4))}}
	}
	hops := make([]NextHop, 1+rng.IntN(3))
	for i := range hops {
		var gw netip.Addr
		if p.Addr().Is4() {
			gw = netip.AddrFrom4([4]byte{10, 0, byte(i), byte(1 + rng.IntN(250))})
		} else {
			gw = netip.AddrFrom16([16]byte{0: 0xfd, 14: byte(i), 15: byte(1 + rng.IntN(250))})
		}
		hops[i] = NextHop{Gateway: gw, VLAN: "v"}
	}
	return hops
}

func sameRoute(a, b Route) bool {
	x, err := normalize(b) // the reference keeps next hops as given
	return err == nil && a.equal(x)
}

// TestDifferential drives the table and the reference with the same random
// adds, deletes and replaces, over both families at once, and compares
// lookups and the route listing all along.
func TestDifferential(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			differential(t, seed)
		})
	}
}

func differential(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	fams := []randomFamily{newRandomFamily(rng, false), newRandomFamily(rng, true)}
	tb := New()
	ref := &reference{routes: map[refKey]Route{}}
	var known []netip.Prefix
	sources := []Source{Connected, Static, Node, BGP}

	check := func(step int) {
		t.Helper()
		for range 400 {
			f := fams[rng.IntN(2)]
			dst := f.dst(rng, known)
			if dst.Is4() && rng.IntN(4) == 0 {
				dst = netip.AddrFrom16(dst.As16()) // 4-in-6 form
			}
			got, ok := tb.Lookup(dst)
			want, wok := ref.lookup(dst)
			if ok != wok || (ok && !sameRoute(got, want)) {
				t.Fatalf("step %d: Lookup(%s) = %s, %v; reference %s, %v", step, dst, got, ok, want, wok)
			}
		}
		got, want := tb.Routes(), ref.winners()
		if len(got) != len(want) {
			t.Fatalf("step %d: Routes has %d routes, reference %d", step, len(got), len(want))
		}
		for i := range got {
			if !sameRoute(got[i], want[i]) {
				t.Fatalf("step %d: Routes[%d] = %s, reference %s", step, i, got[i], want[i])
			}
		}
		if tb.Len() != len(want) {
			t.Fatalf("step %d: Len = %d, reference %d", step, tb.Len(), len(want))
		}
	}

	const steps = 6000
	for step := range steps {
		switch op := rng.IntN(100); {
		case op < 70 || len(ref.routes) == 0: // add
			f := fams[rng.IntN(2)]
			p := f.prefix(rng)
			s := sources[rng.IntN(len(sources))]
			r := Route{Prefix: p, Source: s, NextHops: randomHops(rng, p, s)}
			if err := tb.Add(r); err != nil {
				t.Fatalf("step %d: Add(%s): %v", step, r, err)
			}
			ref.routes[refKey{p, s}] = r
			known = append(known, p)
		case op < 97: // delete: mostly present routes, sometimes absent ones
			p := known[rng.IntN(len(known))]
			s := sources[rng.IntN(len(sources))]
			_, had := ref.routes[refKey{p, s}]
			if got := tb.Delete(p, s); got != had {
				t.Fatalf("step %d: Delete(%s, %s) = %v, want %v", step, p, s, got, had)
			}
			delete(ref.routes, refKey{p, s})
		default: // replace one source: keep some, change some, add some
			s := sources[rng.IntN(len(sources))]
			var set []Route
			for k, r := range ref.routes {
				if k.s == s && rng.IntN(10) > 0 {
					if rng.IntN(2) == 0 {
						r.NextHops = randomHops(rng, r.Prefix, s)
					}
					set = append(set, r)
				}
			}
			seen := map[netip.Prefix]bool{}
			for _, r := range set {
				seen[r.Prefix] = true
			}
			for range rng.IntN(50) {
				p := fams[rng.IntN(2)].prefix(rng)
				if !seen[p] {
					seen[p] = true
					set = append(set, Route{Prefix: p, Source: s, NextHops: randomHops(rng, p, s)})
					known = append(known, p)
				}
			}
			if err := tb.Replace(s, set); err != nil {
				t.Fatalf("step %d: Replace(%s): %v", step, s, err)
			}
			for k := range ref.routes {
				if k.s == s {
					delete(ref.routes, k)
				}
			}
			for _, r := range set {
				ref.routes[refKey{r.Prefix, s}] = r
			}
		}
		if step%200 == 199 {
			check(step)
		}
	}
	check(steps)
	if len(ref.routes) < 500 {
		t.Errorf("the test only reached %d routes; make it add more", len(ref.routes))
	}
}

// TestTrieShape checks, after many random updates of both families, the
// invariants that lookups rely on and that keep the trie small: inner nodes
// hold only prefixes that end within their byte, at their ART index, on
// their path; bitmaps and slices agree; a leaf lies on its prefix's path; and
// the trie is compact (no empty node, no node whose whole content is one
// route).
func TestTrieShape(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	fams := []randomFamily{newRandomFamily(rng, false), newRandomFamily(rng, true)}
	tb := New()
	var ps []netip.Prefix
	for i := range 6000 {
		if i%3 == 2 {
			tb.Delete(ps[rng.IntN(len(ps))], Static)
			continue
		}
		p := fams[i%2].prefix(rng)
		ps = append(ps, p)
		mustAdd(t, tb, Route{Prefix: p, Source: Static, NextHops: []NextHop{{VLAN: "v"}}})
	}
	s := tb.cur.Load()
	count := checkShape(t, s.v4, 0, key{}, 4) + checkShape(t, s.v6, 0, key{}, 16)
	if count != tb.Len() {
		t.Errorf("tries hold %d routes, table has %d", count, tb.Len())
	}
}

// checkShape checks the subtree n at depth d reached through path (its
// first d bytes) and returns how many routes it holds.
func checkShape(t *testing.T, n *node, d uint8, path key, maxDepth uint8) int {
	t.Helper()
	if n == nil {
		return 0
	}
	if d >= maxDepth {
		t.Fatalf("node at depth %d, beyond the family's %d bytes", d, maxDepth)
	}
	if n.leaf != nil {
		p := n.leaf.Prefix
		switch {
		case len(n.kids) != 0 || len(n.routes) != 0:
			t.Fatalf("leaf %s also has children or routes", p)
		case keyOf(p.Addr()) != n.key || int(n.bits) != p.Bits():
			t.Fatalf("leaf %s has key %x/%d", p, n.key, n.bits)
		case int(n.bits) < 8*int(d) || !n.key.matches(path, 8*d):
			t.Fatalf("leaf %s at depth %d is off its path %x", p, d, path)
		}
		return 1
	}
	nr, nk := 0, 0
	for _, w := range n.pfx {
		nr += bits.OnesCount64(w)
	}
	for _, w := range n.kid {
		nk += bits.OnesCount64(w)
	}
	switch {
	case nr != len(n.routes) || nk != len(n.kids):
		t.Fatalf("node at depth %d: bitmaps count %d routes and %d kids, slices hold %d and %d", d, nr, nk, len(n.routes), len(n.kids))
	case nr == 0 && nk == 0:
		t.Fatalf("empty node at depth %d", d)
	case nr == 0 && nk == 1 && n.kids[0].leaf != nil:
		t.Fatalf("node at depth %d holds only a leaf", d)
	case nr == 1 && nk == 0:
		t.Fatalf("node at depth %d holds only route %s", d, n.routes[0])
	}
	j := 0
	for i := uint(1); i < 512; i++ {
		if !n.pfx.has(i) {
			continue
		}
		p := n.routes[j].Prefix
		j++
		k, bits := keyOf(p.Addr()), uint8(p.Bits())
		if bits > 8*d+8 || bits < 8*d || bits == 8*d && d > 0 || !k.matches(path, 8*d) || artIndex(k, d, bits) != i {
			t.Fatalf("route %s at ART index %d of the node at depth %d, path %x", p, i, d, path)
		}
	}
	count := nr
	j = 0
	for b := range 256 {
		if !n.kid.has(uint8(b)) {
			continue
		}
		sub := path
		if d < 8 {
			sub.hi |= uint64(b) << (56 - 8*d)
		} else {
			sub.lo |= uint64(b) << (56 - 8*(d-8))
		}
		count += checkShape(t, n.kids[j], d+1, sub, maxDepth)
		j++
	}
	return count
}

// TestSnapshotsPersist checks path copying without the race detector: a
// snapshot taken before thousands of updates answers exactly as it did,
// since readers may still hold it.
func TestSnapshotsPersist(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	fams := []randomFamily{newRandomFamily(rng, false), newRandomFamily(rng, true)}
	tb := New()
	var ps []netip.Prefix
	add := func(n int) {
		for range n {
			f := fams[rng.IntN(2)]
			p := f.prefix(rng)
			ps = append(ps, p)
			mustAdd(t, tb, Route{Prefix: p, Source: BGP, NextHops: randomHops(rng, p, BGP)})
		}
	}
	add(2000)
	old := tb.cur.Load()
	var dsts []netip.Addr
	var want []*Route
	for range 5000 {
		d := fams[rng.IntN(2)].dst(rng, ps)
		dsts = append(dsts, d)
		want = append(want, snapshotLookup(old, d))
	}
	oldRoutes := tb.Routes()
	for range 3 {
		add(1000)
		for range 1000 {
			tb.Delete(ps[rng.IntN(len(ps))], BGP)
		}
	}
	if tb.cur.Load() == old {
		t.Fatal("no new snapshot was published")
	}
	for i, d := range dsts {
		if got := snapshotLookup(old, d); got != want[i] {
			t.Fatalf("old snapshot: lookup(%s) = %v, before the updates %v", d, got, want[i])
		}
	}
	if n := len(collect(old.v6, collect(old.v4, nil))); n != len(oldRoutes) || old.n != n {
		t.Fatalf("old snapshot holds %d routes (n = %d), had %d", n, old.n, len(oldRoutes))
	}
}

func snapshotLookup(s *snapshot, d netip.Addr) *Route {
	if d.Is4() {
		return lookup(s.v4, keyOf(d))
	}
	return lookup(s.v6, keyOf(d))
}
