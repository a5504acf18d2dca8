//go:build linux

// Package afpacket is the default data-plane port: a TPACKET_V3 receive ring
// on an AF_PACKET socket bound to one interface, via the pure-Go
// github.com/gopacket/gopacket/afpacket (the maintained fork of
// google/gopacket; no cgo, TPACKET_V3, and it can put stripped VLAN tags back).
//
// Frames are copied from the ring into the caller's Bufs, so the ring block
// is handed back to the kernel as soon as the batch is read. Transmit writes
// each frame on the same socket.
package afpacket

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tpacket "github.com/gopacket/gopacket/afpacket"
	"golang.org/x/sys/unix"

	"github.com/spklab/spklab/dataplane/packet"
	"github.com/spklab/spklab/dataplane/port"
)

// Options tune the receive ring. Start from DefaultOptions: the zero value
// of Promiscuous is false, while the data plane wants true.
type Options struct {
	// BlockSize is the size of one ring block in bytes; a multiple of the
	// page size and of FrameSize. The largest frame the ring can hold is a
	// little less than one block.
	BlockSize int
	// NumBlocks is how many blocks the ring has (ring = BlockSize*NumBlocks).
	NumBlocks int
	// FrameSize is tp_frame_size; with TPACKET_V3 it only sets the frame
	// count the kernel checks, frames are packed in blocks by their length.
	FrameSize int
	// BlockTimeout is how long the kernel waits before handing over a block
	// that is not full (at least 1ms). It bounds receive latency at low rates.
	BlockTimeout time.Duration
	// Promiscuous puts the interface in promiscuous mode for the socket's
	// lifetime. The TMM answers for VIP and SNAT addresses with its own MAC,
	// but needs promisc for multicast (ND) and frames for other MACs.
	Promiscuous bool
	// FanoutGroup, if not zero, joins the socket to this PACKET_FANOUT group
	// with FanoutType, so several ports on one interface share its frames.
	FanoutGroup uint16
	FanoutType  tpacket.FanoutType
	// QdiscBypass sends straight to the driver (PACKET_QDISC_BYPASS): faster,
	// but frames are dropped instead of queued when the device is busy.
	QdiscBypass bool
	// NoVNetHdr turns off PACKET_VNET_HDR. With it on (the default) the
	// port works on interfaces with checksum offload, TSO and GSO: Recv
	// completes CHECKSUM_PARTIAL checksums and cuts GSO super-frames into
	// wire-size segments, Send puts a zero virtio_net_hdr (no offload) in
	// front of each frame. Off, such frames reach the data plane oversized
	// (dropped as truncated) or with partial checksums.
	NoVNetHdr bool
}

// DefaultOptions returns the options the data plane uses: a 16 MiB ring of
// 256 KiB blocks (a 64 KiB GSO super-frame fits in one), 1ms block
// timeout, promiscuous, virtio_net_hdr on.
func DefaultOptions() Options {
	return Options{
		BlockSize:    256 << 10,
		NumBlocks:    64,
		FrameSize:    2048,
		BlockTimeout: time.Millisecond,
		Promiscuous:  true,
	}
}

// withDefaults fills zero sizes from DefaultOptions; flags are kept as given.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.BlockSize == 0 {
		o.BlockSize = d.BlockSize
	}
	if o.NumBlocks == 0 {
		o.NumBlocks = d.NumBlocks
	}
	if o.FrameSize == 0 {
		o.FrameSize = d.FrameSize
	}
	if o.BlockTimeout == 0 {
		o.BlockTimeout = d.BlockTimeout
	}
	return o
}

