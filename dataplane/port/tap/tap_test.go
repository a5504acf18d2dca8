//go:build linux

package tap_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/spklab/spklab/dataplane/port"
	"github.com/spklab/spklab/dataplane/port/tap"
	"github.com/spklab/spklab/internal/testenv"
)

var (
	tapMAC  = [6]byte{0x02, 0x00, 0x5e, 0x20, 0x00, 0x01} // the data plane's MAC, given to the TAP
	peerMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0x20, 0x00, 0x02}
	selfV4  = netip.MustParsePrefix("10.99.0.1/24")
	selfV6  = netip.MustParsePrefix("2001:db8:99::1/64")
	peerV4  = netip.MustParseAddr("10.99.0.2")
	peerV6  = netip.MustParseAddr("2001:db8:99::2")
)

// openTAP makes a netns with a TAP "spk0" carrying the self IPs.
func openTAP(t *testing.T) (*testenv.Netns, *tap.Port) {
	t.Helper()
	testenv.RequireRoot(t)
	ns := testenv.NewNetns(t, "tap")
	var p *tap.Port
	err := ns.Do(func() (err error) {
		if p, err = tap.Open("spk0", tapMAC, 1400); err != nil {
			return err
		}
		if err := tap.AddAddrs("spk0", []netip.Prefix{selfV4, selfV6}); err != nil {
			return err
		}
		return waitV6Ready("spk0", 2*time.Second)
	})
	if p != nil {
		t.Cleanup(func() { p.Close() })
	}
	if err != nil {
		t.Fatal(err)
	}
	return ns, p
}

