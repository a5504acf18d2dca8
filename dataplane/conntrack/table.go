// Package conntrack is the connection table of the emulated TMM: a bounded,
// sharded map from flow keys to flows, with TCP state tracking and
// per-state timeouts, in the manner of Linux nf_conntrack.
//
// Every flow is reachable from two keys, the original direction and the
// reply direction (which differ when the flow is translated). Each key lives
// in the shard its hash selects, so the two keys of a flow may sit in
// different shards; operations that touch both lock them in shard order,
// which rules out deadlock. A flow is owned by the shard of its original key,
// which keeps it in a list used by the incremental sweeper, by early drop and
// by Range.
//
// Lookups take one shard's read lock and never allocate. A flow's mutable
// parts (state, deadline, counters) have their own small lock and atomics,
// so packets of one flow seen on different goroutines are accounted safely.
//
// Time is the caller's: every method takes now as int64 nanoseconds from a
// monotonic clock, so the fast path never calls time.Now.
package conntrack

import (
	"errors"
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by Insert.
var (
	ErrFull   = errors.New("conntrack: table full")
	ErrExists = errors.New("conntrack: flow key already in use")
)

// DefaultMax is the table size used when Config.Max is not set.
const DefaultMax = 1 << 20

// DefaultShards is the shard count used when Config.Shards is not set.
const DefaultShards = 64

// earlyDropScan bounds how many flows of one shard an insertion into a full
// table examines looking for one to drop, so a full table of established
// flows costs a bounded amount per refused insertion.
const earlyDropScan = 128

// sweepChunk bounds how many flows Expire examines per hold of a shard lock.
const sweepChunk = 256

// Timeouts are the idle timeouts per TCP state and per protocol.
type Timeouts struct {
	SynSent, SynRecv, Established, FinWait, CloseWait, LastAck, TimeWait, Close time.Duration
	// UDP applies to unreplied flows and to young ones; UDPStream to
	// flows that saw a reply and lived longer than two seconds. Protocols
	// other than TCP and ICMP use the UDP timeouts too.
	UDP, UDPStream time.Duration
	ICMP           time.Duration
}

// DefaultTimeouts returns the timeouts of the emulated TMM, close to Linux's
// defaults except for a 300 s established timeout.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		SynSent:     10 * time.Second,
		SynRecv:     10 * time.Second,
		Established: 300 * time.Second,
		FinWait:     30 * time.Second,
		CloseWait:   30 * time.Second,
		LastAck:     10 * time.Second,
		TimeWait:    2 * time.Second,
		Close:       1 * time.Second,
		UDP:         30 * time.Second,
		UDPStream:   120 * time.Second,
		ICMP:        10 * time.Second,
	}
}

// Config configures a Table. Zero fields take defaults.
type Config[V any] struct {
	Max      int // most flows held at once; DefaultMax when 0
	Shards   int // rounded up to a power of 2; DefaultShards when 0
	Timeouts Timeouts
	// OnExpire is called exactly once for every flow that leaves the
	// table, whatever removed it (Delete, a Lookup or Expire finding it
	// expired, early drop), outside the table's locks. It may call back
	// into the table. It is the place to release the flow's NAT port.
	OnExpire func(f *Flow[V])
}

// Stats are the table's cumulative counters.
type Stats struct {
	Active     int    // flows in the table now
	Inserts    uint64 // flows inserted
	EarlyDrops uint64 // embryonic flows dropped to make room
	Full       uint64 // insertions refused with ErrFull
	Expired    uint64 // flows removed because their deadline passed
	Deleted    uint64 // flows removed by Delete
}

// Table is a bounded connection table. All methods are safe for concurrent
// use.
type Table[V any] struct {
	shards   []shard[V]
	mask     uint64
	seed     uint64
	max      int64
	timeouts timeoutTable
	onExpire func(f *Flow[V])

	count                                       atomic.Int64
	inserts, earlyDrops, full, expired, deleted atomic.Uint64

	sweep sweepCursor[V]
}