// Port is an AF_PACKET port. Recv is meant for one goroutine at a time (calls
// are serialized); Send, Stats and Close may be called from any goroutine.
type Port struct {
	name string
	mac  [6]byte
	mtu  int

	tp   *tpacket.TPacket
	fd   int // the TPacket's socket, for poll and socket options
	wake int // eventfd that Close writes to end a Recv blocked in poll

	// life is held shared by Recv, Send and Stats and exclusively by Close,
	// so the ring is never unmapped under a reader.
	life   sync.RWMutex
	recvMu sync.Mutex
	closed atomic.Bool

	vnet bool // PACKET_VNET_HDR is on

	// Receive-side offload state, only touched under recvMu. seg holds a
	// super-frame whose segments did not all fit in the last batch; its
	// bytes stay valid because the ring is not read again until it is done.
	seg     packet.Segmenter
	segBusy bool
	scratch []byte // a super-frame with its VLAN tag put back

	rxPackets, rxBytes, rxTrunc, rxErrors        atomic.Uint64
	csumDone, gsoFrames, gsoSegments, badOffload atomic.Uint64
	txPackets, txBytes, txDrops, txErrors        atomic.Uint64
	finalRingDrops                               uint64 // ring drops read at Close, under life
}

var _ port.Port = (*Port)(nil)

// Open binds a TPACKET_V3 ring to ifname in the calling thread's network
// namespace. The socket ignores frames this host transmits on the interface
// (PACKET_IGNORE_OUTGOING), so Recv never returns the port's own sends.
func Open(ifname string, opts Options) (*Port, error) {
	opts = opts.withDefaults()
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("afpacket %s: %w", ifname, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("afpacket %s: not an Ethernet interface (hardware address %q)", ifname, ifi.HardwareAddr)
	}
	tp, err := openRing(ifname, opts)
	if err != nil && !opts.NoVNetHdr && strings.Contains(err.Error(), "packet_vnet_hdr_sz") {
		// PACKET_VNET_HDR_SZ came with Linux 6.2: older kernels run
		// without it, which needs offloads off on the lab's interfaces.
		opts.NoVNetHdr = true
		tp, err = openRing(ifname, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("afpacket %s: opening TPACKET_V3 ring: %w", ifname, err)
	}
	p := &Port{name: ifname, mtu: ifi.MTU, tp: tp, wake: -1, vnet: !opts.NoVNetHdr}
	copy(p.mac[:], ifi.HardwareAddr)
	if err := p.setup(opts); err != nil {
		p.tp.Close()
		if p.wake >= 0 {
			unix.Close(p.wake)
		}
		return nil, fmt.Errorf("afpacket %s: %w", ifname, err)
	}
	return p, nil
}

// openRing opens the TPACKET_V3 socket and ring of opts.
func openRing(ifname string, opts Options) (*tpacket.TPacket, error) {
	vnetSize := packet.VNetHdrLen
	if opts.NoVNetHdr {
		vnetSize = 0
	}
	return tpacket.NewTPacket(
		tpacket.OptVNetHdrSize(vnetSize),
		tpacket.OptInterface(ifname),
		tpacket.TPacketVersion3,
		tpacket.OptBlockSize(opts.BlockSize),
		tpacket.OptNumBlocks(opts.NumBlocks),
		tpacket.OptFrameSize(opts.FrameSize),
		tpacket.OptBlockTimeout(opts.BlockTimeout),
		// Reads never wait inside gopacket: Recv polls the socket itself,
		// together with the wake eventfd, with the caller's timeout.
		tpacket.OptPollTimeout(0),
		// The kernel strips the outer 802.1Q/802.1ad tag into the tpacket
		// header on receive; the parser must see it in the frame. With a
		// virtio_net_hdr, Recv puts it back itself: gopacket would copy
		// the frame away from the header in front of it.
		tpacket.OptAddVLANHeader(opts.NoVNetHdr),
	)
}

func (p *Port) setup(opts Options) error {
	fd, err := socketFD(p.tp)
	if err != nil {
		return err
	}
	p.fd = fd
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return fmt.Errorf("setsockopt PACKET_IGNORE_OUTGOING (needs Linux 4.20+): %w", err)
	}
	if opts.QdiscBypass {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
			return fmt.Errorf("setsockopt PACKET_QDISC_BYPASS: %w", err)
		}
	}
	if opts.Promiscuous {
		if err := p.tp.SetPromiscuous(true); err != nil {
			return fmt.Errorf("promiscuous mode: %w", err)
		}
	}
	if opts.FanoutGroup != 0 {
		if err := p.tp.SetFanout(opts.FanoutType, opts.FanoutGroup); err != nil {
			return fmt.Errorf("fanout group %d: %w", opts.FanoutGroup, err)
		}
	}
	p.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("eventfd: %w", err)
	}
	return nil
}

