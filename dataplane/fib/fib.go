// Package fib is the forwarding information base of the emulated TMM: the
// table that turns a packet's destination address into a VLAN and a next
// hop, by longest-prefix match, for IPv4 and IPv6.
//
// Routes come from several sources — connected routes of the self IPs,
// static routes from the configuration, node routes toward pod networks and
// routes learned by the BGP speaker. A prefix may be held by several sources
// at once; as in zebra, the one with the lowest administrative distance is
// installed and the others wait behind it, reappearing when it goes.
//
// Lookups run for every packet on several goroutines, updates are rare. So
// readers never lock: the forwarding state is an immutable snapshot (one
// trie per family) published through an atomic.Pointer. Writers are
// serialized by a mutex and build the next snapshot by path copying — an
// update copies only the nodes on the path to the changed prefix and shares
// the rest — then publish it with one atomic store. A reader therefore sees
// either the state before an update or the state after it, never a mix, and
// a Lookup neither blocks nor allocates.
//
// The trie (trie.go) has a stride of 8 bits: one node per byte of the
// address, so at most 4 nodes for IPv4 and 16 for IPv6, each visited with a
// few bit operations. Within a node, prefixes are numbered as in the
// allotment routing table (ART, Knuth and Hariguchi), and both routes and
// children are popcount-compressed, so a node costs memory in proportion to
// what it holds; a subtree with a single route is one leaf node. Measured on this
// package's benchmarks (random lookups, Internet-shaped tables of 10 / 1k /
// 100k routes, one run on a shared 2-CPU VM, ns per lookup):
//
//	                                         IPv4            IPv6
//	stride-8 ART trie (this package)     25 / 45 / 150   40 / 45 / 170
//	path-compressed binary trie          30 / 85 / 470   45 / 105 / 490
//	hash map per prefix length + bitmap  28 / 210 / 460  70 / 400 / 730
//
// The binary trie was the first version: half the code, as fast for the
// lab's handful of routes, but its depth grows with the table (16–18
// dependent cache misses at 100k routes). Per-length hash maps probe every
// populated length and, for copy-on-write, copy a whole map per update.
package fib

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Source says who installed a route. A prefix may be held by several
// sources; the one with the lowest Distance is used for forwarding.
//
// The zero value is not a source, so a Route whose Source was forgotten is
// rejected instead of silently becoming a connected route.
type Source uint8

const (
	// Connected routes cover the subnets of the self IPs. Their next hops
	// are on-link (no gateway). Distance 0: a directly attached subnet is
	// the most trustworthy fact about the network.
	Connected Source = iota + 1
	// Static routes come from the configuration. Distance 1, as in zebra:
	// the operator's explicit word beats anything learned.
	Static
	// Node routes lead to pod networks through the Kubernetes node that
	// hosts them (over egress-net). Distance 5: they beat BGP because the
	// cluster's own knowledge of where its pods live is authoritative — a
	// router advertising the same prefix must not pull pod traffic away —
	// but yield to a static route, which an operator sets on purpose.
	Node
	// BGP routes are learned by the embedded speaker from the lab router.
	// Distance 20: zebra's distance for eBGP, the speaker's only kind of
	// peering.
	BGP

	numSources = int(BGP)
)

// Valid reports whether s is one of the defined sources.
func (s Source) Valid() bool { return s >= Connected && s <= BGP }

// Distance is the administrative distance of s: lower wins. See the
// constants for the reasons. It is 255 (never preferred) for an invalid
// source.
func (s Source) Distance() uint8 {
	switch s {
	case Connected:
		return 0
	case Static:
		return 1
	case Node:
		return 5
	case BGP:
		return 20
	}
	return 255
}

func (s Source) String() string {
	switch s {
	case Connected:
		return "connected"
	case Static:
		return "static"
	case Node:
		return "node"
	case BGP:
		return "bgp"
	}
	return fmt.Sprintf("source(%d)", uint8(s))
}

// NextHop is where a packet goes next.
type NextHop struct {
	// Gateway is the router to send to, of the same family as the route's
	// prefix. The zero Addr means on-link: the packet's own destination is
	// resolved on VLAN (always the case for connected routes).
	Gateway netip.Addr
	// VLAN is the name of the egress VLAN. It is required: the FIB does no
	// recursive resolution, so whoever installs a route via a gateway names
	// the VLAN the gateway is reached on.
	VLAN string
}

