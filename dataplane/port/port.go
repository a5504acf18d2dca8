// Package port defines how the emulated TMM moves frames in and out of the
// interfaces it owns. The pipeline only sees Port, so AF_PACKET, TAP and
// in-memory ports are interchangeable (and a DPDK port, when one is built
// behind a dpdk build tag, will be too).
//
// Frames travel in batches of Buf. A Buf keeps Headroom free bytes in front
// of a received frame so encapsulation (VLAN tag, VXLAN, IP-in-IP) can grow
// the frame in place by moving Start back instead of copying it.
package port

import (
	"errors"
	"fmt"
	"time"
)

// Headroom is the number of bytes kept free in front of every received frame.
// 128 covers an outer Ethernet+VLAN+IPv6+UDP+VXLAN header (14+4+40+8+8) with
// room to spare and matches DPDK's RTE_PKTMBUF_HEADROOM.
const Headroom = 128

// DefaultMaxFrame is a frame size that holds a 9000-byte MTU jumbo frame with
// an Ethernet header and two VLAN tags.
const DefaultMaxFrame = 9000 + 14 + 8

// ErrClosed is returned by Recv and Send once the port is closed.
var ErrClosed = errors.New("port closed")

// Buf is one frame in a buffer with headroom: the frame is B[Start:End].
// A port that owns its buffers (DPDK mbufs) may point B into its own memory;
// callers must treat B as valid only until the next Recv on that Buf.
type Buf struct {
	B          []byte
	Start, End int
}

// Frame returns the frame bytes B[Start:End].
func (b *Buf) Frame() []byte { return b.B[b.Start:b.End] }

// Len is the frame length in bytes.
func (b *Buf) Len() int { return b.End - b.Start }

// CheckBounds says whether B[Start:End] is a frame inside B: every port's
// Send refuses one that is not.
func (b *Buf) CheckBounds() error {
	if b.Start < 0 || b.End < b.Start || b.End > len(b.B) {
		return fmt.Errorf("bad bounds [%d:%d] of %d", b.Start, b.End, len(b.B))
	}
	return nil
}

// Set copies frame into the buffer after Headroom, growing B if needed, so
// tests and the exception path can build a Buf from plain bytes.
func (b *Buf) Set(frame []byte) {
	need := Headroom + len(frame)
	if cap(b.B) < need {
		b.B = make([]byte, need)
	}
	b.B = b.B[:cap(b.B)]
	b.Start = Headroom
	b.End = Headroom + copy(b.B[Headroom:], frame)
}

// Prepend grows the frame by n bytes at the front (into the headroom) and
// returns the new leading bytes for the caller to fill.
func (b *Buf) Prepend(n int) ([]byte, error) {
	if n > b.Start {
		return nil, fmt.Errorf("prepend %d bytes: only %d bytes of headroom left", n, b.Start)
	}
	b.Start -= n
	return b.B[b.Start : b.Start+n], nil
}

// Room is the most frame bytes a received frame can have in this buffer.
func (b *Buf) Room() int { return cap(b.B) - Headroom }

// NewBufs allocates n buffers, each with Headroom plus maxFrame bytes, in one
// backing array (fewer allocations, better locality for a batch).
func NewBufs(n, maxFrame int) []Buf {
	size := Headroom + maxFrame
	mem := make([]byte, n*size)
	bufs := make([]Buf, n)
	for i := range bufs {
		bufs[i] = Buf{B: mem[i*size : (i+1)*size : (i+1)*size], Start: Headroom, End: Headroom}
	}
	return bufs
}

// Stats are a port's counters since it was opened.
type Stats struct {
	RxPackets uint64
	RxBytes   uint64
	TxPackets uint64
	TxBytes   uint64
	// RxDrops counts frames the port lost before the data plane saw them
	// (for AF_PACKET the kernel's tpacket ring drops).
	RxDrops uint64
	// RxTruncated counts frames longer than the caller's buffer; they are dropped.
	RxTruncated uint64
	// TxDrops counts frames Send could not hand to the device.
	TxDrops  uint64
	RxErrors uint64
	TxErrors uint64
}

// Port is one interface the data plane owns.
type Port interface {
	Name() string
	MAC() [6]byte
	MTU() int
	// Recv fills up to len(bufs) frames (bufs are caller-owned, each with
	// cap >= Headroom+MaxFrame; Recv sets Start=Headroom and End), blocking
	// until at least one frame arrives, the timeout passes (returns 0, nil),
	// or the port is closed (ErrClosed). A timeout of 0 only polls; a
	// negative timeout waits until a frame arrives or the port is closed.
	Recv(bufs []Buf, timeout time.Duration) (n int, err error)
	// Send transmits frames B[Start:End] in order; returns how many were
	// sent. On error, bufs[n] is the frame that failed.
	Send(bufs []Buf) (n int, err error)
	Stats() Stats
	Close() error
}