type shard[V any] struct {
	mu    sync.RWMutex
	keys  map[Key]*Flow[V]
	flows []*Flow[V] // flows whose original key is in this shard
	drop  int        // where the next early-drop scan starts in flows
	_     [64]byte   // keep neighbouring shards' locks off one cache line
}

// sweepCursor is where the incremental sweep stopped: a shard, and how many
// flows at the front of its list are still to be visited (the sweep walks
// each list from the end, so flows moved by swap-removal land in the part
// already visited and none is skipped).
type sweepCursor[V any] struct {
	mu    sync.Mutex
	shard int
	pos   int        // -1: start the shard from its end
	dead  []*Flow[V] // reused between calls
}

// New returns an empty table.
func New[V any](cfg Config[V]) *Table[V] {
	n := cfg.Shards
	if n <= 0 {
		n = DefaultShards
	}
	n = 1 << bits.Len(uint(n-1)) // round up to a power of 2
	max := cfg.Max
	if max <= 0 {
		max = DefaultMax
	}
	tm := cfg.Timeouts
	if tm == (Timeouts{}) {
		tm = DefaultTimeouts()
	}
	t := &Table[V]{
		shards:   make([]shard[V], n),
		mask:     uint64(n - 1),
		seed:     rand.Uint64(),
		max:      int64(max),
		timeouts: newTimeoutTable(tm),
		onExpire: cfg.OnExpire,
	}
	for i := range t.shards {
		t.shards[i].keys = make(map[Key]*Flow[V])
	}
	t.sweep.pos = -1
	return t
}

func (t *Table[V]) shardOf(k *Key) int { return int(k.hash(t.seed) & t.mask) }

// lockPair write-locks the shards a and b in index order (once when equal).
func (t *Table[V]) lockPair(a, b int) {
	if a > b {
		a, b = b, a
	}
	t.shards[a].mu.Lock()
	if b != a {
		t.shards[b].mu.Lock()
	}
}

func (t *Table[V]) unlockPair(a, b int) {
	t.shards[a].mu.Unlock()
	if b != a {
		t.shards[b].mu.Unlock()
	}
}

// Insert adds a flow reachable by both orig and reply and returns it. idle
// is the flow's established timeout for TCP (the virtual server's idle
// timeout; 0 means Timeouts.Established). A TCP flow starts in SynSent,
// since the engine creates flows on a SYN; call Track with that first
// packet as well so it is counted.
//
// When the table already holds Max flows, Insert first tries to drop an
// embryonic flow of the shard the new flow would go to (early drop, as Linux
// does) and otherwise fails with ErrFull. It fails with ErrExists when
// either key belongs to a live flow; a flow that holds a key but has
// expired is removed (and reported to OnExpire) to make way.
func (t *Table[V]) Insert(orig, reply Key, idle time.Duration, value V, now int64) (*Flow[V], error) {
	f := &Flow[V]{Orig: orig, Reply: reply, Value: value, created: now, timeouts: &t.timeouts}
	f.established = int64(idle)
	if idle <= 0 {
		f.established = t.timeouts.tcp[Established]
	}
	switch orig.Proto {
	case ProtoTCP:
		f.word.Store(uint32(SynSent))
		f.deadline.Store(now + t.timeouts.tcp[SynSent])
	case ProtoICMP, ProtoICMPv6:
		f.deadline.Store(now + t.timeouts.icmp)
	default:
		f.deadline.Store(now + t.timeouts.udp)
	}

	a, b := t.shardOf(&f.Orig), t.shardOf(&f.Reply)
	if !t.reserve(f, a, now) {
		return nil, t.refusal(f, a, b, now)
	}
	for attempt := 0; ; attempt++ {
		t.lockPair(a, b)
		sa, sb := &t.shards[a], &t.shards[b]
		old := sa.keys[orig]
		if old == nil {
			old = sb.keys[reply]
		}
		if old == nil {
			sa.keys[orig] = f
			sb.keys[reply] = f
			f.idx = int32(len(sa.flows))
			sa.flows = append(sa.flows, f)
			t.unlockPair(a, b)
			t.inserts.Add(1)
			return f, nil
		}
		t.unlockPair(a, b)
		// The holder lives in shards we may not hold, so it is removed
		// after unlocking, then the insertion is retried.
		if attempt < 3 && old.expiredAt(now) {
			t.remove(old, ifExpired, now, &t.expired)
			continue
		}
		t.count.Add(-1)
		return nil, ErrExists
	}
}