// OnLink reports whether h has no gateway.
func (h NextHop) OnLink() bool { return !h.Gateway.IsValid() }

func (h NextHop) String() string {
	if h.OnLink() {
		return "dev " + h.VLAN
	}
	return "via " + h.Gateway.String() + " dev " + h.VLAN
}

func compareNextHops(a, b NextHop) int {
	return cmp.Or(a.Gateway.Compare(b.Gateway), strings.Compare(a.VLAN, b.VLAN))
}

// Route is a prefix, who installed it and where it leads.
type Route struct {
	Prefix netip.Prefix
	Source Source
	// NextHops has at least one element; more than one is ECMP. The table
	// keeps them sorted (by gateway, then VLAN), so the same set always
	// maps a flow hash to the same next hop, whatever order an installer
	// listed them in. A Route returned by Lookup or LookupFlow shares its
	// NextHops with the table: read it, never modify it.
	NextHops []NextHop
}

func (r Route) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s/%d]", r.Prefix, r.Source, r.Source.Distance())
	for i, h := range r.NextHops {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte(' ')
		b.WriteString(h.String())
	}
	return b.String()
}

func (r *Route) equal(o *Route) bool {
	return r.Prefix == o.Prefix && r.Source == o.Source && slices.Equal(r.NextHops, o.NextHops)
}

// snapshot is the forwarding state readers see. It and every node reachable
// from it are immutable once published.
type snapshot struct {
	v4, v6 *node
	n      int // number of routes (prefixes) in both tries
}

// candidates holds, for one prefix, the route of each source (nil where the
// source has none), indexed by Source.
type candidates [numSources + 1]*Route

// best returns the candidate with the lowest distance, or nil.
func (c *candidates) best() *Route {
	var w *Route
	for _, r := range c {
		if r != nil && (w == nil || r.Source.Distance() < w.Source.Distance()) {
			w = r
		}
	}
	return w
}

// Table is a FIB. Its zero value is an empty table ready to use; New is
// there for symmetry. A Table must not be copied after first use.
//
// Lookup, LookupFlow, Routes and Len are lock-free and may run concurrently with
// each other and with the updating methods, which serialize among
// themselves.
type Table struct {
	cur atomic.Pointer[snapshot]

	mu  sync.Mutex // serializes writers; readers never take it
	rib map[netip.Prefix]*candidates
	gen uint64 // generation of the last published snapshot's nodes
}

// New returns an empty table.
func New() *Table { return &Table{} }

// Lookup returns the route of the longest prefix that contains dst, among
// the winning route of each prefix. An IPv4-mapped IPv6 address
// (::ffff:a.b.c.d, which is what netip.AddrFrom16 gives for an IPv4 address
// held in 16 bytes) is looked up as the IPv4 address it maps: the table keeps
// IPv4 routes only in IPv4 form (Add rejects mapped prefixes), and an IPv6
// packet really addressed to ::ffff:0:0/96 must not be forwarded at all
// (RFC 4291 §2.5.5.2), so the caller drops those before asking.
//
// Lookup takes no lock and does not allocate.
func (t *Table) Lookup(dst netip.Addr) (Route, bool) {
	if r := t.lookup(dst); r != nil {
		return *r, true
	}
	return Route{}, false
}

// LookupFlow is Lookup followed by the choice of one next hop for a flow:
// hash is the flow's hash (e.g. of its 5-tuple). The choice is
// hash-threshold (RFC 2992, as Linux does): the 32-bit hash space is cut
// into len(NextHops) equal ranges. A given hash maps to the same next hop
// as long as the route's next-hop set is unchanged, and when a next hop is
// added or removed fewer flows move than with a modulo. The hash is first
// mixed, so weak hashes such as small counters still spread evenly.
//
// LookupFlow takes no lock and does not allocate.
func (t *Table) LookupFlow(dst netip.Addr, hash uint32) (NextHop, Route, bool) {
	r := t.lookup(dst)
	if r == nil {
		return NextHop{}, Route{}, false
	}
	i := 0
	if n := len(r.NextHops); n > 1 {
		i = int(uint64(mix32(hash)) * uint64(n) >> 32)
	}
	return r.NextHops[i], *r, true
}

