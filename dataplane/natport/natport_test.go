package natport

import (
	"net/netip"
	"sync"
	"testing"
)

func TestExhaustionThenRelease(t *testing.T) {
	p := NewPool(2000, 2099)
	if p.Size() != 100 {
		t.Fatalf("Size %d", p.Size())
	}
	seen := map[uint16]bool{}
	for i := range 100 {
		port, ok := p.Allocate()
		if !ok {
			t.Fatalf("exhausted after %d", i)
		}
		if port < 2000 || port > 2099 || seen[port] {
			t.Fatalf("port %d out of range or handed out twice", port)
		}
		seen[port] = true
	}
	if _, ok := p.Allocate(); ok {
		t.Fatal("allocated from a full pool")
	}
	if p.InUse() != 100 {
		t.Fatalf("InUse %d", p.InUse())
	}
	p.Release(2042)
	if port, ok := p.Allocate(); !ok || port != 2042 {
		t.Fatalf("after releasing the only free port got %d %v", port, ok)
	}
	p.Release(2042)
	p.Release(2042) // double release is a no-op
	p.Release(1999) // out of range too
	p.Release(2100)
	if p.InUse() != 99 {
		t.Fatalf("InUse %d after double release", p.InUse())
	}
}

func TestReleasedPortNotReusedRightAway(t *testing.T) {
	p := NewPool(1024, 65535)
	a, _ := p.Allocate()
	p.Release(a)
	// The cursor moves on: every other port comes before a again.
	for i := range p.Size() - 1 {
		port, ok := p.Allocate()
		if !ok || port == a {
			t.Fatalf("allocation %d: %d %v (released port %d came back too soon)", i, port, ok, a)
		}
		if i%2 == 0 {
			p.Release(port) // released ports wait their turn too
		}
	}
}

func TestCursorWraps(t *testing.T) {
	p := NewPool(10, 19)
	for range 10 {
		p.Allocate()
	}
	for _, port := range []uint16{12, 17, 19} {
		p.Release(port)
	}
	// The cursor is at the end; the search wraps to the lowest free port.
	var got []uint16
	for range 3 {
		port, ok := p.Allocate()
		if !ok {
			t.Fatal("exhausted")
		}
		got = append(got, port)
	}
	if got[0] != 12 || got[1] != 17 || got[2] != 19 {
		t.Fatalf("got %v, want [12 17 19]", got)
	}
}

func TestAllocateSpecific(t *testing.T) {
	p := NewPool(1024, 2047)
	if !p.AllocateSpecific(1500) || !p.Allocated(1500) {
		t.Fatal("free port refused")
	}
	if p.AllocateSpecific(1500) {
		t.Fatal("taken port granted twice")
	}
	if p.AllocateSpecific(1023) || p.AllocateSpecific(2048) || p.Allocated(80) {
		t.Fatal("out-of-range port granted")
	}
	for range p.Size() - 1 {
		port, ok := p.Allocate()
		if !ok || port == 1500 {
			t.Fatalf("Allocate returned %d %v", port, ok)
		}
	}
	if _, ok := p.Allocate(); ok || p.InUse() != p.Size() {
		t.Fatal("pool should be full")
	}
	p.Release(1500)
	if !p.AllocateSpecific(1500) {
		t.Fatal("released port not grantable")
	}
}

