// Package neigh is the neighbor cache of the emulated TMM: the results of
// ARP and NDP resolution, and the frames waiting for them.
//
// An address is either reachable (its MAC is known and was learned less
// than Reachable ago) or incomplete (a request went out, frames wait). The
// cache never holds more than Max entries: adding one to a full cache
// evicts the entry updated longest ago. Frames waiting for an address are
// bounded too, the oldest dropped first, as Linux's unres_qlen does.
//
// Time is the caller's: every method takes now as int64 nanoseconds from a
// monotonic clock.
package neigh

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Cache. Zero fields take the defaults shown.
type Config struct {
	Max           int           // most entries; 4096
	Reachable     time.Duration // how long a learned MAC is used; 60s
	Incomplete    time.Duration // how long an unanswered resolution lasts; 3s
	MaxPending    int           // frames queued per unresolved address; 4
	RetryInterval time.Duration // least time between requests for one address; 1s
}

func (c Config) withDefaults() Config {
	if c.Max <= 0 {
		c.Max = 4096
	}
	if c.Reachable <= 0 {
		c.Reachable = 60 * time.Second
	}
	if c.Incomplete <= 0 {
		c.Incomplete = 3 * time.Second
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 4
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = time.Second
	}
	return c
}

// Entry describes one cache entry for dumps.
type Entry struct {
	IP  netip.Addr
	MAC [6]byte // zero while incomplete
	// State is "reachable", "stale" (learned, but longer ago than
	// Reachable and not yet expired: Lookup no longer returns it) or
	// "incomplete".
	State   string
	Age     time.Duration // since learned, or since resolution started
	Pending int           // frames waiting (incomplete entries)
}

func (e Entry) String() string {
	m := e.MAC
	return fmt.Sprintf("%s %02x:%02x:%02x:%02x:%02x:%02x %s age %s pending %d",
		e.IP, m[0], m[1], m[2], m[3], m[4], m[5], e.State, e.Age, e.Pending)
}

// Stats are the cache's cumulative counters.
type Stats struct {
	Entries       int    // entries now
	Evicted       uint64 // entries pushed out by a full cache
	Expired       uint64 // entries removed by Expire
	FramesDropped uint64 // queued frames discarded, including those Expire reported
}

// Cache is a bounded, expiring neighbor cache, safe for concurrent use.
type Cache struct {
	cfg                             Config
	reachable, incomplete, retry    int64
	mu                              sync.RWMutex
	entries                         map[netip.Addr]*entry
	lru                             entry // sentinel of the list ordered by updated, oldest first
	lastNow                         atomic.Int64
	evicted, expired, framesDropped atomic.Uint64
}

type entry struct {
	ip         netip.Addr
	mac        [6]byte
	reachable  bool
	updated    int64 // when learned, or when resolution started
	requested  int64 // when the last request was asked for
	pending    [][]byte
	prev, next *entry
}

// New returns an empty cache.
func New(cfg Config) *Cache {
	cfg = cfg.withDefaults()
	c := &Cache{
		cfg:        cfg,
		reachable:  int64(cfg.Reachable),
		incomplete: int64(cfg.Incomplete),
		retry:      int64(cfg.RetryInterval),
		entries:    make(map[netip.Addr]*entry),
	}
	c.lru.prev, c.lru.next = &c.lru, &c.lru
	return c
}

// Lookup returns the MAC of ip if it is reachable and was learned less than
// Reachable ago. It does not allocate.
func (c *Cache) Lookup(ip netip.Addr, now int64) (mac [6]byte, ok bool) {
	c.mu.RLock()
	e := c.entries[ip]
	if e != nil && e.reachable && now-e.updated < c.reachable {
		mac, ok = e.mac, true
	}
	c.mu.RUnlock()
	return mac, ok
}

// Learn records that ip is at mac (from an ARP reply or request, or a
// neighbor advertisement) and returns the frames that waited for it; the
// caller owns them and sends them.
func (c *Cache) Learn(ip netip.Addr, mac [6]byte, now int64) (pending [][]byte) {
	c.seen(now)
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[ip]
	if e == nil {
		e = c.add(ip)
	}
	e.mac, e.reachable, e.updated = mac, true, now
	c.touch(e)
	pending, e.pending = e.pending, nil
	return pending
}