// waitV6Ready waits until the kernel answers ND for every global IPv6
// address on name: not tentative, and its solicited-node group joined. Even
// with NODAD the kernel finishes that in a work queue after the netlink call,
// and until then it drops multicast neighbor solicitations silently.
// Must run on a thread inside the namespace (it reads /proc/thread-self).
func waitV6Ready(name string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		ready, err := v6Ready(name)
		if err != nil || ready {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("IPv6 addresses on %s not ready for ND after %v", name, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func v6Ready(name string) (bool, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return false, err
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V6)
	if err != nil {
		return false, err
	}
	groups, err := os.ReadFile("/proc/thread-self/net/igmp6")
	if err != nil {
		return false, err
	}
	seen := false
	for _, a := range addrs {
		if a.IP.IsLinkLocalUnicast() {
			continue
		}
		seen = true
		if a.Flags&unix.IFA_F_TENTATIVE != 0 {
			return false, nil
		}
		// /proc/net/igmp6 lines: index name group-in-hex users flags timer.
		group := fmt.Sprintf("ff0200000000000000000001ff%02x%02x%02x", a.IP[13], a.IP[14], a.IP[15])
		if !joined(string(groups), name, group) {
			return false, nil
		}
	}
	return seen, nil
}

func joined(igmp6, ifname, group string) bool {
	for _, line := range strings.Split(igmp6, "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[1] == ifname && f[2] == group {
			return true
		}
	}
	return false
}

func serialize(t *testing.T, ls ...gopacket.SerializableLayer) []port.Buf {
	t.Helper()
	sb := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(sb, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	b := make([]port.Buf, 1)
	b[0].Set(sb.Bytes())
	return b
}

func send(t *testing.T, p *tap.Port, ls ...gopacket.SerializableLayer) {
	t.Helper()
	if n, err := p.Send(serialize(t, ls...)); n != 1 || err != nil {
		t.Fatalf("Send = %d, %v", n, err)
	}
}

// expect receives from the TAP until match accepts a packet, skipping the
// kernel's own chatter (router solicitations, MLD reports).
func expect(t *testing.T, p *tap.Port, what string, match func(gopacket.Packet) bool) gopacket.Packet {
	t.Helper()
	bufs := port.NewBufs(8, port.DefaultMaxFrame)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		n, err := p.Recv(bufs, time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		for i := 0; i < n; i++ {
			pkt := gopacket.NewPacket(append([]byte(nil), bufs[i].Frame()...), layers.LayerTypeEthernet, gopacket.Default)
			if match(pkt) {
				return pkt
			}
		}
	}
	t.Fatalf("no %s from the kernel within 5s", what)
	return nil
}

func TestDeviceConfigured(t *testing.T) {
	ns, p := openTAP(t)
	if p.Name() != "spk0" || p.MAC() != tapMAC || p.MTU() != 1400 {
		t.Fatalf("name %q mac %x mtu %d", p.Name(), p.MAC(), p.MTU())
	}
	err := ns.Do(func() error {
		link, err := netlink.LinkByName("spk0")
		if err != nil {
			return err
		}
		a := link.Attrs()
		if !bytes.Equal(a.HardwareAddr, tapMAC[:]) || a.MTU != 1400 || a.Flags&net.FlagUp == 0 {
			return fmt.Errorf("device mac %s mtu %d flags %v", a.HardwareAddr, a.MTU, a.Flags)
		}
		if tt, ok := link.(*netlink.Tuntap); !ok || tt.Mode != netlink.TUNTAP_MODE_TAP {
			return fmt.Errorf("device is %T %+v, want a TAP", link, link)
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
		if err != nil {
			return err
		}
		found := map[string]int{}
		for _, ad := range addrs {
			found[ad.IPNet.String()] = ad.Flags
		}
		if _, ok := found[selfV4.String()]; !ok {
			return fmt.Errorf("addresses %v lack %v", found, selfV4)
		}
		f6, ok := found[selfV6.String()]
		if !ok || f6&unix.IFA_F_NODAD == 0 || f6&unix.IFA_F_TENTATIVE != 0 {
			return fmt.Errorf("IPv6 address flags %#x (present %v), want NODAD and not tentative", f6, ok)
		}
		// Adding the same addresses again is not an error.
		return tap.AddAddrs("spk0", []netip.Prefix{selfV4, selfV6})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tap.AddAddrs("spk0", []netip.Prefix{{}}); err == nil {
		t.Fatal("AddAddrs accepted an invalid prefix")
	}
}

func TestARPAndPingV4(t *testing.T) {
	_, p := openTAP(t)
	eth := func(dst net.HardwareAddr, et layers.EthernetType) *layers.Ethernet {
		return &layers.Ethernet{SrcMAC: peerMAC, DstMAC: dst, EthernetType: et}
	}
	send(t, p, eth(layers.EthernetBroadcast, layers.EthernetTypeARP), &layers.ARP{
		AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: layers.ARPRequest, SourceHwAddress: peerMAC, SourceProtAddress: peerV4.AsSlice(),
		DstHwAddress: make([]byte, 6), DstProtAddress: selfV4.Addr().AsSlice(),
	})
	pkt := expect(t, p, "ARP reply", func(pkt gopacket.Packet) bool {
		a, ok := pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
		return ok && a.Operation == layers.ARPReply
	})
	a := pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
	if !bytes.Equal(a.SourceHwAddress, tapMAC[:]) || !bytes.Equal(a.SourceProtAddress, selfV4.Addr().AsSlice()) ||
		!bytes.Equal(a.DstHwAddress, peerMAC) || !bytes.Equal(a.DstProtAddress, peerV4.AsSlice()) {
		t.Fatalf("ARP reply %+v", a)
	}
	if e := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); !bytes.Equal(e.SrcMAC, tapMAC[:]) || !bytes.Equal(e.DstMAC, peerMAC) {
		t.Fatalf("ARP reply Ethernet %s -> %s", e.SrcMAC, e.DstMAC)
	}

	payload := []byte("spklab tap ping v4")
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: peerV4.AsSlice(), DstIP: selfV4.Addr().AsSlice()}
	send(t, p, eth(tapMAC[:], layers.EthernetTypeIPv4), ip,
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 0x4242, Seq: 7}, gopacket.Payload(payload))
	pkt = expect(t, p, "ICMP echo reply", func(pkt gopacket.Packet) bool {
		ic, ok := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		return ok && ic.TypeCode.Type() == layers.ICMPv4TypeEchoReply
	})
	ic := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	rip := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if ic.Id != 0x4242 || ic.Seq != 7 || !bytes.Equal(ic.Payload, payload) ||
		!rip.SrcIP.Equal(selfV4.Addr().AsSlice()) || !rip.DstIP.Equal(peerV4.AsSlice()) {
		t.Fatalf("echo reply %v -> %v id %#x seq %d payload %q", rip.SrcIP, rip.DstIP, ic.Id, ic.Seq, ic.Payload)
	}
	if s := p.Stats(); s.TxPackets != 2 || s.RxPackets < 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestNDAndPingV6(t *testing.T) {
	_, p := openTAP(t)
	self := selfV6.Addr()
	solicited := netip.AddrFrom16([16]byte{0xff, 0x02, 11: 0x01, 12: 0xff, 13: self.As16()[13], 14: self.As16()[14], 15: self.As16()[15]})
	solMAC := net.HardwareAddr{0x33, 0x33, 0xff, self.As16()[13], self.As16()[14], self.As16()[15]}
	ip6 := func(dst netip.Addr) *layers.IPv6 {
		return &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: peerV6.AsSlice(), DstIP: dst.AsSlice()}
	}
	ns6 := ip6(solicited)
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborSolicitation, 0)}
	icmp.SetNetworkLayerForChecksum(ns6)
	send(t, p, &layers.Ethernet{SrcMAC: peerMAC, DstMAC: solMAC, EthernetType: layers.EthernetTypeIPv6}, ns6, icmp,
		&layers.ICMPv6NeighborSolicitation{TargetAddress: self.AsSlice(), Options: layers.ICMPv6Options{
			{Type: layers.ICMPv6OptSourceAddress, Data: peerMAC},
		}})
	pkt := expect(t, p, "neighbor advertisement", func(pkt gopacket.Packet) bool {
		na, ok := pkt.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
		return ok && net.IP(na.TargetAddress).Equal(self.AsSlice())
	})
	na := pkt.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
	var tll net.HardwareAddr
	for _, o := range na.Options {
		if o.Type == layers.ICMPv6OptTargetAddress {
			tll = o.Data
		}
	}
	if !bytes.Equal(tll, tapMAC[:]) || !na.Solicited() {
		t.Fatalf("NA target link-layer %s solicited %v, want %x", tll, na.Solicited(), tapMAC)
	}

	payload := []byte("spklab tap ping v6")
	echo6 := ip6(self)
	echo6.HopLimit = 64
	icmp = &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
	icmp.SetNetworkLayerForChecksum(echo6)
	send(t, p, &layers.Ethernet{SrcMAC: peerMAC, DstMAC: tapMAC[:], EthernetType: layers.EthernetTypeIPv6}, echo6, icmp,
		&layers.ICMPv6Echo{Identifier: 0x6666, SeqNumber: 9}, gopacket.Payload(payload))
	pkt = expect(t, p, "ICMPv6 echo reply", func(pkt gopacket.Packet) bool {
		e, ok := pkt.Layer(layers.LayerTypeICMPv6Echo).(*layers.ICMPv6Echo)
		ic, _ := pkt.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
		return ok && ic != nil && ic.TypeCode.Type() == layers.ICMPv6TypeEchoReply && e.Identifier == 0x6666
	})
	e := pkt.Layer(layers.LayerTypeICMPv6Echo).(*layers.ICMPv6Echo)
	if e.SeqNumber != 9 || !bytes.Equal(e.Payload, payload) {
		t.Fatalf("echo reply seq %d payload %q", e.SeqNumber, e.Payload)
	}
	if eth := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); !bytes.Equal(eth.DstMAC, peerMAC) {
		t.Fatalf("echo reply to %s, want %s (learned from the NS)", eth.DstMAC, peerMAC)
	}
}