// socketFD reads the socket descriptor gopacket keeps unexported: Recv needs
// it to poll with a per-call timeout and a wake-up, and to set
// PACKET_IGNORE_OUTGOING. The result is checked to really be an AF_PACKET
// socket, so a gopacket change fails Open loudly instead of misbehaving.
func socketFD(tp *tpacket.TPacket) (int, error) {
	f := reflect.ValueOf(tp).Elem().FieldByName("fd")
	if !f.IsValid() || f.Kind() != reflect.Int {
		return -1, errors.New("gopacket afpacket.TPacket has no int field fd (library changed)")
	}
	fd := int(f.Int())
	domain, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil || domain != unix.AF_PACKET {
		return -1, fmt.Errorf("gopacket afpacket.TPacket fd %d is not an AF_PACKET socket (domain %d, %v)", fd, domain, err)
	}
	return fd, nil
}

// Name returns the interface name.
func (p *Port) Name() string { return p.name }

// MAC returns the interface's MAC address as it was at Open.
func (p *Port) MAC() [6]byte { return p.mac }

// MTU returns the interface's MTU as it was at Open.
func (p *Port) MTU() int { return p.mtu }

// Recv implements port.Port. Frames longer than a Buf's room, or cut short by
// the ring, are dropped and counted in RxTruncated. With the virtio_net_hdr
// on, a GSO super-frame fills one Buf per segment; segments that do not fit
// in bufs come first in the next call.
func (p *Port) Recv(bufs []port.Buf, timeout time.Duration) (int, error) {
	p.life.RLock()
	defer p.life.RUnlock()
	if p.closed.Load() {
		return 0, port.ErrClosed
	}
	if len(bufs) == 0 {
		return 0, nil
	}
	p.recvMu.Lock()
	defer p.recvMu.Unlock()
	deadline := time.Now().Add(timeout)
	for {
		n, err := p.drain(bufs)
		if n > 0 || err != nil {
			return n, err
		}
		if p.closed.Load() {
			return 0, port.ErrClosed
		}
		wait := -1 // milliseconds; negative waits without limit
		if timeout >= 0 {
			left := time.Until(deadline)
			if left <= 0 {
				return 0, nil
			}
			wait = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		if err := p.poll(wait); err != nil {
			return 0, err
		}
	}
}

// drain copies frames that are already in the ring, without waiting.
func (p *Port) drain(bufs []port.Buf) (int, error) {
	n := 0
	for n < len(bufs) {
		if p.segBusy {
			n += p.fillSegments(bufs[n:])
			continue
		}
		data, ci, err := p.tp.ZeroCopyReadPacketData()
		if errors.Is(err, tpacket.ErrTimeout) {
			break
		}
		if err != nil {
			p.rxErrors.Add(1)
			if errors.Is(err, tpacket.ErrPoll) {
				err = p.socketError()
			}
			if n > 0 {
				return n, nil // hand over what we have; the error comes back next time
			}
			return 0, fmt.Errorf("afpacket %s: receive: %w", p.name, err)
		}
		b := &bufs[n]
		b.B = b.B[:cap(b.B)]
		if p.vnet {
			if p.receiveVNet(data, ci, b) {
				n++
			}
			continue
		}
		if ci.CaptureLength < ci.Length || len(data) > len(b.B)-port.Headroom {
			p.rxTrunc.Add(1)
			continue
		}
		b.Start = port.Headroom
		b.End = port.Headroom + copy(b.B[port.Headroom:], data)
		p.rxPackets.Add(1)
		p.rxBytes.Add(uint64(len(data)))
		n++
	}
	return n, nil
}

// poll waits until the ring may have a block, Close wakes it, or ms pass.
func (p *Port) poll(ms int) error {
	fds := []unix.PollFd{
		{Fd: int32(p.fd), Events: unix.POLLIN},
		{Fd: int32(p.wake), Events: unix.POLLIN},
	}
	_, err := unix.Poll(fds, ms)
	if err != nil && !errors.Is(err, unix.EINTR) {
		return fmt.Errorf("afpacket %s: poll: %w", p.name, err)
	}
	if fds[0].Revents&(unix.POLLERR|unix.POLLNVAL) != 0 {
		p.rxErrors.Add(1)
		return fmt.Errorf("afpacket %s: socket: %w", p.name, p.socketError())
	}
	return nil
}

// socketError reads (and so clears) the pending socket error, e.g. ENETDOWN
// when the interface went down, so the next poll does not spin on it.
func (p *Port) socketError() error {
	e, err := unix.GetsockoptInt(p.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return fmt.Errorf("reading SO_ERROR: %w", err)
	}
	if e == 0 {
		return errors.New("poll error without a socket error")
	}
	return unix.Errno(e)
}

// Send implements port.Port. A frame the device has no room for (ENOBUFS)
// is dropped and counted, like a full NIC queue; other errors stop the batch.
func (p *Port) Send(bufs []port.Buf) (int, error) {
	p.life.RLock()
	defer p.life.RUnlock()
	if p.closed.Load() {
		return 0, port.ErrClosed
	}
	for i := range bufs {
		b := &bufs[i]
		if err := b.CheckBounds(); err != nil {
			p.txErrors.Add(1)
			return i, fmt.Errorf("afpacket %s: send frame %d: %w", p.name, i, err)
		}
		err := p.write(b)
		switch {
		case err == nil:
			p.txPackets.Add(1)
			p.txBytes.Add(uint64(b.End - b.Start))
		case errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN):
			p.txDrops.Add(1)
		default:
			p.txErrors.Add(1)
			return i, fmt.Errorf("afpacket %s: send frame %d (%d bytes): %w", p.name, i, b.End-b.Start, err)
		}
	}
	return len(bufs), nil
}

