// Package natport hands out source ports for translated flows: one Pool per
// (NAT address, protocol), each a bitmap over its port range.
//
// Allocation walks the bitmap from a cursor that only moves forward and
// wraps at the end of the range, so a port that was just released is the
// last one to be handed out again. That keeps a new flow from reusing the
// tuple of one the server may still hold in TIME_WAIT.
package natport

import (
	"math/bits"
	"net/netip"
	"sync"
)

// Default port range of Pools.
const (
	DefaultLo uint16 = 1024
	DefaultHi uint16 = 65535
)

// Pool hands out the ports of one (address, protocol) in [lo, hi]. It is
// safe for concurrent use.
type Pool struct {
	lo, hi uint16

	mu    sync.Mutex
	used  []uint64 // bit i set: port lo+i is allocated
	next  int      // offset where the next search starts
	inUse int
}

// NewPool returns a pool of the ports lo through hi (swapped if given in
// the wrong order).
func NewPool(lo, hi uint16) *Pool {
	if lo > hi {
		lo, hi = hi, lo
	}
	size := int(hi) - int(lo) + 1
	return &Pool{lo: lo, hi: hi, used: make([]uint64, (size+63)/64)}
}

// Size returns how many ports the pool has.
func (p *Pool) Size() int { return int(p.hi) - int(p.lo) + 1 }

// Range returns the pool's first and last port.
func (p *Pool) Range() (lo, hi uint16) { return p.lo, p.hi }

// InUse returns how many ports are allocated.
func (p *Pool) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inUse
}

// Allocate returns a free port, the first one at or after the cursor. ok
// is false when every port is in use; the caller drops the packet and
// counts it.
func (p *Pool) Allocate() (port uint16, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	size := p.Size()
	if p.inUse == size {
		return 0, false
	}
	// Scan whole words from the cursor's word, masking bits before the
	// cursor in the first word; at most one wrap is needed because a free
	// port exists.
	w := p.next / 64
	mask := ^uint64(0) << (p.next % 64)
	for range len(p.used) + 1 {
		free := ^p.used[w] & mask
		if free != 0 {
			off := w*64 + bits.TrailingZeros64(free)
			if off < size {
				p.used[w] |= 1 << (off % 64)
				p.inUse++
				p.next = off + 1
				if p.next == size {
					p.next = 0
				}
				return p.lo + uint16(off), true
			}
		}
		mask = ^uint64(0)
		w++
		if w == len(p.used) {
			w = 0
		}
	}
	return 0, false // not reached: inUse < size guarantees a free bit
}

// AllocateSpecific takes port if it is in the range and free (NAT keeps the
// client's source port when it can). It does not move the cursor.
func (p *Pool) AllocateSpecific(port uint16) bool {
	if port < p.lo || port > p.hi {
		return false
	}
	off := int(port - p.lo)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used[off/64]&(1<<(off%64)) != 0 {
		return false
	}
	p.used[off/64] |= 1 << (off % 64)
	p.inUse++
	return true
}

// Release returns port to the pool. Releasing a port that is free or out
// of range does nothing, so a double release cannot corrupt the count.
func (p *Pool) Release(port uint16) {
	if port < p.lo || port > p.hi {
		return
	}
	off := int(port - p.lo)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used[off/64]&(1<<(off%64)) == 0 {
		return
	}
	p.used[off/64] &^= 1 << (off % 64)
	p.inUse--
}

// Allocated reports whether port is in use.
func (p *Pool) Allocated(port uint16) bool {
	if port < p.lo || port > p.hi {
		return false
	}
	off := int(port - p.lo)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used[off/64]&(1<<(off%64)) != 0
}

type poolKey struct {
	addr  netip.Addr
	proto uint8
}

// Pools holds one Pool per (address, protocol), created on first use, all
// with the same port range. It is safe for concurrent use.
type Pools struct {
	lo, hi uint16
	mu     sync.RWMutex
	pools  map[poolKey]*Pool
}

// NewPools returns an empty set of pools of ports lo through hi. Zero for
// both means the default range 1024–65535.
func NewPools(lo, hi uint16) *Pools {
	if lo == 0 && hi == 0 {
		lo, hi = DefaultLo, DefaultHi
	}
	return &Pools{lo: lo, hi: hi, pools: make(map[poolKey]*Pool)}
}

// Get returns the pool of address a and protocol proto, creating it.
func (ps *Pools) Get(a netip.Addr, proto uint8) *Pool {
	k := poolKey{a, proto}
	ps.mu.RLock()
	p := ps.pools[k]
	ps.mu.RUnlock()
	if p != nil {
		return p
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if p = ps.pools[k]; p == nil {
		p = NewPool(ps.lo, ps.hi)
		ps.pools[k] = p
	}
	return p
}

// Len returns how many pools exist.
func (ps *Pools) Len() int {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	return len(ps.pools)
}
