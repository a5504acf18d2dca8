package fib

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// benchTable builds a table of n distinct routes shaped like an Internet
// table: for IPv4 mostly /24s with some /16–/23 and a few shorter, for IPv6
// mostly /48s with some /32–/44, all at random addresses; plus a default
// route. It returns destinations of which half fall inside a route chosen at
// random and half are random.
func benchTable(tb testing.TB, v6 bool, n int) (*Table, []netip.Addr) {
	rng := rand.New(rand.NewPCG(uint64(n), 42))
	t := New()
	var routes []Route
	seen := map[netip.Prefix]bool{}
	hop := []NextHop{{Gateway: netip.MustParseAddr("192.0.2.1"), VLAN: "external"}}
	def := netip.MustParsePrefix("0.0.0.0/0")
	if v6 {
		hop = []NextHop{{Gateway: netip.MustParseAddr("2001:db8::1"), VLAN: "external"}}
		def = netip.MustParsePrefix("::/0")
	}
	routes = append(routes, Route{Prefix: def, Source: BGP, NextHops: hop})
	for len(routes) < n {
		var p netip.Prefix
		x := rng.IntN(100)
		if v6 {
			bits := 48
			switch {
			case x < 15:
				bits = 32 + rng.IntN(13)
			case x < 20:
				bits = 29 + rng.IntN(3)
			case x < 25:
				bits = 56 + rng.IntN(9)
			}
			var b [16]byte
			b[0] = 0x20 | byte(rng.IntN(16)) // 2000::/4, like global unicast
			for i := 1; i < 8; i++ {
				b[i] = byte(rng.Uint32())
			}
			p = netip.PrefixFrom(netip.AddrFrom16(b), bits).Masked()
		} else {
			bits := 24
			switch {
			case x < 20:
				bits = 16 + rng.IntN(8)
			case x < 23:
				bits = 8 + rng.IntN(8)
			case x < 26:
				bits = 25 + rng.IntN(8)
			}
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(1 + rng.IntN(223)), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())}), bits).Masked()
		}
		if !seen[p] {
			seen[p] = true
			routes = append(routes, Route{Prefix: p, Source: BGP, NextHops: hop})
		}
	}
	if err := t.Replace(BGP, routes); err != nil {
		tb.Fatal(err)
	}
	dsts := make([]netip.Addr, 1<<16)
	for i := range dsts {
		if i%2 == 0 {
			p := routes[rng.IntN(len(routes))].Prefix
			dsts[i] = lastAddr(p)
			continue
		}
		if v6 {
			var b [16]byte
			b[0] = 0x20 | byte(rng.IntN(16))
			for j := 1; j < 16; j++ {
				b[j] = byte(rng.Uint32())
			}
			dsts[i] = netip.AddrFrom16(b)
		} else {
			dsts[i] = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
		}
	}
	return t, dsts
}

var benchSizes = []int{10, 1000, 100000}

func benchLookup(b *testing.B, v6 bool) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			t, dsts := benchTable(b, v6, n)
			b.ReportAllocs()
			hits := 0
			i := 0
			for b.Loop() {
				if _, ok := t.Lookup(dsts[i&(len(dsts)-1)]); ok {
					hits++
				}
				i++
			}
			if hits == 0 {
				b.Fatal("no lookup hit a route")
			}
		})
	}
}

func BenchmarkLookupV4(b *testing.B) { benchLookup(b, false) }
func BenchmarkLookupV6(b *testing.B) { benchLookup(b, true) }

// BenchmarkLookupFlowV4Parallel is the data plane's real pattern: every
// core looking up at once, while nobody writes. There is nothing to contend
// for, so ns/op should fall with the number of cores.
func BenchmarkLookupFlowV4Parallel(b *testing.B) {
	t, dsts := benchTable(b, false, 100000)
	mustAdd(b, t, Route{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Source: Static, NextHops: []NextHop{
		{Gateway: netip.MustParseAddr("192.0.2.1"), VLAN: "external"},
		{Gateway: netip.MustParseAddr("192.0.2.2"), VLAN: "external"},
	}})
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.Uint32()
		for pb.Next() {
			t.LookupFlow(dsts[int(i)&(len(dsts)-1)], i)
			i++
		}
	})
}

// BenchmarkUpdate measures one Add and one Delete (two published
// snapshots) of a /24 in tables of various sizes: the cost of a BGP update
// or a CR change.
func BenchmarkUpdate(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			t, _ := benchTable(b, false, n)
			r := Route{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Source: BGP, NextHops: []NextHop{{Gateway: netip.MustParseAddr("192.0.2.1"), VLAN: "external"}}}
			b.ReportAllocs()
			for b.Loop() {
				if err := t.Add(r); err != nil {
					b.Fatal(err)
				}
				if !t.Delete(r.Prefix, BGP) {
					b.Fatal("Delete = false")
				}
			}
		})
	}
}

// BenchmarkReplace100k installs a full 100k-route IPv4 table into an empty
// table in one Replace (a BGP session coming up), and resyncs an unchanged
// one (a session flap that changes nothing).
func BenchmarkReplace100k(b *testing.B) {
	src, _ := benchTable(b, false, 100000)
	routes := src.Routes()
	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := New().Replace(BGP, routes); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := src.Replace(BGP, routes); err != nil {
				b.Fatal(err)
			}
		}
	})
}