// refusal decides what a failed reservation reports: ErrExists when a key
// is taken anyway (so a duplicate is not counted as a full-table drop),
// else ErrFull.
func (t *Table[V]) refusal(f *Flow[V], a, b int, now int64) error {
	if g, _ := t.lookupShard(&f.Orig, a); g != nil && !g.expiredAt(now) {
		return ErrExists
	}
	if g, _ := t.lookupShard(&f.Reply, b); g != nil && !g.expiredAt(now) {
		return ErrExists
	}
	t.full.Add(1)
	return ErrFull
}

// reserve takes one slot of the table's capacity for f, early-dropping a
// flow of shard a when the table is full.
func (t *Table[V]) reserve(f *Flow[V], a int, now int64) bool {
	for drops := 0; ; {
		c := t.count.Load()
		if c < t.max {
			if t.count.CompareAndSwap(c, c+1) {
				return true
			}
			continue
		}
		// Another inserter may take the slot a drop frees; give up after
		// a few rounds rather than spin.
		if drops == 3 || !t.earlyDrop(a, now) {
			return false
		}
		drops++
	}
}

// earlyDrop removes one flow of shard a that may go: an expired one, else
// an embryonic one. It scans at most earlyDropScan flows, starting where the
// previous scan of this shard stopped.
func (t *Table[V]) earlyDrop(a int, now int64) bool {
	s := &t.shards[a]
	var victim *Flow[V]
	s.mu.Lock()
	n := len(s.flows)
	for i := 0; i < n && i < earlyDropScan; i++ {
		if s.drop >= n {
			s.drop = 0
		}
		f := s.flows[s.drop]
		s.drop++
		if f.expiredAt(now) {
			victim = f
			break
		}
		if victim == nil && f.embryonic() {
			victim = f
		}
	}
	s.mu.Unlock()
	if victim == nil {
		return false
	}
	if victim.expiredAt(now) && t.remove(victim, ifExpired, now, &t.expired) {
		return true
	}
	return t.remove(victim, ifExpiredOrEmbryo, now, &t.earlyDrops)
}

func (t *Table[V]) lookupShard(k *Key, i int) (*Flow[V], Direction) {
	s := &t.shards[i]
	s.mu.RLock()
	f := s.keys[*k]
	s.mu.RUnlock()
	if f == nil {
		return nil, Original
	}
	if f.Orig == *k {
		return f, Original
	}
	return f, Reply
}

// Lookup finds the flow k belongs to and the direction k is in that flow.
// A flow whose deadline has passed is not returned; it is removed (and
// reported to OnExpire) instead.
func (t *Table[V]) Lookup(k Key, now int64) (f *Flow[V], dir Direction, ok bool) {
	f, dir = t.lookupShard(&k, t.shardOf(&k))
	if f == nil {
		return nil, Original, false
	}
	if f.expiredAt(now) {
		t.remove(f, ifExpired, now, &t.expired)
		return nil, Original, false
	}
	return f, dir, true
}

// Delete removes f (both keys) and reports it to OnExpire, unless it has
// already left the table.
func (t *Table[V]) Delete(f *Flow[V]) {
	t.remove(f, always, 0, &t.deleted)
}

// removal says when remove may take a flow out.
type removal uint8

const (
	always            removal = iota // Delete
	ifExpired                        // still expired (a packet may have refreshed it since)
	ifExpiredOrEmbryo                // early drop: expired, or still embryonic (not established since)
)