// mix32 is the murmur3 finalizer: a bijection on 32 bits in which every
// input bit affects every output bit, so nearby hashes land in different
// ECMP ranges.
func mix32(h uint32) uint32 {
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

func (t *Table) lookup(dst netip.Addr) *Route {
	s := t.cur.Load()
	if s == nil {
		return nil
	}
	switch {
	case dst.Is4():
		return lookup(s.v4, keyOf(dst))
	case dst.Is4In6():
		return lookup(s.v4, keyOf(dst.Unmap()))
	case dst.Is6():
		return lookup(s.v6, keyOf(dst))
	}
	return nil // the zero Addr
}

// Routes returns every installed route — the winner of each prefix — sorted
// by family (IPv4 first), then address, then prefix length: the view of
// stats, the API and "spk-tmm routes". It reads one snapshot without
// locking; the result is the caller's to keep and modify.
func (t *Table) Routes() []Route {
	s := t.cur.Load()
	if s == nil {
		return nil
	}
	rs := collect(s.v6, collect(s.v4, nil))
	slices.SortFunc(rs, func(a, b *Route) int { return comparePrefixes(a.Prefix, b.Prefix) })
	out := make([]Route, len(rs))
	for i, r := range rs {
		out[i] = *r
		out[i].NextHops = slices.Clone(r.NextHops)
	}
	return out
}

// Candidates returns the routes every source holds for exactly prefix p,
// best (lowest distance) first; the first is the one installed. It is for
// diagnostics ("why is this route not used?") and takes the writers' lock.
func (t *Table) Candidates(p netip.Prefix) []Route {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.rib[p]
	if c == nil {
		return nil
	}
	var out []Route
	for _, r := range c {
		if r != nil {
			x := *r
			x.NextHops = slices.Clone(r.NextHops)
			out = append(out, x)
		}
	}
	slices.SortStableFunc(out, func(a, b Route) int {
		return cmp.Compare(a.Source.Distance(), b.Source.Distance())
	})
	return out
}

// Add installs r as the route of its source for its prefix, replacing what
// that source had there. It fails, changing nothing, if r is not valid: see
// the error for which rule it breaks.
func (t *Table) Add(r Route) error {
	nr, err := normalize(r)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.begin()
	w.put(nr)
	w.commit()
	return nil
}

// Delete removes the route source s holds for prefix p, so the next best
// source's route (if any) takes over. It reports whether there was one.
func (t *Table) Delete(p netip.Prefix, s Source) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.rib[p]
	if !s.Valid() || c == nil || c[s] == nil {
		return false
	}
	w := t.begin()
	w.remove(p, s)
	w.commit()
	return true
}

