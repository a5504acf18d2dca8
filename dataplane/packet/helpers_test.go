package packet

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var (
	macA = [6]byte{0x02, 0, 0, 0, 0, 0x0a}
	macB = [6]byte{0x02, 0, 0, 0, 0, 0x0b}

	v4A = netip.MustParseAddr("192.0.2.10")
	v4B = netip.MustParseAddr("198.51.100.20")
	v6A = netip.MustParseAddr("2001:db8::a")
	v6B = netip.MustParseAddr("2001:db8:1::b")
)

// spec describes a frame for build: Ethernet (+802.1Q) + IP + one L4 layer.
type spec struct {
	vlan     uint16
	src, dst netip.Addr
	ttl      uint8
	l4       gopacket.SerializableLayer // *layers.TCP, *layers.UDP, *layers.ICMPv4, ...
	l4extra  []gopacket.SerializableLayer
	payload  []byte
	ipv4opts []layers.IPv4Option
}

// build serializes s with gopacket, computing checksums and lengths.
func build(t testing.TB, s spec) []byte {
	t.Helper()
	ttl := s.ttl
	if ttl == 0 {
		ttl = 64
	}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr(macA[:]), DstMAC: net.HardwareAddr(macB[:])}
	var ls []gopacket.SerializableLayer
	var netLayer gopacket.NetworkLayer
	var et layers.EthernetType
	var ip gopacket.SerializableLayer
	if s.src.Is4() {
		et = layers.EthernetTypeIPv4
		v4 := &layers.IPv4{Version: 4, TTL: ttl, SrcIP: s.src.AsSlice(), DstIP: s.dst.AsSlice(), Id: 0x1234, Options: s.ipv4opts}
		v4.Protocol = ipProto(s.l4)
		netLayer, ip = v4, v4
	} else {
		et = layers.EthernetTypeIPv6
		v6 := &layers.IPv6{Version: 6, HopLimit: ttl, SrcIP: s.src.AsSlice(), DstIP: s.dst.AsSlice()}
		v6.NextHeader = ipProto(s.l4)
		netLayer, ip = v6, v6
	}
	if s.vlan != 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		ls = append(ls, eth, &layers.Dot1Q{VLANIdentifier: s.vlan, Type: et})
	} else {
		eth.EthernetType = et
		ls = append(ls, eth)
	}
	ls = append(ls, ip)
	switch l := s.l4.(type) {
	case *layers.TCP:
		if err := l.SetNetworkLayerForChecksum(netLayer); err != nil {
			t.Fatal(err)
		}
	case *layers.UDP:
		if err := l.SetNetworkLayerForChecksum(netLayer); err != nil {
			t.Fatal(err)
		}
	case *layers.ICMPv6:
		if err := l.SetNetworkLayerForChecksum(netLayer); err != nil {
			t.Fatal(err)
		}
	}
	if s.l4 != nil {
		ls = append(ls, s.l4)
	}
	ls = append(ls, s.l4extra...)
	if s.payload != nil {
		ls = append(ls, gopacket.Payload(s.payload))
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func ipProto(l gopacket.SerializableLayer) layers.IPProtocol {
	switch l.(type) {
	case *layers.TCP:
		return layers.IPProtocolTCP
	case *layers.UDP:
		return layers.IPProtocolUDP
	case *layers.ICMPv4:
		return layers.IPProtocolICMPv4
	case *layers.ICMPv6:
		return layers.IPProtocolICMPv6
	}
	return layers.IPProtocolNoNextHeader
}

func tcpSpec(src, dst netip.Addr, vlan uint16, payload []byte) spec {
	return spec{vlan: vlan, src: src, dst: dst, payload: payload, l4: &layers.TCP{
		SrcPort: 40000, DstPort: 80, Seq: 1000, Ack: 2000, SYN: true, ACK: true, Window: 512,
	}}
}

func udpSpec(src, dst netip.Addr, vlan uint16, payload []byte) spec {
	return spec{vlan: vlan, src: src, dst: dst, payload: payload, l4: &layers.UDP{SrcPort: 5353, DstPort: 53}}
}

func echoSpec(src, dst netip.Addr, id uint16, payload []byte) spec {
	if src.Is4() {
		return spec{src: src, dst: dst, payload: payload, l4: &layers.ICMPv4{
			TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: id, Seq: 7,
		}}
	}
	return spec{src: src, dst: dst, payload: payload,
		l4:      &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)},
		l4extra: []gopacket.SerializableLayer{&layers.ICMPv6Echo{Identifier: id, SeqNumber: 7}},
	}
}

// decode decodes frame with gopacket and fails the test when any checksum
// is invalid by the receiver's test (RFC 1071).
func decode(t testing.TB, frame []byte) gopacket.Packet {
	t.Helper()
	pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	// gopacket guesses application protocols from ports (2222 is ENIP...);
	// a failure above a decoded TCP/UDP layer is not ours.
	if el := pkt.ErrorLayer(); el != nil && pkt.TransportLayer() == nil {
		t.Fatalf("gopacket decode: %v", el.Error())
	}
	// Decoded layers do not know their network layer for checksums: give
	// each the nearest IP layer before it (VXLAN has two).
	var nl gopacket.NetworkLayer
	for _, l := range pkt.Layers() {
		switch l := l.(type) {
		case *layers.IPv4:
			nl = l
		case *layers.IPv6:
			nl = l
		case interface {
			SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
		}:
			if nl == nil {
				t.Fatalf("%v layer without an IP layer before it", l)
			}
			if err := l.SetNetworkLayerForChecksum(nl); err != nil {
				t.Fatal(err)
			}
		}
	}
	err, mism := pkt.VerifyChecksums()
	if err != nil {
		t.Fatalf("verify checksums: %v", err)
	}
	for _, m := range mism {
		t.Errorf("%v checksum invalid: have %#04x, want %#04x", m.Layer.LayerType(), m.Actual, m.Correct)
	}
	return pkt
}

