package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/spklab/spklab/dataplane/conntrack"
)

// flowValue has the shape of the engine's per-flow value (the unexported
// flowData of dataplane/engine: translated source and destination, the
// virtual server, member and VLAN pointers, the last hop's MAC, the egress
// tenant and VTEP, the NAT pool and port), so a table of it weighs what a
// spk-tmm connection table weighs. Keep the two in step.
type flowValue struct {
	kind           uint8
	newSrc, newDst netip.AddrPort
	vs, member     *struct{}
	toVLAN         *struct{}
	lastMAC        [6]byte
	lastVLAN       *struct{}
	tenant         *struct{}
	vtep           netip.Addr
	innerMAC       [6]byte
	natPool        *struct{}
	natPort        uint16
}

// TableBytesPerFlow fills a conntrack table sized for n flows with n
// distinct ingress flows and returns the live heap it added per flow
// (runtime.MemStats.HeapAlloc after a GC, before and after).
func TableBytesPerFlow(n int) (float64, error) {
	if n <= 0 {
		return 0, errors.New("memory: the flow count must be positive")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tab := conntrack.New(conntrack.Config[flowValue]{Max: n})
	vip := netip.MustParseAddr("198.19.19.100")
	for i := range n {
		client := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		self := netip.AddrFrom4([4]byte{198, 18, byte(i >> 16), 1})
		pod := netip.MustParseAddr("10.244.1.2")
		orig := conntrack.Key{Proto: conntrack.ProtoTCP, Src: client, Dst: vip, SrcPort: uint16(1024 + i%60000), DstPort: 80}
		reply := conntrack.Key{Proto: conntrack.ProtoTCP, Src: pod, Dst: self, SrcPort: 80, DstPort: uint16(i)}
		v := flowValue{newSrc: netip.AddrPortFrom(self, uint16(i)), newDst: netip.AddrPortFrom(pod, 80)}
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

// SlabinfoPath is where the kernel lists its slab caches.
const SlabinfoPath = "/proc/slabinfo"

// KernelConntrackBytes is the size of one nf_conntrack entry: the object
// size of the kernel's nf_conntrack slab cache (root only; the hash table
// buckets are not counted).
func KernelConntrackBytes(slabinfo string) (float64, error) {
	f, err := os.Open(slabinfo)
	if err != nil {
		return 0, fmt.Errorf("memory: %w", err)
	}
	defer f.Close()
	return parseSlabObjSize(f, slabinfo, "nf_conntrack")
}

// parseSlabObjSize finds a cache's <objsize> in slabinfo 2.x text:
// "name <active_objs> <num_objs> <objsize> <objperslab> …".
func parseSlabObjSize(r io.Reader, name, cache string) (float64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || fields[0] != cache {
			continue
		}
		v, err := strconv.ParseFloat(fields[3], 64)
		if err != nil || v <= 0 {
			return 0, fmt.Errorf("memory: %s object size %q in %s", cache, fields[3], name)
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("memory: reading %s: %w", name, err)
	}
	return 0, fmt.Errorf("memory: %s has no %s cache (conntrack not loaded, or merged into another cache)", name, cache)
}