// Hold queues a copy of frame until ip resolves and reports whether the
// caller should send a request now: when resolution starts, and again each
// time RetryInterval has passed since the last request. Beyond MaxPending
// frames the oldest is dropped. Hold is for addresses Lookup did not
// resolve: a learned entry, stale or not, goes back to incomplete.
func (c *Cache) Hold(ip netip.Addr, frame []byte, now int64) (sendRequest bool) {
	c.seen(now)
	cp := append([]byte(nil), frame...)
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[ip]
	switch {
	case e == nil:
		e = c.add(ip)
		c.restart(e, now)
		sendRequest = true
	case e.reachable:
		c.restart(e, now)
		sendRequest = true
	case now-e.updated >= c.incomplete:
		// Timed out and not yet swept: a new resolution, the old frames
		// are lost.
		c.framesDropped.Add(uint64(len(e.pending)))
		clear(e.pending)
		e.pending = e.pending[:0]
		c.restart(e, now)
		sendRequest = true
	case now-e.requested >= c.retry:
		e.requested = now
		sendRequest = true
	}
	if len(e.pending) >= c.cfg.MaxPending {
		n := len(e.pending) - c.cfg.MaxPending + 1
		c.framesDropped.Add(uint64(n))
		e.pending = slices.Delete(e.pending, 0, n)
	}
	e.pending = append(e.pending, cp)
	return sendRequest
}

// restart makes e an incomplete entry whose resolution starts at now.
func (c *Cache) restart(e *entry, now int64) {
	e.reachable, e.mac = false, [6]byte{}
	e.updated, e.requested = now, now
	c.touch(e)
}

// Expire removes entries learned longer than Reachable ago and incomplete
// ones older than Incomplete. It returns how many queued frames it
// discarded with them, for the caller's drop counters.
func (c *Cache) Expire(now int64) (dropped int) {
	c.seen(now)
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.lru.next; e != &c.lru; {
		next := e.next
		limit := c.incomplete
		if e.reachable {
			limit = c.reachable
		}
		if now-e.updated >= limit {
			dropped += len(e.pending)
			c.unlink(e)
			c.expired.Add(1)
		}
		e = next
	}
	c.framesDropped.Add(uint64(dropped))
	return dropped
}

// Entries returns every entry, sorted by address. Ages are measured from the
// latest time the cache was given.
func (c *Cache) Entries() []Entry {
	now := c.lastNow.Load()
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Entry, 0, len(c.entries))
	for e := c.lru.next; e != &c.lru; e = e.next {
		st := "incomplete"
		if e.reachable {
			st = "reachable"
			if now-e.updated >= c.reachable {
				st = "stale"
			}
		}
		out = append(out, Entry{IP: e.ip, MAC: e.mac, State: st, Age: time.Duration(now - e.updated), Pending: len(e.pending)})
	}
	slices.SortFunc(out, func(a, b Entry) int { return a.IP.Compare(b.IP) })
	return out
}

// Len returns the number of entries.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	return Stats{Entries: c.Len(), Evicted: c.evicted.Load(), Expired: c.expired.Load(), FramesDropped: c.framesDropped.Load()}
}

// add creates the entry of ip, evicting the oldest entry first if the
// cache is full. c.mu must be held.
func (c *Cache) add(ip netip.Addr) *entry {
	if len(c.entries) >= c.cfg.Max {
		old := c.lru.next
		c.framesDropped.Add(uint64(len(old.pending)))
		c.unlink(old)
		c.evicted.Add(1)
	}
	e := &entry{ip: ip, prev: c.lru.prev, next: &c.lru}
	c.lru.prev.next = e
	c.lru.prev = e
	c.entries[ip] = e
	return e
}

// touch moves e to the young end of the list. c.mu must be held.
func (c *Cache) touch(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = c.lru.prev, &c.lru
	c.lru.prev.next = e
	c.lru.prev = e
}

func (c *Cache) unlink(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	e.pending = nil
	delete(c.entries, e.ip)
}

// seen remembers the latest now, which Entries measures ages from.
func (c *Cache) seen(now int64) {
	for {
		last := c.lastNow.Load()
		if now <= last || c.lastNow.CompareAndSwap(last, now) {
			return
		}
	}
}