// remove takes f out of the table if it is still in it and the condition
// holds at now. It bumps counter and calls OnExpire, once per flow, after
// unlocking.
func (t *Table[V]) remove(f *Flow[V], cond removal, now int64, counter *atomic.Uint64) bool {
	a, b := t.shardOf(&f.Orig), t.shardOf(&f.Reply)
	t.lockPair(a, b)
	ok := !f.removed
	switch {
	case !ok || cond == always:
	case cond == ifExpired:
		ok = f.expiredAt(now)
	case cond == ifExpiredOrEmbryo:
		// Track holds f.mu while it moves the state, so under it the
		// state cannot change between this check and the removal's
		// effect on later lookups.
		f.mu.Lock()
		ok = f.expiredAt(now) || f.embryonic()
		f.mu.Unlock()
	}
	if !ok {
		t.unlockPair(a, b)
		return false
	}
	sa, sb := &t.shards[a], &t.shards[b]
	if sa.keys[f.Orig] == f {
		delete(sa.keys, f.Orig)
	}
	if sb.keys[f.Reply] == f {
		delete(sb.keys, f.Reply)
	}
	last := len(sa.flows) - 1
	moved := sa.flows[last]
	sa.flows[f.idx] = moved
	moved.idx = f.idx
	sa.flows[last] = nil
	sa.flows = sa.flows[:last]
	f.removed = true
	t.unlockPair(a, b)

	t.count.Add(-1)
	counter.Add(1)
	if t.onExpire != nil {
		t.onExpire(f)
	}
	return true
}

// Expire removes flows whose deadline has passed at now, examining at most
// budget flows per call and continuing where the previous call stopped, so
// a ticker can sweep a large table a slice at a time. budget <= 0 sweeps
// every flow once. It returns how many flows it removed.
func (t *Table[V]) Expire(now int64, budget int) int {
	if budget <= 0 {
		budget = int(^uint(0) >> 1)
	}
	c := &t.sweep
	c.mu.Lock()
	defer c.mu.Unlock()
	removed, visited := 0, 0
	// One call visits each shard at most once, plus the rest of the shard
	// it resumes in.
	for shards := 0; visited < budget && shards <= len(t.shards); {
		s := &t.shards[c.shard]
		dead := c.dead[:0]
		s.mu.RLock()
		pos := c.pos
		if pos < 0 || pos > len(s.flows) {
			pos = len(s.flows)
		}
		// Hold the read lock for a bounded chunk so inserts into this
		// shard wait at most that long.
		for n := 0; pos > 0 && visited < budget && n < sweepChunk; n++ {
			pos--
			visited++
			if f := s.flows[pos]; f.expiredAt(now) {
				dead = append(dead, f)
			}
		}
		s.mu.RUnlock()
		for _, f := range dead {
			if t.remove(f, ifExpired, now, &t.expired) {
				removed++
			}
		}
		clear(dead) // do not keep removed flows alive
		c.dead = dead[:0]
		c.pos = pos
		if pos == 0 {
			c.shard = (c.shard + 1) & int(t.mask)
			c.pos = -1
			shards++
		}
	}
	return removed
}

// Len returns the number of flows in the table.
func (t *Table[V]) Len() int { return int(t.count.Load()) }

// Stats returns the table's counters.
func (t *Table[V]) Stats() Stats {
	return Stats{
		Active:     t.Len(),
		Inserts:    t.inserts.Load(),
		EarlyDrops: t.earlyDrops.Load(),
		Full:       t.full.Load(),
		Expired:    t.expired.Load(),
		Deleted:    t.deleted.Load(),
	}
}

// Range calls fn for every flow until fn returns false. It copies one
// shard's flow list at a time and calls fn without holding any table lock,
// so fn may Delete flows or call into the table; flows inserted or removed
// during the walk may or may not be visited.
func (t *Table[V]) Range(fn func(f *Flow[V]) bool) {
	var batch []*Flow[V]
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		batch = append(batch[:0], s.flows...)
		s.mu.RUnlock()
		for _, f := range batch {
			if !fn(f) {
				return
			}
		}
	}
}