// Stats implements port.Port. RxDrops are the kernel's tpacket ring drops.
func (p *Port) Stats() port.Stats {
	p.life.RLock()
	defer p.life.RUnlock()
	s := port.Stats{
		RxPackets:   p.rxPackets.Load(),
		RxBytes:     p.rxBytes.Load(),
		RxTruncated: p.rxTrunc.Load(),
		RxErrors:    p.rxErrors.Load(),
		TxPackets:   p.txPackets.Load(),
		TxBytes:     p.txBytes.Load(),
		TxDrops:     p.txDrops.Load(),
		TxErrors:    p.txErrors.Load(),
		RxDrops:     p.finalRingDrops,
	}
	s.RxErrors += p.badOffload.Load()
	if !p.closed.Load() {
		s.RxDrops = p.ringDrops()
	}
	return s
}

// ringDrops returns the kernel's drop count since Open. gopacket adds up the
// counters, which the kernel resets on every read.
func (p *Port) ringDrops() uint64 {
	_, v3, err := p.tp.SocketStats()
	if err != nil {
		return 0
	}
	return uint64(v3.Drops())
}

// Close ends a blocked Recv (it returns port.ErrClosed), waits for calls in
// progress, then releases the ring and socket. It is safe to call twice.
func (p *Port) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return nil
	}
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0} // eventfd takes a native-endian uint64
	if _, err := unix.Write(p.wake, one); err != nil {
		return fmt.Errorf("afpacket %s: waking receiver: %w", p.name, err)
	}
	p.life.Lock()
	defer p.life.Unlock()
	p.finalRingDrops = p.ringDrops()
	p.tp.Close()
	if err := unix.Close(p.wake); err != nil {
		return fmt.Errorf("afpacket %s: closing eventfd: %w", p.name, err)
	}
	return nil
}