// Replace makes routes the complete set of source s — for a configuration
// reload or a BGP resync — removing the routes s holds that are not in it.
// Every route must have Source s and a distinct prefix. Either all of it
// takes effect, in one step that readers see at once, or (on error) none.
// Routes equal to what is installed are left untouched.
func (t *Table) Replace(s Source, routes []Route) error {
	if !s.Valid() {
		return fmt.Errorf("fib: replace: invalid source %s", s)
	}
	next := make(map[netip.Prefix]*Route, len(routes))
	for _, r := range routes {
		if r.Source != s {
			return fmt.Errorf("fib: replace %s routes: route %s has source %s", s, r.Prefix, r.Source)
		}
		nr, err := normalize(r)
		if err != nil {
			return err
		}
		if _, dup := next[nr.Prefix]; dup {
			return fmt.Errorf("fib: replace %s routes: prefix %s is listed twice", s, nr.Prefix)
		}
		next[nr.Prefix] = nr
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.begin()
	for p, c := range t.rib {
		if c[s] != nil && next[p] == nil {
			w.remove(p, s)
		}
	}
	for _, r := range next {
		w.put(r)
	}
	w.commit()
	return nil
}

// Len returns the number of installed routes (one per prefix) — the length
// of Routes without building it. It takes no lock.
func (t *Table) Len() int {
	if s := t.cur.Load(); s != nil {
		return s.n
	}
	return 0
}

// writer is one update transaction; t.mu is held for its whole life.
type writer struct {
	t       *Table
	tx      txn
	v4, v6  *node
	changed bool
}

func (t *Table) begin() *writer {
	if t.rib == nil {
		t.rib = make(map[netip.Prefix]*candidates)
	}
	w := &writer{t: t, tx: txn{gen: t.gen + 1}}
	if s := t.cur.Load(); s != nil {
		w.v4, w.v6 = s.v4, s.v6
	}
	return w
}

// put sets r (normalized) as the route of its source for its prefix.
func (w *writer) put(r *Route) {
	c := w.t.rib[r.Prefix]
	if c == nil {
		c = new(candidates)
		w.t.rib[r.Prefix] = c
	}
	if old := c[r.Source]; old != nil && old.equal(r) {
		return // keep the old pointer: the trie need not change
	}
	c[r.Source] = r
	w.install(r.Prefix, c.best())
}

func (w *writer) remove(p netip.Prefix, s Source) {
	c := w.t.rib[p]
	c[s] = nil
	best := c.best()
	if best == nil {
		delete(w.t.rib, p)
	}
	w.install(p, best)
}

// install makes best (nil: nothing) the forwarding route of p.
func (w *writer) install(p netip.Prefix, best *Route) {
	k, n := keyOf(p.Addr()), uint8(p.Bits())
	root := &w.v6
	if p.Addr().Is4() {
		root = &w.v4
	}
	if nr := w.tx.set(*root, 0, k, n, best); nr != *root || w.tx.gen == genOf(nr) {
		// A new root, or an owned root changed in place: either way a
		// snapshot must be published. (An unchanged trie returns the
		// same, unowned, root.)
		*root = nr
		w.changed = true
	}
}

func genOf(n *node) uint64 {
	if n == nil {
		return 0
	}
	return n.gen
}

// commit publishes the new snapshot if anything changed. After the store,
// every node of this transaction is shared with readers and therefore
// immutable: the next transaction uses a new generation.
func (w *writer) commit() {
	if !w.changed {
		return
	}
	w.t.gen = w.tx.gen
	// Every rib entry has a candidate, so it is one installed route.
	w.t.cur.Store(&snapshot{v4: w.v4, v6: w.v6, n: len(w.t.rib)})
}

// normalize validates r and returns a copy that owns a sorted copy of its
// next hops, so later changes to the caller's slice do not reach the table.
func normalize(r Route) (*Route, error) {
	p := r.Prefix
	fail := func(format string, args ...any) (*Route, error) {
		return nil, fmt.Errorf("fib: route %s (%s): %s", p, r.Source, fmt.Sprintf(format, args...))
	}
	switch {
	case !p.IsValid():
		if p.Addr().IsValid() {
			return fail("prefix length out of range")
		}
		return nil, errors.New("fib: route with an invalid (zero) prefix")
	case p.Addr().Is4In6() && p.Bits() >= 96:
		return fail("IPv4-mapped IPv6 prefix; use the IPv4 form %s (lookups unmap addresses, so this prefix would never match)", unmapPrefix(p))
	case p.Masked() != p:
		return fail("host bits are set; the prefix is %s", p.Masked())
	case !r.Source.Valid():
		return fail("invalid source %d", uint8(r.Source))
	case len(r.NextHops) == 0:
		return fail("no next hops")
	}
	hops := slices.Clone(r.NextHops)
	slices.SortFunc(hops, compareNextHops)
	for i, h := range hops {
		g := h.Gateway
		switch {
		case h.VLAN == "":
			return fail("next hop %s has no VLAN", h)
		case i > 0 && hops[i-1] == h:
			return fail("next hop %s is listed twice (it would take two ECMP shares)", h)
		case !g.IsValid():
			continue // on-link
		case r.Source == Connected:
			return fail("next hop %s has a gateway; connected routes are on-link", h)
		case g.Zone() != "":
			return fail("gateway %s has a zone; name the VLAN instead", g)
		case g.Is4In6():
			return fail("gateway %s is IPv4-mapped; use the IPv4 form %s", g, g.Unmap())
		case g.Is4() != p.Addr().Is4():
			// RFC 8950 allows IPv4 routes via IPv6 gateways, but the
			// data plane resolves a gateway with the neighbor protocol
			// of the packet's family (ARP for IPv4, NDP for IPv6), and
			// the lab peers over both families, so it is not needed.
			return fail("gateway %s is not of the prefix's address family", g)
		case g.IsUnspecified() || g.IsMulticast():
			return fail("gateway %s is not a unicast address", g)
		}
	}
	return &Route{Prefix: p, Source: r.Source, NextHops: hops}, nil
}

// unmapPrefix gives the IPv4 form of a mapped prefix of length >= 96.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked()
}