func TestRecvTimeoutAndClose(t *testing.T) {
	ns, p := openTAP(t)
	bufs := port.NewBufs(4, 2048)
	// The kernel may send ND/MLD chatter on a fresh TAP; drain it first so
	// the timeout is measured on a quiet device.
	for quiet := false; !quiet; {
		start := time.Now()
		n, err := p.Recv(bufs, 300*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			if d := time.Since(start); d < 300*time.Millisecond || d > 2*time.Second {
				t.Fatalf("Recv timed out after %v, want about 300ms", d)
			}
			quiet = true
		}
	}
	start := time.Now()
	if n, err := p.Recv(bufs, 0); n != 0 || err != nil || time.Since(start) > 50*time.Millisecond {
		t.Fatalf("poll Recv = %d, %v after %v", n, err, time.Since(start))
	}
	errc := make(chan error, 1)
	go func() {
		for {
			n, err := p.Recv(bufs, -1)
			if err != nil || n == 0 {
				errc <- err
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
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
	if _, err := p.Send(port.NewBufs(1, 64)); !errors.Is(err, port.ErrClosed) {
		t.Fatalf("Send after Close = %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// The device was not persistent: closing it removed it.
	err := ns.Do(func() error {
		if _, err := netlink.LinkByName("spk0"); err == nil {
			return errors.New("spk0 still exists after Close")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
