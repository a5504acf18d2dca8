package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"

	"github.com/spklab/spklab/dataplane/conntrack"
)

// FlowTableBytesPerEntry measures what one connection-table entry of the
// engine weighs: it fills a table of the engine's own flow values sized for
// n flows with n distinct ingress flows and returns the live heap added
// per flow (runtime.MemStats.HeapAlloc after a GC, before and after). The
// benchmarks report it; it allocates about n × 700 bytes while it runs.
func FlowTableBytesPerEntry(n int) (float64, error) {
	if n <= 0 {
		return 0, errors.New("memory: the flow count must be positive")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tab := conntrack.New(conntrack.Config[flowData]{Max: n})
	vip := netip.MustParseAddr("198.19.19.100")
	pod := netip.MustParseAddr("10.244.1.2")
	for i := range n {
		client := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		self := netip.AddrFrom4([4]byte{198, 18, byte(i >> 16), 1})
		orig := conntrack.Key{Proto: conntrack.ProtoTCP, Src: client, Dst: vip, SrcPort: uint16(1024 + i%60000), DstPort: 80}
		reply := conntrack.Key{Proto: conntrack.ProtoTCP, Src: pod, Dst: self, SrcPort: 80, DstPort: uint16(i)}
		v := flowData{kind: flowIngress, newSrc: netip.AddrPortFrom(self, uint16(i)), newDst: netip.AddrPortFrom(pod, 80)}
		if _, err := tab.Insert(orig, reply, 0, v, 0); err != nil {
			return 0, fmt.Errorf("memory: inserting flow %d of %d: %w", i+1, n, err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := tab.Len(); got != n {
		return 0, fmt.Errorf("memory: the table holds %d flows, want %d", got, n)
	}
	runtime.KeepAlive(tab)
	if after.HeapAlloc <= before.HeapAlloc {
		return 0, fmt.Errorf("memory: the heap did not grow (%d → %d bytes); something else freed memory meanwhile", before.HeapAlloc, after.HeapAlloc)
	}
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n), nil
}
