//go:build linux

package afpacket_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/spklab/spklab/dataplane/packet"
	"github.com/spklab/spklab/dataplane/port"
	"github.com/spklab/spklab/dataplane/port/afpacket"
	"github.com/spklab/spklab/internal/testenv"
)

// TestKernelTCPWithOffloads sends 2 MiB over a real kernel TCP connection
// between two namespaces joined by a veth with TSO, GSO and checksum offload
// on; the port on the receiving end must see only wire-size frames with
// valid checksums that reassemble, by sequence number, into the bytes sent.
func TestKernelTCPWithOffloads(t *testing.T) {
	for _, fam := range []struct {
		name     string
		snd, rcv netip.Prefix
	}{
		{"ipv4", netip.MustParsePrefix("10.77.0.1/24"), netip.MustParsePrefix("10.77.0.2/24")},
		{"ipv6", netip.MustParsePrefix("2001:db8:77::1/64"), netip.MustParsePrefix("2001:db8:77::2/64")},
	} {
		t.Run(fam.name, func(t *testing.T) { kernelTCP(t, fam.snd, fam.rcv) })
	}
}

func kernelTCP(t *testing.T, sndAddr, rcvAddr netip.Prefix) {
	testenv.RequireRoot(t)
	ethtool := testenv.RequireTool(t, "ethtool", "ethtool")
	const mtu = 1500
	snd := testenv.NewNetns(t, "snd")
	rcv := testenv.NewNetns(t, "rcv")
	err := snd.Do(func() error {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "snd0", MTU: mtu}, PeerName: "rcv0", PeerNamespace: netlink.NsFd(rcv.Handle)}
		if err := netlink.LinkAdd(veth); err != nil {
			return fmt.Errorf("adding veth: %w", err)
		}
		return setupLink("snd0", sndAddr)
	})
	if err == nil {
		err = rcv.Do(func() error { return setupLink("rcv0", rcvAddr) })
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []struct{ ns, dev string }{{snd.Name, "snd0"}, {rcv.Name, "rcv0"}} {
		out, err := exec.Command("ip", "netns", "exec", ns.ns, ethtool, "-K", ns.dev, "tx", "on", "rx", "on", "tso", "on", "gso", "on", "gro", "on").CombinedOutput()
		if err != nil {
			t.Fatalf("ethtool -K %s: %v: %s", ns.dev, err, out)
		}
		out, err = exec.Command("ip", "netns", "exec", ns.ns, ethtool, "-k", ns.dev).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "tcp-segmentation-offload: on") {
			t.Fatalf("ethtool -k %s: TSO not on (%v): %s", ns.dev, err, out)
		}
	}

	var p *afpacket.Port
	var ln net.Listener
	if err := rcv.Do(func() (err error) {
		if p, err = afpacket.Open("rcv0", afpacket.DefaultOptions()); err != nil {
			return err
		}
		ln, err = net.Listen("tcp", netip.AddrPortFrom(rcvAddr.Addr(), 5001).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	t.Cleanup(func() { ln.Close() })

	frames := make(chan [][]byte, 1)
	stop := make(chan struct{})
	go func() { frames <- collect(p, stop) }()

	sent := make([]byte, 2<<20)
	if _, err := rand.Read(sent); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- b
	}()
	var conn net.Conn
	if err := snd.Do(func() (err error) {
		conn, err = net.DialTimeout("tcp", netip.AddrPortFrom(rcvAddr.Addr(), 5001).String(), 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := conn.Write(sent); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if b := <-got; !bytes.Equal(b, sent) {
		t.Fatalf("the kernel receiver got %d bytes, not the %d sent", len(b), len(sent))
	}
	time.Sleep(50 * time.Millisecond) // let the last frames reach the ring
	close(stop)
	all := <-frames

	stream, isn, seen := []byte(nil), uint32(0), false
	have := make([]bool, len(sent))
	var pp packet.Parsed
	for i, f := range all {
		if len(f) > mtu+14+4 {
			t.Fatalf("frame %d: %d bytes, over MTU %d + Ethernet", i, len(f), mtu)
		}
		if err := pp.Parse(f); err != nil || pp.Proto != packet.ProtoTCP || pp.Src != sndAddr.Addr() {
			continue
		}
		if pp.Src.Is4() && !packet.IPv4HeaderChecksumOK(f, &pp) {
			t.Fatalf("frame %d: bad IPv4 header checksum", i)
		}
		seg := f[pp.L4:pp.L4End]
		if packet.Checksum(seg, packet.PseudoHeaderSum(pp.Src, pp.Dst, packet.ProtoTCP, len(seg))) != 0 {
			t.Fatalf("frame %d (%d bytes, flags %#x): bad TCP checksum", i, len(f), pp.TCPFlags)
		}
		if pp.TCPFlags&packet.TCPSyn != 0 {
			isn, seen = pp.TCPSeq, true
			stream = make([]byte, len(sent))
			continue
		}
		if !seen {
			t.Fatal("data before the SYN")
		}
		payload := seg[int(seg[12]>>4)*4:]
		if len(payload) == 0 {
			continue // ACK, FIN
		}
		off := int(pp.TCPSeq - isn - 1)
		if off < 0 || off+len(payload) > len(sent) {
			t.Fatalf("frame %d: payload [%d:+%d] outside the stream", i, off, len(payload))
		}
		copy(stream[off:], payload)
		for j := off; j < off+len(payload); j++ {
			have[j] = true
		}
	}
	for j, ok := range have {
		if !ok {
			t.Fatalf("byte %d of the stream never reached the port (%d frames seen)", j, len(all))
		}
	}
	if !bytes.Equal(stream, sent) {
		t.Fatal("the stream the port saw differs from the bytes sent")
	}
	s, o := p.Stats(), p.OffloadStats()
	t.Logf("%d frames, stats %+v, offload %+v", len(all), s, o)
	if o.FramesSegmented == 0 || o.Segments <= o.FramesSegmented {
		t.Fatalf("no GSO super-frame was segmented (%+v): offloads not exercised", o)
	}
	if o.ChecksumsCompleted == 0 {
		t.Fatalf("no CHECKSUM_PARTIAL frame was completed (%+v)", o)
	}
	if s.RxTruncated != 0 || s.RxErrors != 0 || s.RxDrops != 0 {
		t.Fatalf("frames lost: %+v", s)
	}
}

func setupLink(name string, addr netip.Prefix) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: addr.Addr().AsSlice(), Mask: net.CIDRMask(addr.Bits(), addr.Addr().BitLen())}}
	if addr.Addr().Is6() {
		a.Flags = 0x02 // IFA_F_NODAD: usable at once
	}
	if err := netlink.AddrAdd(l, a); err != nil {
		return fmt.Errorf("address %s on %s: %w", addr, name, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("up %s: %w", name, err)
	}
	return nil
}

// collect copies every frame p receives until stop is closed and the port
// has been quiet for a moment.
func collect(p *afpacket.Port, stop <-chan struct{}) [][]byte {
	bufs := port.NewBufs(16, port.DefaultMaxFrame)
	var out [][]byte
	for {
		n, err := p.Recv(bufs, 20*time.Millisecond)
		if err != nil {
			return out
		}
		for i := 0; i < n; i++ {
			out = append(out, bytes.Clone(bufs[i].Frame()))
		}
		if n == 0 {
			select {
			case <-stop:
				return out
			default:
			}
		}
	}
}

// TestSendVNetHdrHeadroom checks Send's virtio_net_hdr handling: a frame
// with no headroom still goes out (copied), and a frame with headroom goes
// out byte-exact with the headroom bytes it borrowed put back.
func TestSendVNetHdrHeadroom(t *testing.T) {
	l := newLab(t, 1500)
	p := l.open(t, "p0", afpacket.DefaultOptions())
	peer := l.raw(t, "p1")
	for i, start := range []int{0, port.Headroom} {
		frame := testFrame(t, portMAC, peerMAC, 0, 0, i, 100)
		b := port.Buf{B: make([]byte, start+len(frame)), Start: start, End: start + len(frame)}
		for j := range start {
			b.B[j] = 0xaa
		}
		copy(b.B[start:], frame)
		if n, err := p.Send([]port.Buf{b}); n != 1 || err != nil {
			t.Fatalf("start %d: Send = %d, %v", start, n, err)
		}
		if got := peer.recvTest(t, 2*time.Second); !bytes.Equal(got, frame) {
			t.Fatalf("start %d: peer got %x, want %x", start, got, frame)
		}
		if bytes.Count(b.B[:start], []byte{0xaa}) != start {
			t.Fatalf("start %d: headroom not restored", start)
		}
	}
}
