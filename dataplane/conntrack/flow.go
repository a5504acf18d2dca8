package conntrack

import (
	"sync"
	"sync/atomic"
	"time"
)

// Flow is one connection, reachable from both of its keys.
//
// Orig, Reply and the table's bookkeeping are fixed once the flow is
// inserted: do not modify Orig or Reply. Value belongs to the caller (for
// example the NAT binding); the table never looks at it.
type Flow[V any] struct {
	Orig, Reply Key
	Value       V

	// word packs the state (low byte) and the flow bits (second byte) so
	// State and the early-drop scan read them without the lock. It is
	// written only under mu.
	word     atomic.Uint32
	deadline atomic.Int64

	mu                    sync.Mutex // serializes Track: state transitions and counters
	origPkts, origBytes   uint64
	replyPkts, replyBytes uint64
	created               int64
	established           int64 // this flow's established timeout (the virtual server's idle timeout)
	timeouts              *timeoutTable

	// Guarded by the lock of the shard that holds Orig (the owner shard).
	idx     int32 // position in the owner shard's flow list
	removed bool
}

// timeoutTable holds Timeouts as nanoseconds, indexed by State for TCP.
type timeoutTable struct {
	tcp                  [Close + 1]int64
	udp, udpStream, icmp int64
}

func newTimeoutTable(t Timeouts) timeoutTable {
	var tt timeoutTable
	tt.tcp[None] = int64(t.SynSent)
	tt.tcp[SynSent] = int64(t.SynSent)
	tt.tcp[SynRecv] = int64(t.SynRecv)
	tt.tcp[Established] = int64(t.Established)
	tt.tcp[FinWait] = int64(t.FinWait)
	tt.tcp[CloseWait] = int64(t.CloseWait)
	tt.tcp[LastAck] = int64(t.LastAck)
	tt.tcp[TimeWait] = int64(t.TimeWait)
	tt.tcp[Close] = int64(t.Close)
	tt.udp, tt.udpStream, tt.icmp = int64(t.UDP), int64(t.UDPStream), int64(t.ICMP)
	return tt
}

// udpStreamAfter is how long a replied UDP flow must have lived before it
// gets the longer stream timeout, as in Linux: a DNS query and its answer
// should not hold an entry for two minutes.
const udpStreamAfter = int64(2 * time.Second)

// State returns the flow's current state (None for non-TCP flows).
func (f *Flow[V]) State() State { return State(f.word.Load()) }

// Deadline returns the time (in the caller's clock, nanoseconds) at which
// the flow expires unless another packet refreshes it.
func (f *Flow[V]) Deadline() int64 { return f.deadline.Load() }

// Created returns the time the flow was inserted.
func (f *Flow[V]) Created() int64 { return f.created }

// Replied reports whether a packet was seen in the reply direction.
func (f *Flow[V]) Replied() bool { return f.word.Load()>>8&seenReply != 0 }

// Counters returns packets and bytes seen in each direction.
func (f *Flow[V]) Counters() (origPkts, origBytes, replyPkts, replyBytes uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.origPkts, f.origBytes, f.replyPkts, f.replyBytes
}

// Track accounts a packet of bytes bytes seen in dir, advances the TCP state
// from its flags (ignored for other protocols) and refreshes the deadline
// for the resulting state. It returns the new state.
//
// A RST closes the flow at once (Close, a short timeout); a FIN from each
// side followed by the final ACK leads to TimeWait; a SYN from the original
// side on a flow in TimeWait or Close starts a new connection on the same
// tuple. A segment that does not fit the current state is counted but
// neither changes the state nor extends the deadline.
func (f *Flow[V]) Track(dir Direction, tcpFlags uint8, bytes int, now int64) State {
	f.mu.Lock()
	defer f.mu.Unlock()
	if dir == Original {
		f.origPkts++
		f.origBytes += uint64(bytes)
	} else {
		f.replyPkts++
		f.replyBytes += uint64(bytes)
	}
	w := f.word.Load()
	st, fl := State(w), uint8(w>>8)
	if dir == Reply {
		fl |= seenReply
	}
	switch f.Orig.Proto {
	case ProtoTCP:
		next, nfl, ok := tcpNext(st, fl, dir, tcpFlags)
		if !ok {
			f.word.Store(uint32(st) | uint32(fl)<<8)
			return st
		}
		st, fl = next, nfl
		f.deadline.Store(now + f.tcpTimeout(st))
	case ProtoICMP, ProtoICMPv6:
		f.deadline.Store(now + f.timeouts.icmp)
	default:
		timeout := f.timeouts.udp
		if fl&seenReply != 0 && now-f.created >= udpStreamAfter {
			timeout = f.timeouts.udpStream
		}
		f.deadline.Store(now + timeout)
	}
	f.word.Store(uint32(st) | uint32(fl)<<8)
	return st
}

func (f *Flow[V]) tcpTimeout(st State) int64 {
	if st == Established {
		return f.established
	}
	return f.timeouts.tcp[st]
}

// expiredAt reports whether the flow's deadline has passed at now.
func (f *Flow[V]) expiredAt(now int64) bool { return now >= f.deadline.Load() }

// embryonic reports whether the flow may be dropped early to make room: a
// TCP flow whose handshake has not completed or that is already closing
// (TimeWait, Close), or a flow of another protocol that never saw a reply.
// Established TCP flows and replied flows are never early-dropped.
func (f *Flow[V]) embryonic() bool {
	w := f.word.Load()
	if f.Orig.Proto == ProtoTCP {
		switch State(w) {
		case None, SynSent, SynRecv, TimeWait, Close:
			return true
		}
		return false
	}
	return w>>8&seenReply == 0
}
