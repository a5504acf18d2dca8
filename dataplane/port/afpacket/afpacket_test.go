//go:build linux

package afpacket_test

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	tpacket "github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/spklab/spklab/dataplane/port"
	"github.com/spklab/spklab/dataplane/port/afpacket"
)

var broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func TestOpenReadsInterface(t *testing.T) {
	l := newLab(t, 1400)
	p := l.open(t, "p0", afpacket.DefaultOptions())
	if mac := p.MAC(); p.Name() != "p0" || p.MTU() != 1400 || !bytes.Equal(mac[:], portMAC) {
		t.Fatalf("name %q mtu %d mac %x; want p0, 1400, %s", p.Name(), p.MTU(), p.MAC(), portMAC)
	}
	err := l.ns.Do(func() error {
		_, err := afpacket.Open("nope0", afpacket.DefaultOptions())
		if err == nil {
			return errors.New("Open of a missing interface succeeded")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRecvByteExactBatches(t *testing.T) {
	l := newLab(t, 1500)
	p := l.open(t, "p0", afpacket.DefaultOptions())
	peer := l.raw(t, "p1")
	sizes := []int{46, 47, 100, 500, 1000, 1499, 1500, 64, 46, 777, 1200, 300}
	var sent [][]byte
	for i, size := range sizes {
		dst := portMAC
		if i%3 == 1 {
			dst = broadcast
		} else if i%3 == 2 {
			dst = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99} // not ours: promisc path
		}
		f := testFrame(t, peerMAC, dst, 0, 0, i, size)
		peer.send(t, f)
		sent = append(sent, f)
	}
	got := recvTestFrames(t, p, len(sent), 5*time.Second)
	if len(got) != len(sent) {
		t.Fatalf("received %d test frames, want %d", len(got), len(sent))
	}
	for i := range sent {
		if !bytes.Equal(got[i], sent[i]) {
			t.Fatalf("frame %d differs:\n got %x\nwant %x", i, got[i], sent[i])
		}
	}
	s := p.Stats()
	if s.RxPackets < uint64(len(sent)) || s.RxDrops != 0 || s.RxTruncated != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestRecvTimeoutAndPoll(t *testing.T) {
	l := newLab(t, 1500)
	p := l.open(t, "p0", afpacket.DefaultOptions())
	bufs := port.NewBufs(4, 2048)
	start := time.Now()
	n, err := p.Recv(bufs, 150*time.Millisecond)
	elapsed := time.Since(start)
	if n != 0 || err != nil {
		t.Fatalf("Recv on a quiet link = %d, %v; want 0, nil", n, err)
	}
	if elapsed < 150*time.Millisecond || elapsed > 2*time.Second {
		t.Fatalf("Recv returned after %v, want about 150ms", elapsed)
	}
	start = time.Now()
	if n, err := p.Recv(bufs, 0); n != 0 || err != nil {
		t.Fatalf("poll Recv = %d, %v", n, err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Fatalf("Recv with timeout 0 took %v", d)
	}
}

func TestRecvWakesForOneFrame(t *testing.T) {
	l := newLab(t, 1500)
	p := l.open(t, "p0", afpacket.DefaultOptions())
	peer := l.raw(t, "p1")
	bufs := port.NewBufs(32, 2048)
	done := make(chan time.Duration, 1)
	var n int
	var rerr error
	go func() {
		start := time.Now()
		n, rerr = p.Recv(bufs, 10*time.Second)
		done <- time.Since(start)
	}()
	time.Sleep(50 * time.Millisecond)
	f := testFrame(t, peerMAC, portMAC, 0, 0, 1, 60)
	peer.send(t, f)
	d := <-done
	// One frame into a batch of 32 must not wait for the batch to fill.
	if rerr != nil || n != 1 || !bytes.Equal(bufs[0].Frame(), f) {
		t.Fatalf("Recv = %d, %v, %x", n, rerr, bufs[0].Frame())
	}
	if d > time.Second {
		t.Fatalf("Recv took %v for one frame", d)
	}
}

func TestCloseUnblocksRecv(t *testing.T) {
	l := newLab(t, 1500)
	p := l.open(t, "p0", afpacket.DefaultOptions())
	errc := make(chan error, 1)
	go func() {
		_, err := p.Recv(port.NewBufs(4, 2048), -1)
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, port.ErrClosed) {
			t.Fatalf("blocked Recv returned %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Recv")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %v", d)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := p.Recv(port.NewBufs(1, 2048), 0); !errors.Is(err, port.ErrClosed) {
		t.Fatalf("Recv after Close = %v", err)
	}
	if _, err := p.Send(port.NewBufs(1, 64)); !errors.Is(err, port.ErrClosed) {
		t.Fatalf("Send after Close = %v", err)
	}
	_ = p.Stats() // must not touch the released ring
}

func TestSendArrivesAndIsNotReceivedBack(t *testing.T) {
	l := newLab(t, 1500)
	p := l.open(t, "p0", afpacket.DefaultOptions())
	peer := l.raw(t, "p1")
	bufs := make([]port.Buf, 5)
	for i := range bufs {
		bufs[i].Set(testFrame(t, portMAC, peerMAC, 0, 0, 100+i, 60+100*i))
	}
	if n, err := p.Send(bufs); n != len(bufs) || err != nil {
		t.Fatalf("Send = %d, %v", n, err)
	}
	for i := range bufs {
		got := peer.recvTest(t, 2*time.Second)
		if !bytes.Equal(got, bufs[i].Frame()) {
			t.Fatalf("peer frame %d:\n got %x\nwant %x", i, got, bufs[i].Frame())
		}
	}
	// A socket never gets its own sends; what PACKET_IGNORE_OUTGOING adds is
	// that frames others transmit on p0 (another socket, the kernel) are not
	// mistaken for received ones either.
	other := l.raw(t, "p0")
	out := testFrame(t, portMAC, peerMAC, 0, 0, 200, 90)
	other.send(t, out)
	if got := peer.recvTest(t, 2*time.Second); !bytes.Equal(got, out) {
		t.Fatalf("frame from another socket on p0 did not reach the peer: %x", got)
	}
	if own := recvTestFrames(t, p, 1, 300*time.Millisecond); len(own) != 0 {
		t.Fatalf("port received %d outgoing frames, first %x", len(own), own[0])
	}
	// The socket still receives: the silence above was not a dead port.
	f := testFrame(t, peerMAC, portMAC, 0, 0, 999, 80)
	peer.send(t, f)
	if got := recvTestFrames(t, p, 1, 2*time.Second); len(got) != 1 || !bytes.Equal(got[0], f) {
		t.Fatalf("after own sends, peer frame not received: %x", got)
	}
	if s := p.Stats(); s.TxPackets != 5 || s.TxErrors != 0 {
		t.Fatalf("stats %+v", s)
	}
	bad := []port.Buf{{B: make([]byte, 10), Start: 2, End: 11}}
	if n, err := p.Send(bad); n != 0 || err == nil {
		t.Fatalf("Send with bad bounds = %d, %v", n, err)
	}
}

// TestVLANTagPutBack proves the kernel strips the tag (a bare gopacket socket
// sees the frame untagged, VLAN only out of band) and that Recv puts it back.
func TestVLANTagPutBack(t *testing.T) {
	l := newLab(t, 1500)
	p := l.open(t, "p0", afpacket.DefaultOptions())
	var bare *tpacket.TPacket
	if err := l.ns.Do(func() (err error) {
		bare, err = tpacket.NewTPacket(tpacket.OptInterface("p0"), tpacket.OptPollTimeout(100*time.Millisecond), tpacket.OptBlockTimeout(time.Millisecond))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	peer := l.raw(t, "p1")

	tagged := testFrame(t, peerMAC, portMAC, 100, 5, 7, 200)
	untagged := testFrame(t, peerMAC, portMAC, 0, 0, 8, 200)
	peer.send(t, tagged)
	peer.send(t, untagged)

	got := recvTestFrames(t, p, 2, 5*time.Second)
	if len(got) != 2 {
		t.Fatalf("received %d frames, want 2", len(got))
	}
	if !bytes.Equal(got[0], tagged) {
		t.Fatalf("tagged frame came back as\n %x\nwant\n %x", got[0], tagged)
	}
	if !bytes.Equal(got[1], untagged) {
		t.Fatalf("untagged frame came back as\n %x\nwant\n %x", got[1], untagged)
	}
	pkt := gopacket.NewPacket(got[0], layers.LayerTypeEthernet, gopacket.Default)
	q, ok := pkt.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q)
	if !ok || q.VLANIdentifier != 100 || q.Priority != 5 {
		t.Fatalf("parsed Dot1Q = %+v", q)
	}

	// The same frame through a socket that does not put the tag back.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		data, ci, err := bare.ReadPacketData()
		if errors.Is(err, tpacket.ErrTimeout) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if !isTestFrame(data) || len(data) != len(tagged)-4 {
			continue
		}
		if layers.EthernetType(uint16(data[12])<<8|uint16(data[13])) != testEtherType {
			t.Fatalf("kernel did not strip the tag: %x", data[:18])
		}
		var vid = -1
		for _, a := range ci.AncillaryData {
			if v, ok := a.(tpacket.AncillaryVLAN); ok {
				vid = v.VLAN
			}
		}
		if vid != 100 {
			t.Fatalf("stripped frame carries VLAN %d out of band, want 100", vid)
		}
		return
	}
	t.Fatal("bare socket never saw the stripped tagged frame")
}

// TestTaggedSendToTaggedRecv: a tagged frame sent by one port arrives tagged
// at a port on the other end (priority and VLAN intact).
func TestTaggedSendToTaggedRecv(t *testing.T) {
	l := newLab(t, 1500)
	a := l.open(t, "p0", afpacket.DefaultOptions())
	b := l.open(t, "p1", afpacket.DefaultOptions())
	bufs := make([]port.Buf, 3)
	bufs[0].Set(testFrame(t, portMAC, peerMAC, 4094, 7, 1, 100))
	bufs[1].Set(testFrame(t, portMAC, peerMAC, 1, 0, 2, 1496))
	bufs[2].Set(testFrame(t, portMAC, broadcast, 0, 0, 3, 60))
	if n, err := a.Send(bufs); n != 3 || err != nil {
		t.Fatalf("Send = %d, %v", n, err)
	}
	got := recvTestFrames(t, b, 3, 5*time.Second)
	if len(got) != 3 {
		t.Fatalf("received %d, want 3", len(got))
	}
	for i := range got {
		if !bytes.Equal(got[i], bufs[i].Frame()) {
			t.Fatalf("frame %d:\n got %x\nwant %x", i, got[i], bufs[i].Frame())
		}
	}
}

func TestPromiscuousFollowsOptionsAndClose(t *testing.T) {
	l := newLab(t, 1500)
	promisc := func() int {
		var n int
		if err := l.ns.Do(func() error {
			link, err := netlink.LinkByName("p0")
			if err != nil {
				return err
			}
			n = link.Attrs().Promisc
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := promisc(); n != 0 {
		t.Fatalf("promiscuity %d before Open", n)
	}
	p := l.open(t, "p0", afpacket.DefaultOptions())
	if n := promisc(); n != 1 {
		t.Fatalf("promiscuity %d with Promiscuous, want 1", n)
	}
	p.Close()
	if n := promisc(); n != 0 {
		t.Fatalf("promiscuity %d after Close, want 0", n)
	}
	opts := afpacket.DefaultOptions()
	opts.Promiscuous = false
	l.open(t, "p0", opts)
	if n := promisc(); n != 0 {
		t.Fatalf("promiscuity %d without Promiscuous, want 0", n)
	}
}

// TestKernelARP: the kernel on p1 resolves an address through ARP; the port
// sees the request and its reply lands in the kernel's neighbour table.
func TestKernelARP(t *testing.T) {
	l := newLab(t, 1500)
	p := l.open(t, "p0", afpacket.DefaultOptions())
	tmmIP := netip.MustParseAddr("10.99.1.1")
	var p1 netlink.Link
	err := l.ns.Do(func() (err error) {
		p1, err = netlink.LinkByName("p1")
		if err != nil {
			return err
		}
		return netlink.AddrAdd(p1, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(10, 99, 1, 2), Mask: net.CIDRMask(24, 32)}})
	})
	if err != nil {
		t.Fatal(err)
	}
	// A UDP datagram to the TMM address makes the kernel ARP for it.
	err = l.ns.Do(func() error {
		c, err := net.Dial("udp4", "10.99.1.1:9")
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("hello"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	bufs := port.NewBufs(8, 2048)
	var req *layers.ARP
	deadline := time.Now().Add(5 * time.Second)
	for req == nil && time.Now().Before(deadline) {
		n, err := p.Recv(bufs, time.Until(deadline))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			pkt := gopacket.NewPacket(bufs[i].Frame(), layers.LayerTypeEthernet, gopacket.Default)
			if a, ok := pkt.Layer(layers.LayerTypeARP).(*layers.ARP); ok && a.Operation == layers.ARPRequest &&
				bytes.Equal(a.DstProtAddress, tmmIP.AsSlice()) {
				req = a
			}
		}
	}
	if req == nil {
		t.Fatal("no ARP request for 10.99.1.1 from the kernel")
	}
	if !bytes.Equal(req.SourceHwAddress, peerMAC) {
		t.Fatalf("ARP request from %x, want %s", req.SourceHwAddress, peerMAC)
	}
	mac := p.MAC()
	sb := gopacket.NewSerializeBuffer()
	err = gopacket.SerializeLayers(sb, gopacket.SerializeOptions{},
		&layers.Ethernet{SrcMAC: mac[:], DstMAC: peerMAC, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPReply, SourceHwAddress: mac[:], SourceProtAddress: tmmIP.AsSlice(),
			DstHwAddress: req.SourceHwAddress, DstProtAddress: req.SourceProtAddress})
	if err != nil {
		t.Fatal(err)
	}
	reply := make([]port.Buf, 1)
	reply[0].Set(sb.Bytes())
	if _, err := p.Send(reply); err != nil {
		t.Fatal(err)
	}
	var learned net.HardwareAddr
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && learned == nil; time.Sleep(20 * time.Millisecond) {
		err := l.ns.Do(func() error {
			neighs, err := netlink.NeighList(p1.Attrs().Index, netlink.FAMILY_V4)
			for _, n := range neighs {
				if n.IP.Equal(tmmIP.AsSlice()) && len(n.HardwareAddr) == 6 {
					learned = n.HardwareAddr
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(learned, mac[:]) {
		t.Fatalf("kernel learned %s for %s, want %x", learned, tmmIP, mac)
	}
	// With the address resolved the queued datagram goes out to the port.
	var sawUDP bool
	for deadline := time.Now().Add(3 * time.Second); !sawUDP && time.Now().Before(deadline); {
		n, err := p.Recv(bufs, time.Until(deadline))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			pkt := gopacket.NewPacket(bufs[i].Frame(), layers.LayerTypeEthernet, gopacket.Default)
			if u, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP); ok && u.DstPort == 9 && string(u.Payload) == "hello" {
				sawUDP = true
			}
		}
	}
	if !sawUDP {
		t.Fatalf("queued UDP datagram never reached the port (stats %+v)", p.Stats())
	}
}

// TestIdleRecvSleeps: a Recv waiting on a quiet link sleeps in poll rather
// than spinning between gopacket's ring check and the socket's readiness.
func TestIdleRecvSleeps(t *testing.T) {
	l := newLab(t, 1500)
	p := l.open(t, "p0", afpacket.DefaultOptions())
	cpu := func() time.Duration {
		var ru unix.Rusage
		if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	before := cpu()
	if n, err := p.Recv(port.NewBufs(4, 2048), 500*time.Millisecond); n != 0 || err != nil {
		t.Fatalf("Recv = %d, %v", n, err)
	}
	if used := cpu() - before; used > 100*time.Millisecond {
		t.Fatalf("waiting 500ms cost %v of CPU", used)
	}
}
