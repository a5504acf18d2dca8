package fib

import (
	"cmp"
	"math/bits"
	"net/netip"
	"slices"
)

// key is an address or prefix as a 128-bit big-endian number. IPv4 lives in
// the top 32 bits of hi so that one trie implementation serves both
// families (each family still has its own trie): byte d of the address is
// byte d of the key for either family.
type key struct{ hi, lo uint64 }

// keyOf converts an address. The zone, if any, is ignored: routes are per
// VLAN, not per zone.
func keyOf(a netip.Addr) key {
	if a.Is4() {
		b := a.As4()
		return key{hi: uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32}
	}
	b := a.As16()
	return key{hi: be64(b[:8]), lo: be64(b[8:])}
}

func be64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

// byteAt returns byte d (0 = most significant) of k; d must be < 16.
func (k key) byteAt(d uint8) uint8 {
	if d < 8 {
		return uint8(k.hi >> (56 - 8*d))
	}
	return uint8(k.lo >> (56 - 8*(d-8)))
}

// matches reports whether the first n bits of k and p agree. It relies on
// Go defining x>>64 == 0 for unsigned x, so n == 0 and n == 64 need no
// special case.
func (k key) matches(p key, n uint8) bool {
	if n <= 64 {
		return (k.hi^p.hi)>>(64-n) == 0
	}
	return k.hi == p.hi && (k.lo^p.lo)>>(128-n) == 0
}

// A trie node consumes one byte of the address (stride 8), so an IPv4
// lookup visits at most 4 nodes and an IPv6 lookup at most 16; in practice
// fewer, because a subtree holding a single route is a leaf (below).
//
// An inner node at depth d stores the routes whose prefix ends within its
// byte — lengths 8d+1 .. 8d+8, and /0 at the root — and a child per value of
// its byte under which longer prefixes exist. Both arrays are
// popcount-compressed: a bitmap says which entries exist and an entry's
// position in the slice is the number of set bits before it, so a node costs
// memory in proportion to what it holds, not 256 slots.
//
// Routes within a node are numbered as in the allotment routing table (ART,
// Knuth and Hariguchi): a prefix of l bits (0..8) within the byte, with
// value v, has index 1<<l | v, which lays the 511 possible prefixes out as
// a complete binary tree in which the parent of index i is i>>1. The longest prefix covering
// byte value b is then the first present index on the path 256|b, 128|b>>1,
// ..., 1: at most 9 bit tests, no backtracking.
//
// A leaf stands for a subtree that holds exactly one route, with the full
// prefix, so that a lone long prefix (an IPv6 /48 or /128, a host route)
// costs one node instead of a chain of one-child nodes. A leaf met on the
// way down is longer than everything above it, so if it matches it is the
// answer.
//
// Nodes reachable from a published snapshot are immutable. A writer owns
// exactly the nodes it made during its own transaction (gen == the
// transaction's generation) and may change those in place; any other node it
// copies first (path copying), so one update copies at most one path of
// nodes and a bulk update copies each node at most once.
type node struct {
	// Leaf fields first, and the child bitmap right after them, so that
	// the leaf check and the child test touch one cache line.
	leaf *Route // non-nil: this node is a leaf holding this route only
	key  key    // the leaf's prefix
	bits uint8  // the leaf's prefix length

	kid    bitset256 // which byte values have a child
	kids   []*node   // by rank in kid
	pfx    bitset512 // which ART indexes hold a route
	routes []*Route  // by rank in pfx
	gen    uint64
}

type bitset256 [4]uint64

func (s *bitset256) has(i uint8) bool { return s[i>>6]&(1<<(i&63)) != 0 }
func (s *bitset256) rank(i uint8) int { return rank(s[:], uint(i)) }
func (s *bitset256) flip(i uint8)     { s[i>>6] ^= 1 << (i & 63) }

// bitset512 is indexed by an ART index, 1..511.
type bitset512 [8]uint64

func (s *bitset512) has(i uint) bool { return s[(i>>6)&7]&(1<<(i&63)) != 0 }
func (s *bitset512) rank(i uint) int { return rank(s[:], i&511) }
func (s *bitset512) flip(i uint)     { s[(i>>6)&7] ^= 1 << (i & 63) }

// rank counts the bits of words set below bit i.
func rank(words []uint64, i uint) int {
	n := 0
	for _, w := range words[:i>>6] {
		n += bits.OnesCount64(w)
	}
	return n + bits.OnesCount64(words[i>>6]&(1<<(i&63)-1))
}

// artIndex is the ART index within the node at depth d of prefix k/n, which
// must end within that node's byte (8d <= n <= 8d+8).
func artIndex(k key, d, n uint8) uint {
	l := n - 8*d
	return 1<<l | uint(k.byteAt(d))>>(8-l)
}

// longest returns the ART index of the longest prefix in n that covers
// byte value b, or 0.
func (n *node) longest(b uint8) uint {
	for i := 256 | uint(b); i != 0; i >>= 1 {
		if n.pfx.has(i) {
			return i
		}
	}
	return 0
}

