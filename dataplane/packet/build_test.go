package packet

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var macT = [6]byte{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}

func TestWriteEthernet(t *testing.T) {
	for _, vlan := range []uint16{0, 1, 4095} {
		buf := make([]byte, Headroom+20)
		start := WriteEthernet(buf, Headroom, macB, macA, vlan, EtherTypeIPv6)
		if want := Headroom - ethLen(vlan); start != want {
			t.Errorf("vlan %d: start %d, want %d", vlan, start, want)
		}
		var p Parsed
		_ = p.Parse(buf[start:]) // the zero IPv6 header is a bad header; the L2 fields count
		if p.DstMAC != macB || p.SrcMAC != macA || p.Tagged != (vlan != 0) || p.VLAN != vlan || p.EtherType != EtherTypeIPv6 || p.L3 != Headroom-start {
			t.Errorf("vlan %d: parsed %+v", vlan, p)
		}
	}
}

func layer[T gopacket.Layer](t *testing.T, pkt gopacket.Packet, lt gopacket.LayerType) T {
	t.Helper()
	l := pkt.Layer(lt)
	if l == nil {
		t.Fatalf("no %v layer in %v", lt, pkt)
	}
	return l.(T)
}

func checkVLAN(t *testing.T, pkt gopacket.Packet, vlan uint16) {
	t.Helper()
	d, ok := pkt.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q)
	if (vlan != 0) != ok || ok && d.VLANIdentifier != vlan {
		t.Errorf("802.1Q layer %v, want VLAN %d", d, vlan)
	}
}

func TestARP(t *testing.T) {
	for _, vlan := range []uint16{0, 7} {
		req := mustParse(t, arpFrame(t, 1, vlan))
		out := make([]byte, 128)
		f := ARPReply(out, req, macT, vlan)
		if len(f) != 60 {
			t.Errorf("reply is %d bytes, want 60 (padded)", len(f))
		}
		pkt := decode(t, f)
		checkVLAN(t, pkt, vlan)
		eth := layer[*layers.Ethernet](t, pkt, layers.LayerTypeEthernet)
		arp := layer[*layers.ARP](t, pkt, layers.LayerTypeARP)
		if !bytes.Equal(eth.DstMAC, macA[:]) || !bytes.Equal(eth.SrcMAC, macT[:]) {
			t.Errorf("reply Ethernet %v -> %v", eth.SrcMAC, eth.DstMAC)
		}
		if arp.Operation != 2 || !bytes.Equal(arp.SourceHwAddress, macT[:]) || !bytes.Equal(arp.SourceProtAddress, v4B.AsSlice()) ||
			!bytes.Equal(arp.DstHwAddress, macA[:]) || !bytes.Equal(arp.DstProtAddress, v4A.AsSlice()) {
			t.Errorf("reply ARP %+v", arp)
		}

		f = ARPRequest(out, macT, v4B, v4A, vlan)
		p := mustParse(t, f)
		want := Parsed{DstMAC: broadcastMAC, SrcMAC: macT, Tagged: vlan != 0, VLAN: vlan, EtherType: EtherTypeARP, L3: ethLen(vlan),
			ARPOp: 1, ARPSenderMAC: macT, ARPSender: v4B, ARPTarget: v4A}
		if *p != want {
			t.Errorf("request parsed\n got %+v\nwant %+v", *p, want)
		}
		decode(t, f)
	}
}

