// Package memport is an in-memory port.Port pair: what one end sends the
// other receives, in order. Pipeline unit tests use it instead of root and a
// kernel.
package memport

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spklab/spklab/dataplane/port"
)

// QueueLen is how many frames one direction holds before Send drops (like a
// full NIC ring), so a test that never receives cannot grow memory forever.
const QueueLen = 1024

// DefaultMTU is the MTU Pair gives both ends.
const DefaultMTU = 1500

// Port is one end of an in-memory link.
type Port struct {
	name string
	mac  [6]byte
	mtu  int

	in   chan []byte // frames for this end's Recv
	peer *Port

	closeOnce sync.Once
	closed    chan struct{}

	rxPackets, rxBytes, rxTrunc atomic.Uint64
	txPackets, txBytes, txDrops atomic.Uint64
}

var _ port.Port = (*Port)(nil)

// Pair returns two connected ports named a and b. Each gets a locally
// administered unicast MAC derived from its name, so tests are repeatable.
func Pair(a, b string) (*Port, *Port) {
	pa, pb := newPort(a), newPort(b)
	pa.peer, pb.peer = pb, pa
	return pa, pb
}

func newPort(name string) *Port {
	sum := sha256.Sum256([]byte(name))
	var mac [6]byte
	copy(mac[:], sum[:6])
	mac[0] = mac[0]&^0x01 | 0x02 // unicast, locally administered
	return &Port{
		name:   name,
		mac:    mac,
		mtu:    DefaultMTU,
		in:     make(chan []byte, QueueLen),
		closed: make(chan struct{}),
	}
}

// Name returns the name given to Pair.
func (p *Port) Name() string { return p.name }

// MAC returns the port's MAC address.
func (p *Port) MAC() [6]byte { return p.mac }

// MTU returns DefaultMTU unless SetMTU changed it.
func (p *Port) MTU() int { return p.mtu }

// SetMAC changes the MAC; call it before the port is shared between goroutines.
func (p *Port) SetMAC(mac [6]byte) { p.mac = mac }

// SetMTU changes the MTU; call it before the port is shared between goroutines.
func (p *Port) SetMTU(mtu int) { p.mtu = mtu }

// Recv implements port.Port.
func (p *Port) Recv(bufs []port.Buf, timeout time.Duration) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	select {
	case <-p.closed:
		return 0, port.ErrClosed
	default:
	}
	var first []byte
	select {
	case first = <-p.in:
	default:
		if timeout == 0 {
			return 0, nil
		}
		var expired <-chan time.Time
		if timeout > 0 {
			t := time.NewTimer(timeout)
			defer t.Stop()
			expired = t.C
		}
		select {
		case first = <-p.in:
		case <-expired:
			return 0, nil
		case <-p.closed:
			return 0, port.ErrClosed
		}
	}
	n := 0
	if p.fill(&bufs[n], first) {
		n++
	}
	for n < len(bufs) {
		select {
		case f := <-p.in:
			if p.fill(&bufs[n], f) {
				n++
			}
		default:
			return n, nil
		}
	}
	return n, nil
}

// fill copies f into b after the headroom; a frame that does not fit is
// counted and dropped, as a NIC drops frames longer than its buffers.
func (p *Port) fill(b *port.Buf, f []byte) bool {
	b.B = b.B[:cap(b.B)]
	if len(f) > len(b.B)-port.Headroom {
		p.rxTrunc.Add(1)
		return false
	}
	b.Start = port.Headroom
	b.End = port.Headroom + copy(b.B[port.Headroom:], f)
	p.rxPackets.Add(1)
	p.rxBytes.Add(uint64(len(f)))
	return true
}

// Send copies each frame to the peer's queue. Frames sent while the peer is
// closed or its queue is full are dropped and counted, like a wire would.
func (p *Port) Send(bufs []port.Buf) (int, error) {
	select {
	case <-p.closed:
		return 0, port.ErrClosed
	default:
	}
	for i := range bufs {
		b := &bufs[i]
		if err := b.CheckBounds(); err != nil {
			return i, fmt.Errorf("memport %s: send frame %d: %w", p.name, i, err)
		}
		f := append([]byte(nil), b.B[b.Start:b.End]...)
		select {
		case <-p.peer.closed:
			p.txDrops.Add(1)
			continue
		default:
		}
		select {
		case p.peer.in <- f:
			p.txPackets.Add(1)
			p.txBytes.Add(uint64(len(f)))
		default:
			p.txDrops.Add(1)
		}
	}
	return len(bufs), nil
}

// Stats implements port.Port.
func (p *Port) Stats() port.Stats {
	return port.Stats{
		RxPackets:   p.rxPackets.Load(),
		RxBytes:     p.rxBytes.Load(),
		RxTruncated: p.rxTrunc.Load(),
		TxPackets:   p.txPackets.Load(),
		TxBytes:     p.txBytes.Load(),
		TxDrops:     p.txDrops.Load(),
	}
}

// Close unblocks a waiting Recv; later Recv and Send return port.ErrClosed.
// It is safe to call more than once.
func (p *Port) Close() error {
	p.closeOnce.Do(func() { close(p.closed) })
	return nil
}