// lookup returns the route of the longest prefix that contains k, or nil.
// It is the per-packet hot path: no locks, no allocation, at most one node
// per byte of the address. The best match so far is kept as a node and an
// index and only fetched from the node's route slice at the end, since on a
// large table that fetch is a cache miss and a deeper match often makes it
// moot.
func lookup(n *node, k key) *Route {
	var best *node
	var bestIdx uint
	for d := uint8(0); n != nil; d++ {
		if n.leaf != nil {
			if k.matches(n.key, n.bits) {
				return n.leaf
			}
			break
		}
		b := k.byteAt(d)
		if len(n.routes) != 0 {
			if i := n.longest(b); i != 0 {
				best, bestIdx = n, i
			}
		}
		if !n.kid.has(b) {
			break
		}
		n = n.kids[n.kid.rank(b)]
	}
	if best == nil {
		return nil
	}
	return best.routes[best.pfx.rank(bestIdx)]
}

// txn is one writer transaction over the tries: it tracks the generation
// whose nodes may be mutated in place.
type txn struct {
	gen uint64
}

// own returns n itself if this transaction made it, or a copy that it owns.
func (t *txn) own(n *node) *node {
	if n.gen == t.gen {
		return n
	}
	c := *n
	c.kids = slices.Clone(n.kids)
	c.routes = slices.Clone(n.routes)
	c.gen = t.gen
	return &c
}

func (t *txn) newLeaf(k key, n uint8, r *Route) *node {
	return &node{leaf: r, key: k, bits: n, gen: t.gen}
}

// set makes r the route of prefix k/n in the subtree rooted at nd, at depth
// d (r == nil removes the route), and returns the new subtree root. A
// subtree that does not change is returned as is, so an update that changes
// nothing copies nothing.
func (t *txn) set(nd *node, d uint8, k key, n uint8, r *Route) *node {
	switch {
	case nd == nil:
		if r == nil {
			return nil
		}
		return t.newLeaf(k, n, r)
	case nd.leaf != nil && nd.key == k && nd.bits == n: // this very route
		switch {
		case r == nil:
			return nil
		case r == nd.leaf:
			return nd
		}
		return t.newLeaf(k, n, r)
	case nd.leaf != nil:
		if r == nil {
			return nd // nothing to remove
		}
		// Two routes now share the place of one: expand the leaf into an
		// inner node holding both. (Not through set, whose compaction
		// would turn the half-built node back into a leaf.)
		m := t.setInner(&node{gen: t.gen}, d, nd.key, nd.bits, nd.leaf)
		return t.compact(t.setInner(m, d, k, n, r))
	}
	// A published node is already compact, so compact returns an unchanged
	// nd as is.
	return t.compact(t.setInner(nd, d, k, n, r))
}

// setInner is set for an inner node, without compacting nd itself.
func (t *txn) setInner(nd *node, d uint8, k key, n uint8, r *Route) *node {
	if n <= 8*d+8 { // the prefix ends within this node's byte
		i := artIndex(k, d, n)
		has := nd.pfx.has(i)
		if !has && r == nil || has && nd.routes[nd.pfx.rank(i)] == r {
			return nd
		}
		nd = t.own(nd)
		j := nd.pfx.rank(i)
		switch {
		case r == nil:
			nd.routes = slices.Delete(nd.routes, j, j+1)
			nd.pfx.flip(i)
		case has:
			nd.routes[j] = r
		default:
			nd.routes = slices.Insert(nd.routes, j, r)
			nd.pfx.flip(i)
		}
		return nd
	}
	// The prefix lies below the child for byte b.
	b := k.byteAt(d)
	var c *node
	has := nd.kid.has(b)
	if has {
		c = nd.kids[nd.kid.rank(b)]
	}
	nc := t.set(c, d+1, k, n, r)
	if nc == c {
		// Unchanged, or changed in place — then c is owned, and so is nd,
		// since a node is owned only if its parent is.
		return nd
	}
	nd = t.own(nd)
	j := nd.kid.rank(b)
	switch {
	case nc == nil:
		nd.kids = slices.Delete(nd.kids, j, j+1)
		nd.kid.flip(b)
	case has:
		nd.kids[j] = nc
	default:
		nd.kids = slices.Insert(nd.kids, j, nc)
		nd.kid.flip(b)
	}
	return nd
}

// compact keeps the trie minimal after a change to the inner node nd (which
// t owns): an empty node disappears, and a node whose whole content is one
// route — its own or a lone leaf child's — becomes a leaf. Lookups then
// never walk a chain of nodes that leads to nothing or to a single route.
func (t *txn) compact(nd *node) *node {
	switch {
	case len(nd.routes) == 0 && len(nd.kids) == 0:
		return nil
	case len(nd.routes) == 0 && len(nd.kids) == 1 && nd.kids[0].leaf != nil:
		return nd.kids[0] // a leaf is valid at any depth above its own
	case len(nd.routes) == 1 && len(nd.kids) == 0:
		r := nd.routes[0]
		return t.newLeaf(keyOf(r.Prefix.Addr()), uint8(r.Prefix.Bits()), r)
	}
	return nd
}

// collect appends every route below n to out, in no particular order.
func collect(n *node, out []*Route) []*Route {
	if n == nil {
		return out
	}
	if n.leaf != nil {
		return append(out, n.leaf)
	}
	out = append(out, n.routes...)
	for _, c := range n.kids {
		out = collect(c, out)
	}
	return out
}

// comparePrefixes orders by family (IPv4 first), address, then length.
func comparePrefixes(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}