func TestNeighborAdvert(t *testing.T) {
	snm := SolicitedNode(v6B)
	for _, dad := range []bool{false, true} {
		for _, vlan := range []uint16{0, 300} {
			var s spec
			if dad {
				s = ndSpec(netip.IPv6Unspecified(), snm, ICMPv6NS, v6B, 0, nil)
			} else {
				s = ndSpec(v6A, snm, ICMPv6NS, v6B, layers.ICMPv6OptSourceAddress, macA[:])
			}
			ns := mustParse(t, build(t, s))
			f := NeighborAdvert(make([]byte, 128), ns, macT, vlan)
			pkt := decode(t, f)
			checkVLAN(t, pkt, vlan)
			eth := layer[*layers.Ethernet](t, pkt, layers.LayerTypeEthernet)
			ip := layer[*layers.IPv6](t, pkt, layers.LayerTypeIPv6)
			na := layer[*layers.ICMPv6NeighborAdvertisement](t, pkt, layers.LayerTypeICMPv6NeighborAdvertisement)
			wantDst, wantMAC, wantFlags := v6A, macA, uint8(0x60)
			if dad {
				wantDst, wantMAC, wantFlags = netip.MustParseAddr("ff02::1"), [6]byte{0x33, 0x33, 0, 0, 0, 1}, 0x20
			}
			if !bytes.Equal(eth.DstMAC, wantMAC[:]) || !bytes.Equal(eth.SrcMAC, macT[:]) {
				t.Errorf("dad=%v: Ethernet %v -> %v", dad, eth.SrcMAC, eth.DstMAC)
			}
			if ip.HopLimit != 255 || !ip.SrcIP.Equal(v6B.AsSlice()) || !ip.DstIP.Equal(wantDst.AsSlice()) {
				t.Errorf("dad=%v: IPv6 %v -> %v hop limit %d", dad, ip.SrcIP, ip.DstIP, ip.HopLimit)
			}
			if na.Flags != wantFlags || !na.TargetAddress.Equal(v6B.AsSlice()) || len(na.Options) != 1 ||
				na.Options[0].Type != layers.ICMPv6OptTargetAddress || !bytes.Equal(na.Options[0].Data, macT[:]) {
				t.Errorf("dad=%v: NA %+v", dad, na)
			}
			p := mustParse(t, f)
			if p.ICMPType != ICMPv6NA || p.NDTarget != v6B || !p.NDHasLinkAddr || p.NDLinkAddr != macT {
				t.Errorf("dad=%v: parsed NA %+v", dad, p)
			}
		}
	}
}

func TestNeighborSolicit(t *testing.T) {
	for _, src := range []netip.Addr{v6A, netip.IPv6Unspecified()} {
		f := NeighborSolicit(make([]byte, 128), macT, src, v6B, 12)
		pkt := decode(t, f)
		checkVLAN(t, pkt, 12)
		eth := layer[*layers.Ethernet](t, pkt, layers.LayerTypeEthernet)
		ip := layer[*layers.IPv6](t, pkt, layers.LayerTypeIPv6)
		ns := layer[*layers.ICMPv6NeighborSolicitation](t, pkt, layers.LayerTypeICMPv6NeighborSolicitation)
		if !bytes.Equal(eth.DstMAC, net.HardwareAddr{0x33, 0x33, 0xff, 0, 0, 0x0b}) {
			t.Errorf("NS Ethernet destination %v", eth.DstMAC)
		}
		if ip.HopLimit != 255 || !ip.DstIP.Equal(net.ParseIP("ff02::1:ff00:b")) || !ip.SrcIP.Equal(src.AsSlice()) {
			t.Errorf("NS IPv6 %v -> %v hop limit %d", ip.SrcIP, ip.DstIP, ip.HopLimit)
		}
		wantOpts := 1
		if src.IsUnspecified() {
			wantOpts = 0 // RFC 4861 §4.3: no source link-layer option in DAD
		}
		if !ns.TargetAddress.Equal(v6B.AsSlice()) || len(ns.Options) != wantOpts ||
			wantOpts == 1 && (ns.Options[0].Type != layers.ICMPv6OptSourceAddress || !bytes.Equal(ns.Options[0].Data, macT[:])) {
			t.Errorf("NS %+v", ns)
		}
	}
}