// refSum is a deliberately naive one's complement sum (byte pairs, end-around
// carry at every step), independent of Sum.
func refSum(data []byte, s uint32) uint32 {
	for i := 0; i < len(data); i += 2 {
		w := uint32(data[i]) << 8
		if i+1 < len(data) {
			w |= uint32(data[i+1])
		}
		s += w
		s = (s & 0xffff) + (s >> 16)
	}
	return s
}

func refFold(s uint32) uint16 {
	for s > 0xffff {
		s = (s & 0xffff) + (s >> 16)
	}
	return uint16(s)
}

func refPseudo(src, dst netip.Addr, proto uint8, length int) uint32 {
	s := refSum(src.AsSlice(), 0)
	s = refSum(dst.AsSlice(), s)
	var b [8]byte
	binary.BigEndian.PutUint32(b[0:], uint32(length))
	b[7] = proto
	return refSum(b[:], s)
}

// wantChecksums recomputes, from scratch and with the naive reference, the
// checksums a sender would write into the frame p describes, and returns
// (ipv4 header checksum, L4 checksum) as a full computation gives them:
// 0x0000 for a zero sum except UDP (0xffff); an IPv4 UDP checksum of 0 on
// the wire stays 0.
func wantChecksums(frame []byte, p *Parsed) (ip, l4 uint16) {
	if p.EtherType == EtherTypeIPv4 {
		h := append([]byte(nil), frame[p.L3:p.L3+int(frame[p.L3]&0xf)*4]...)
		h[10], h[11] = 0, 0
		ip = ^refFold(refSum(h, 0))
	}
	if p.L4 == 0 {
		return ip, 0
	}
	seg := append([]byte(nil), frame[p.L4:p.L4End]...)
	var off int
	var s uint32
	switch p.Proto {
	case ProtoTCP:
		off = 16
		s = refPseudo(p.Src, p.Dst, p.Proto, len(seg))
	case ProtoUDP:
		off = 6
		seg = seg[:binary.BigEndian.Uint16(seg[4:])]
		if p.EtherType == EtherTypeIPv4 && binary.BigEndian.Uint16(seg[6:]) == 0 {
			return ip, 0
		}
		s = refPseudo(p.Src, p.Dst, p.Proto, len(seg))
	case ProtoICMP:
		off = 2
	case ProtoICMPv6:
		off = 2
		s = refPseudo(p.Src, p.Dst, p.Proto, len(seg))
	}
	seg[off], seg[off+1] = 0, 0
	l4 = ^refFold(refSum(seg, s))
	if p.Proto == ProtoUDP && l4 == 0 {
		l4 = 0xffff
	}
	return ip, l4
}

// haveChecksums reads the checksums wantChecksums computes.
func haveChecksums(frame []byte, p *Parsed) (ip, l4 uint16) {
	if p.EtherType == EtherTypeIPv4 {
		ip = binary.BigEndian.Uint16(frame[p.L3+10:])
	}
	if p.L4 == 0 {
		return ip, 0
	}
	switch p.Proto {
	case ProtoTCP:
		l4 = binary.BigEndian.Uint16(frame[p.L4+16:])
	case ProtoUDP:
		l4 = binary.BigEndian.Uint16(frame[p.L4+6:])
	default:
		l4 = binary.BigEndian.Uint16(frame[p.L4+2:])
	}
	return ip, l4
}

// checkExact fails unless the frame's checksums are exactly those of a full
// recomputation.
func checkExact(t testing.TB, frame []byte, p *Parsed, what string) {
	t.Helper()
	wip, wl4 := wantChecksums(frame, p)
	hip, hl4 := haveChecksums(frame, p)
	if wip != hip || wl4 != hl4 {
		t.Errorf("%s: checksums ip %#04x l4 %#04x, full recomputation gives ip %#04x l4 %#04x", what, hip, hl4, wip, wl4)
	}
}

func mustParse(t testing.TB, frame []byte) *Parsed {
	t.Helper()
	var p Parsed
	if err := p.Parse(frame); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return &p
}

// l4Valid reports whether the L4 checksum of the packet p describes passes
// the receiver's test (the sum over pseudo-header and segment, checksum
// included, folds to all ones). An IPv4 UDP checksum of 0 passes.
func l4Valid(frame []byte, p *Parsed) bool {
	seg := frame[p.L4:p.L4End]
	switch p.Proto {
	case ProtoICMP:
		return refFold(refSum(seg, 0)) == 0xffff
	case ProtoUDP:
		if p.EtherType == EtherTypeIPv4 && binary.BigEndian.Uint16(seg[6:]) == 0 {
			return true
		}
		seg = seg[:binary.BigEndian.Uint16(seg[4:])]
	}
	return refFold(refSum(seg, refPseudo(p.Src, p.Dst, p.Proto, len(seg)))) == 0xffff
}