func TestRangeEdges(t *testing.T) {
	one := NewPool(65535, 65535)
	if one.Size() != 1 {
		t.Fatalf("Size %d", one.Size())
	}
	for range 3 {
		port, ok := one.Allocate()
		if !ok || port != 65535 {
			t.Fatalf("got %d %v", port, ok)
		}
		if _, ok := one.Allocate(); ok {
			t.Fatal("second allocation from a one-port pool")
		}
		one.Release(65535)
	}
	full := NewPool(0, 65535)
	if full.Size() != 65536 {
		t.Fatalf("Size %d", full.Size())
	}
	seen := make([]bool, 65536)
	for range 65536 {
		port, ok := full.Allocate()
		if !ok || seen[port] {
			t.Fatalf("port %d %v", port, ok)
		}
		seen[port] = true
	}
	if _, ok := full.Allocate(); ok {
		t.Fatal("allocated past 65536 ports")
	}
	if lo, hi := NewPool(5000, 4000).Range(); lo != 4000 || hi != 5000 {
		t.Fatalf("swapped range %d-%d", lo, hi)
	}
	// A range whose size is not a multiple of 64: the padding bits of the
	// last word must never come out as ports.
	odd := NewPool(100, 170)
	for range 71 {
		if port, ok := odd.Allocate(); !ok || port > 170 {
			t.Fatalf("port %d %v", port, ok)
		}
	}
	if _, ok := odd.Allocate(); ok {
		t.Fatal("allocated a padding bit")
	}
}

func TestConcurrentNoDuplicates(t *testing.T) {
	p := NewPool(1024, 4095) // 3072 ports for 4 goroutines × 1000 live ports: some exhaustion
	var mu sync.Mutex
	owner := map[uint16]int{}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var mine []uint16
			for i := range 5000 {
				if port, ok := p.Allocate(); ok {
					mu.Lock()
					if o, dup := owner[port]; dup {
						mu.Unlock()
						t.Errorf("port %d handed to %d and %d", port, o, g)
						return
					}
					owner[port] = g
					mu.Unlock()
					mine = append(mine, port)
				}
				if len(mine) > 1000 || (i%3 == 0 && len(mine) > 0) {
					port := mine[0]
					mine = mine[1:]
					mu.Lock()
					delete(owner, port)
					mu.Unlock()
					p.Release(port)
				}
			}
		})
	}
	wg.Wait()
	if p.InUse() != len(owner) {
		t.Fatalf("InUse %d, holders %d", p.InUse(), len(owner))
	}
}

func TestPools(t *testing.T) {
	ps := NewPools(0, 0)
	a := netip.MustParseAddr("198.51.100.1")
	tcp := ps.Get(a, 6)
	if lo, hi := tcp.Range(); lo != 1024 || hi != 65535 {
		t.Fatalf("default range %d-%d", lo, hi)
	}
	if ps.Get(a, 6) != tcp || ps.Get(a, 17) == tcp || ps.Get(netip.MustParseAddr("2001::1"), 6) == tcp {
		t.Fatal("pools not keyed by (address, protocol)")
	}
	tcp.AllocateSpecific(5000)
	if ps.Get(a, 17).Allocated(5000) {
		t.Fatal("UDP pool shares TCP ports")
	}
	var wg sync.WaitGroup
	got := make([]*Pool, 8)
	b := netip.MustParseAddr("198.51.100.2")
	for i := range got {
		wg.Go(func() { got[i] = ps.Get(b, 6) })
	}
	wg.Wait()
	for _, p := range got {
		if p != got[0] {
			t.Fatal("concurrent Get created two pools")
		}
	}
	if ps.Len() != 4 {
		t.Fatalf("Len %d", ps.Len())
	}
	if lo, hi := NewPools(3000, 3999).Get(a, 6).Range(); lo != 3000 || hi != 3999 {
		t.Fatalf("range %d-%d", lo, hi)
	}
}

func TestAllocateNoAllocs(t *testing.T) {
	p := NewPool(1024, 65535)
	if n := testing.AllocsPerRun(1000, func() {
		port, _ := p.Allocate()
		p.Release(port)
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func BenchmarkAllocateRelease(b *testing.B) {
	p := NewPool(1024, 65535)
	// Half full, scattered, as after a while of traffic.
	for i := 0; i < p.Size(); i += 2 {
		p.AllocateSpecific(uint16(1024 + i))
	}
	for b.Loop() {
		port, ok := p.Allocate()
		if !ok {
			b.Fatal("exhausted")
		}
		p.Release(port)
	}
}

func BenchmarkAllocateReleaseParallel(b *testing.B) {
	p := NewPool(1024, 65535)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if port, ok := p.Allocate(); ok {
				p.Release(port)
			}
		}
	})
}
