//go:build linux

// Package tap is the data plane's exception path to its own kernel: a TAP
// device (IFF_TAP|IFF_NO_PI) carrying the self IPs. Frames the data plane
// does not handle itself (BGP, ICMP, ARP for the kernel) are sent into the
// kernel with Send; what the kernel transmits on the TAP comes out of Recv
// and goes on the wire. A TAP never carries VLAN tags: one TAP per VLAN.
package tap

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/spklab/spklab/dataplane/port"
)

// Port is a TAP device opened by this process. Recv is meant for one
// goroutine at a time; Send, Stats and Close may be called from any.
type Port struct {
	name string
	mac  [6]byte
	mtu  int
	// f wraps the non-blocking /dev/net/tun descriptor in the runtime
	// poller, which gives Recv its deadline and lets Close wake it.
	f   *os.File
	raw interface {
		Read(func(uintptr) bool) error
	}
	closed atomic.Bool

	rxPackets, rxBytes, rxTrunc, rxErrors atomic.Uint64
	txPackets, txBytes, txErrors          atomic.Uint64
}

var _ port.Port = (*Port)(nil)

// Open creates the TAP device name (or attaches to an existing one with the
// same flags) in the calling thread's network namespace, sets its MAC, so
// the kernel's ARP and ND answer with the data plane's MAC, and its MTU,
// and brings it up. Closing the Port removes a device Open created.
func Open(name string, mac [6]byte, mtu int) (*Port, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("tap %s: opening /dev/net/tun: %w", name, err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tap %s: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tap %s: TUNSETIFF: %w", name, err)
	}
	p := &Port{name: ifr.Name(), mac: mac, mtu: mtu, f: os.NewFile(uintptr(fd), "/dev/net/tun")}
	if err := p.configure(); err != nil {
		p.f.Close()
		return nil, fmt.Errorf("tap %s: %w", p.name, err)
	}
	rc, err := p.f.SyscallConn()
	if err != nil {
		p.f.Close()
		return nil, fmt.Errorf("tap %s: %w", p.name, err)
	}
	p.raw = rc
	return p, nil
}

func (p *Port) configure() error {
	link, err := netlink.LinkByName(p.name)
	if err != nil {
		return fmt.Errorf("finding the device: %w", err)
	}
	if err := netlink.LinkSetHardwareAddr(link, net.HardwareAddr(p.mac[:])); err != nil {
		return fmt.Errorf("setting MAC %x: %w", p.mac, err)
	}
	if err := netlink.LinkSetMTU(link, p.mtu); err != nil {
		return fmt.Errorf("setting MTU %d: %w", p.mtu, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bringing up: %w", err)
	}
	return nil
}

// Name returns the device name (as the kernel chose it, if name had %d).
func (p *Port) Name() string { return p.name }

// MAC returns the MAC given to Open.
func (p *Port) MAC() [6]byte { return p.mac }

// MTU returns the MTU given to Open.
func (p *Port) MTU() int { return p.mtu }

// Recv implements port.Port: each frame the kernel transmitted on the TAP.
func (p *Port) Recv(bufs []port.Buf, timeout time.Duration) (int, error) {
	if p.closed.Load() {
		return 0, port.ErrClosed
	}
	if len(bufs) == 0 {
		return 0, nil
	}
	var deadline time.Time // zero: no deadline
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	if err := p.f.SetReadDeadline(deadline); err != nil {
		return 0, p.wrapErr("setting read deadline", err)
	}
	n := 0
	var rerr error
	err := p.raw.Read(func(fd uintptr) bool {
		n, rerr = p.drain(int(fd), bufs)
		// Returning false asks the poller to wait for readability; with a
		// zero timeout there is nothing to wait for.
		return n > 0 || rerr != nil || timeout == 0
	})
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 0, nil
	case err != nil:
		return 0, p.wrapErr("receive", err)
	case n == 0 && rerr != nil:
		return 0, p.wrapErr("receive", rerr)
	}
	return n, nil
}

// drain reads frames until the batch is full or the device has no more.
func (p *Port) drain(fd int, bufs []port.Buf) (int, error) {
	n := 0
	for n < len(bufs) {
		b := &bufs[n]
		b.B = b.B[:cap(b.B)]
		room := b.B[port.Headroom:]
		m, err := unix.Read(fd, room)
		if errors.Is(err, unix.EAGAIN) {
			return n, nil
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			p.rxErrors.Add(1)
			return n, err
		}
		// A read that fills the room may have cut the frame: the kernel does
		// not say, so such a frame is dropped like one that is too long.
		if m >= len(room) {
			p.rxTrunc.Add(1)
			continue
		}
		b.Start, b.End = port.Headroom, port.Headroom+m
		p.rxPackets.Add(1)
		p.rxBytes.Add(uint64(m))
		n++
	}
	return n, nil
}

// Send implements port.Port: each frame is handed to the kernel as if it
// arrived on the TAP.
func (p *Port) Send(bufs []port.Buf) (int, error) {
	if p.closed.Load() {
		return 0, port.ErrClosed
	}
	for i := range bufs {
		b := &bufs[i]
		if err := b.CheckBounds(); err != nil {
			p.txErrors.Add(1)
			return i, fmt.Errorf("tap %s: send frame %d: %w", p.name, i, err)
		}
		if _, err := p.f.Write(b.B[b.Start:b.End]); err != nil {
			p.txErrors.Add(1)
			return i, p.wrapErr(fmt.Sprintf("send frame %d (%d bytes)", i, b.End-b.Start), err)
		}
		p.txPackets.Add(1)
		p.txBytes.Add(uint64(b.End - b.Start))
	}
	return len(bufs), nil
}

// wrapErr turns the poller's "file closed" into port.ErrClosed.
func (p *Port) wrapErr(what string, err error) error {
	if errors.Is(err, fs.ErrClosed) || p.closed.Load() {
		return port.ErrClosed
	}
	return fmt.Errorf("tap %s: %s: %w", p.name, what, err)
}

// Stats implements port.Port.
func (p *Port) Stats() port.Stats {
	return port.Stats{
		RxPackets:   p.rxPackets.Load(),
		RxBytes:     p.rxBytes.Load(),
		RxTruncated: p.rxTrunc.Load(),
		RxErrors:    p.rxErrors.Load(),
		TxPackets:   p.txPackets.Load(),
		TxBytes:     p.txBytes.Load(),
		TxErrors:    p.txErrors.Load(),
	}
}

// Close unblocks a waiting Recv (it returns port.ErrClosed) and closes the
// device descriptor; the kernel deletes a TAP that is not persistent.
func (p *Port) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return nil
	}
	if err := p.f.Close(); err != nil {
		return fmt.Errorf("tap %s: close: %w", p.name, err)
	}
	return nil
}

// AddAddrs puts prefixes (self IPs with their prefix length) on the device
// name. IPv6 addresses skip duplicate address detection (NODAD), so they are
// usable at once; adding an address that is already there is not an error.
func AddAddrs(name string, prefixes []netip.Prefix) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("adding addresses to %s: %w", name, err)
	}
	for _, pfx := range prefixes {
		if !pfx.IsValid() {
			return fmt.Errorf("adding addresses to %s: invalid prefix %v", name, pfx)
		}
		a := pfx.Addr()
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(pfx.Bits(), a.BitLen())}}
		if a.Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrReplace(link, addr); err != nil {
			return fmt.Errorf("adding %v to %s: %w", pfx, name, err)
		}
	}
	return nil
}
