package natport

import (
	"encoding/binary"
	"testing"
)

// FuzzPool runs an arbitrary sequence of operations on a pool with an
// arbitrary range and compares every answer with a plain map of allocated
// ports.
func FuzzPool(f *testing.F) {
	f.Add(uint16(1024), uint16(1100), []byte{0, 0, 0, 1, 0x04, 0x10, 2, 0x04, 0x10, 0, 0})
	f.Add(uint16(65535), uint16(65535), []byte{0, 0, 1, 0xff, 0xff, 0, 2, 0xff, 0xff, 0})
	f.Add(uint16(0), uint16(63), []byte{0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 5, 0})
	f.Fuzz(func(t *testing.T, lo, hi uint16, ops []byte) {
		if lo > hi {
			lo, hi = hi, lo
		}
		p := NewPool(lo, hi)
		used := map[uint16]bool{}
		size := int(hi) - int(lo) + 1
		for len(ops) > 0 {
			op := ops[0] % 3
			ops = ops[1:]
			var port uint16
			if op != 0 {
				if len(ops) < 2 {
					return
				}
				port = lo + binary.BigEndian.Uint16(ops)%uint16(min(size, 65535))
				if ops[0]&0x80 != 0 && size < 65536 { // sometimes out of range
					port = lo + uint16(size) + binary.BigEndian.Uint16(ops)%7
				}
				ops = ops[2:]
			}
			switch op {
			case 0:
				got, ok := p.Allocate()
				if ok != (len(used) < size) {
					t.Fatalf("Allocate ok=%v with %d of %d used", ok, len(used), size)
				}
				if ok && (got < lo || got > hi || used[got]) {
					t.Fatalf("Allocate returned %d (range %d-%d, used %v)", got, lo, hi, used[got])
				}
				if ok {
					used[got] = true
				}
			case 1:
				want := port >= lo && port <= hi && !used[port]
				if got := p.AllocateSpecific(port); got != want {
					t.Fatalf("AllocateSpecific(%d) = %v, want %v", port, got, want)
				}
				if want {
					used[port] = true
				}
			case 2:
				p.Release(port)
				delete(used, port)
			}
			if p.InUse() != len(used) {
				t.Fatalf("InUse %d, model %d", p.InUse(), len(used))
			}
		}
	})
}