func TestTCPReset(t *testing.T) {
	cases := []struct {
		name       string
		s          spec
		syn, ack   bool
		wantSeq    uint32
		wantAck    uint32
		wantFlags  uint8
		resetVLAN  uint16
		payloadLen int
	}{
		{"syn4", tcpSpec(v4A, v4B, 10, nil), true, false, 0, 1001, TCPRst | TCPAck, 10, 0},
		{"syn6 with data", tcpSpec(v6A, v6B, 0, []byte("fast open")), true, false, 0, 1010, TCPRst | TCPAck, 0, 9},
		{"ack4", tcpSpec(v4A, v4B, 0, []byte("data")), false, true, 2000, 0, TCPRst, 5, 4},
		{"ack6", tcpSpec(v6A, v6B, 0, nil), false, true, 2000, 0, TCPRst, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := c.s.l4.(*layers.TCP)
			l.SYN, l.ACK = c.syn, c.ack
			p := mustParse(t, build(t, c.s))
			frame := build(t, c.s)
			f := TCPReset(make([]byte, 128), frame, p, c.resetVLAN)
			pkt := decode(t, f)
			checkVLAN(t, pkt, c.resetVLAN)
			eth := layer[*layers.Ethernet](t, pkt, layers.LayerTypeEthernet)
			tcp := layer[*layers.TCP](t, pkt, layers.LayerTypeTCP)
			if !bytes.Equal(eth.DstMAC, macA[:]) || !bytes.Equal(eth.SrcMAC, macB[:]) {
				t.Errorf("Ethernet %v -> %v", eth.SrcMAC, eth.DstMAC)
			}
			r := mustParse(t, f)
			if r.Src != p.Dst || r.Dst != p.Src || r.SrcPort != p.DstPort || r.DstPort != p.SrcPort {
				t.Errorf("RST %v:%d -> %v:%d", r.Src, r.SrcPort, r.Dst, r.DstPort)
			}
			if tcp.Seq != c.wantSeq || tcp.Ack != c.wantAck || r.TCPFlags != c.wantFlags || len(tcp.Payload) != 0 {
				t.Errorf("RST seq %d ack %d flags %#x payload %d; want %d %d %#x", tcp.Seq, tcp.Ack, r.TCPFlags, len(tcp.Payload), c.wantSeq, c.wantAck, c.wantFlags)
			}
			if r.EtherType == EtherTypeIPv4 {
				ip := layer[*layers.IPv4](t, pkt, layers.LayerTypeIPv4)
				if ip.TTL != 64 || ip.Flags != layers.IPv4DontFragment {
					t.Errorf("IPv4 TTL %d flags %v", ip.TTL, ip.Flags)
				}
			} else if r.TTL != 64 {
				t.Errorf("hop limit %d", r.TTL)
			}
			checkExact(t, f, r, "RST")
		})
	}
}

