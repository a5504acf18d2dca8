package conntrack

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
)

// small is the kind of value the engine stores: a NAT binding index.
type small struct{ port, vs uint32 }

func benchKeys(n int) (orig, reply []Key) {
	orig, reply = make([]Key, n), make([]Key, n)
	for i := range n {
		orig[i] = Key{Proto: ProtoTCP, Src: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
			Dst: netip.MustParseAddr("192.0.2.10"), SrcPort: uint16(1024 + i%50000), DstPort: 80}
		reply[i] = Key{Proto: ProtoTCP, Src: orig[i].Dst, Dst: netip.AddrFrom4([4]byte{198, 51, 100, byte(i >> 16)}),
			SrcPort: 80, DstPort: uint16(i)}
	}
	return orig, reply
}

func filled(b *testing.B, n int) (*Table[small], []Key) {
	tab := New(Config[small]{Max: 2 * n})
	orig, reply := benchKeys(n)
	for i := range n {
		if _, err := tab.Insert(orig[i], reply[i], 0, small{}, 0); err != nil {
			b.Fatal(err)
		}
	}
	return tab, append(orig, reply...)
}

func BenchmarkLookupHit(b *testing.B) {
	tab, keys := filled(b, 100_000)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, _, ok := tab.Lookup(keys[i%len(keys)], 1); !ok {
			b.Fatal("miss")
		}
	}
}

func BenchmarkLookupTrackHit(b *testing.B) {
	tab, keys := filled(b, 100_000)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		f, dir, ok := tab.Lookup(keys[i%len(keys)], 1)
		if !ok {
			b.Fatal("miss")
		}
		f.Track(dir, TCPAck, 1500, 1)
	}
}

func BenchmarkLookupParallel(b *testing.B) {
	tab, keys := filled(b, 100_000)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(rand.Uint32())
		for pb.Next() {
			if _, _, ok := tab.Lookup(keys[i%len(keys)], 1); !ok {
				b.Error("miss")
				return
			}
			i++
		}
	})
}

func BenchmarkInsertDelete(b *testing.B) {
	tab, _ := filled(b, 100_000)
	orig, reply := benchKeys(200_000)
	orig, reply = orig[100_000:], reply[100_000:]
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		f, err := tab.Insert(orig[i%len(orig)], reply[i%len(orig)], 0, small{}, 0)
		if err != nil {
			b.Fatal(err)
		}
		tab.Delete(f)
	}
}

// BenchmarkMemoryPer1M reports the heap taken per flow of a table holding
// one million flows with a small value: the memory per 1M
// connection-table entries is bytes/flow × 10^6.
func BenchmarkMemoryPer1M(b *testing.B) {
	for b.Loop() {
		b.ReportMetric(bytesPerFlow(b, 1_000_000), "bytes/flow")
	}
}

func bytesPerFlow(tb testing.TB, n int) float64 {
	orig, reply := benchKeys(n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tab := New(Config[small]{Max: n})
	for i := range n {
		if _, err := tab.Insert(orig[i], reply[i], 0, small{}, 0); err != nil {
			tb.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if tab.Len() != n {
		tb.Fatalf("Len %d", tab.Len())
	}
	runtime.KeepAlive(tab)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// TestMemoryPer1M measures the memory per 1M connection-table entries and
// fails if it grows past a budget: 1M flows must fit in well under 1 GB.
func TestMemoryPer1M(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	per := bytesPerFlow(t, n)
	t.Logf("memory per 1M connection-table entries: %.0f MB (%.0f bytes/flow, measured with %d flows)", per, per, n)
	if per > 700 {
		t.Fatalf("%.0f bytes per flow, budget 700", per)
	}
}
