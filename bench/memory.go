package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spklab/spklab/dataplane/engine"
)

// TableBytesPerFlow is the engine's connection-table entry size, measured
// with n flows (engine.FlowTableBytesPerEntry).
func TableBytesPerFlow(n int) (float64, error) { return engine.FlowTableBytesPerEntry(n) }

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