func TestVXLANRoundTrip(t *testing.T) {
	innerFrames := [][]byte{
		build(t, tcpSpec(v4A, v4B, 0, []byte("inner payload"))),
		build(t, udpSpec(v6A, v6B, 0, []byte("odd"))),
	}
	outers := []Outer{
		{DstMAC: macB, SrcMAC: macT, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 49152, VNI: 0xabcdef, IPID: 77},
		{DstMAC: macB, SrcMAC: macT, VLAN: 20, Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"), SrcPort: 65535, VNI: 1},
		{DstMAC: macB, SrcMAC: macT, VLAN: 4094, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 1, VNI: 0xffffff},
	}
	for _, in := range innerFrames {
		for _, o := range outers {
			buf := make([]byte, Headroom+len(in))
			copy(buf[Headroom:], in)
			start := EncapVXLAN(buf, Headroom, len(buf), o)
			f := buf[start:]
			pkt := decode(t, f)
			checkVLAN(t, pkt, o.VLAN)
			vx := layer[*layers.VXLAN](t, pkt, layers.LayerTypeVXLAN)
			udp := layer[*layers.UDP](t, pkt, layers.LayerTypeUDP)
			if !vx.ValidIDFlag || vx.VNI != o.VNI || udp.DstPort != VXLANPort || uint16(udp.SrcPort) != o.SrcPort {
				t.Errorf("VXLAN %+v UDP %d -> %d", vx, udp.SrcPort, udp.DstPort)
			}
			if o.Src.Is4() {
				ip := layer[*layers.IPv4](t, pkt, layers.LayerTypeIPv4)
				if udp.Checksum != 0 || ip.Flags != layers.IPv4DontFragment || ip.TTL != 64 || ip.Id != o.IPID {
					t.Errorf("IPv4 outer: UDP checksum %#x flags %v TTL %d id %d", udp.Checksum, ip.Flags, ip.TTL, ip.Id)
				}
			} else if udp.Checksum == 0 {
				t.Error("IPv6 outer UDP checksum is 0")
			}
			// The inner packet decodes too (gopacket follows VXLAN).
			if n := len(pkt.Layers()); n < 6 {
				t.Errorf("only %d layers decoded", n)
			}

			p := mustParse(t, f)
			checkExact(t, f, p, "VXLAN outer")
			vni, inner, ok := ParseVXLAN(f, p)
			if !ok || vni != o.VNI || !bytes.Equal(f[inner:p.L4End], in) {
				t.Errorf("ParseVXLAN = %#x, %d, %v", vni, inner, ok)
			}
		}
	}
}

func TestParseVXLANRejects(t *testing.T) {
	in := build(t, tcpSpec(v4A, v4B, 0, nil))
	buf := make([]byte, Headroom+len(in))
	copy(buf[Headroom:], in)
	start := EncapVXLAN(buf, Headroom, len(buf), Outer{Src: v4A, Dst: v4B, VNI: 5})
	good := buf[start:]

	noI := bytes.Clone(good)
	noI[14+20+8] = 0
	if _, _, ok := ParseVXLAN(noI, mustParse(t, noI)); ok {
		t.Error("accepted a VXLAN header without the I flag")
	}
	otherPort := bytes.Clone(good)
	binary.BigEndian.PutUint16(otherPort[14+20+2:], 4790)
	if _, _, ok := ParseVXLAN(otherPort, mustParse(t, otherPort)); ok {
		t.Error("accepted UDP port 4790")
	}
	short := build(t, spec{src: v4A, dst: v4B, l4: &layers.UDP{SrcPort: 1, DstPort: VXLANPort}, payload: []byte{8, 0, 0, 0, 0, 0, 5, 0, 1, 2}})
	if _, _, ok := ParseVXLAN(short, mustParse(t, short)); ok {
		t.Error("accepted VXLAN without room for an inner Ethernet header")
	}
	tcp := build(t, tcpSpec(v4A, v4B, 0, nil))
	if _, _, ok := ParseVXLAN(tcp, mustParse(t, tcp)); ok {
		t.Error("accepted TCP")
	}
}

func TestBuildersAllocs(t *testing.T) {
	syn := build(t, tcpSpec(v6A, v6B, 0, nil))
	p := mustParse(t, syn)
	ns := mustParse(t, build(t, ndSpec(v6A, v6B, ICMPv6NS, v6B, layers.ICMPv6OptSourceAddress, macA[:])))
	arp := mustParse(t, arpFrame(t, 1, 0))
	out := make([]byte, 128)
	buf := make([]byte, Headroom+len(syn))
	o := Outer{Src: v6A, Dst: v6B, VNI: 9}
	n := testing.AllocsPerRun(100, func() {
		TCPReset(out, syn, p, 0)
		NeighborAdvert(out, ns, macT, 0)
		NeighborSolicit(out, macT, v6A, v6B, 3)
		ARPReply(out, arp, macT, 0)
		ARPRequest(out, macT, v4A, v4B, 0)
		EncapVXLAN(buf, Headroom, len(buf), o)
	})
	if n != 0 {
		t.Errorf("builders allocate %v times per run", n)
	}
}
