package packet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// withExt inserts IPv6 extension headers (each kind from kinds, 8 bytes, the
// routing header with segsLeft) between the IPv6 header at l3 and its
// payload, fixing the next-header chain and the payload length.
func withExt(frame []byte, l3 int, kinds []byte, segsLeft byte) []byte {
	final := frame[l3+6]
	var ext []byte
	for i, k := range kinds {
		next := final
		if i+1 < len(kinds) {
			next = kinds[i+1]
		}
		h := make([]byte, 8)
		h[0] = next
		switch k {
		case 43:
			h[2], h[3] = 4, segsLeft // type 4 (segment routing) needs no more data here
		case 0, 60:
			h[2], h[3] = 1, 4 // PadN option covering the rest
		case 44:
			h[0] = next
		}
		ext = append(ext, h...)
	}
	out := append([]byte(nil), frame[:l3+40]...)
	out = append(out, ext...)
	out = append(out, frame[l3+40:]...)
	out[l3+6] = kinds[0]
	binary.BigEndian.PutUint16(out[l3+4:], binary.BigEndian.Uint16(out[l3+4:])+uint16(len(ext)))
	return out
}

func ndSpec(src, dst netip.Addr, typ uint8, target netip.Addr, opt layers.ICMPv6Opt, mac []byte) spec {
	var msg gopacket.SerializableLayer
	var opts layers.ICMPv6Options
	if mac != nil {
		opts = layers.ICMPv6Options{{Type: opt, Data: mac}}
	}
	if typ == ICMPv6NS {
		msg = &layers.ICMPv6NeighborSolicitation{TargetAddress: target.AsSlice(), Options: opts}
	} else {
		msg = &layers.ICMPv6NeighborAdvertisement{Flags: 0x60, TargetAddress: target.AsSlice(), Options: opts}
	}
	return spec{src: src, dst: dst, ttl: 255,
		l4:      &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)},
		l4extra: []gopacket.SerializableLayer{msg},
	}
}

func arpFrame(t testing.TB, op uint16, vlan uint16) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: macA[:], DstMAC: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, EthernetType: layers.EthernetTypeARP}
	arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: op, SourceHwAddress: macA[:], SourceProtAddress: v4A.AsSlice(), DstHwAddress: make([]byte, 6), DstProtAddress: v4B.AsSlice()}
	ls := []gopacket.SerializableLayer{eth, arp}
	if vlan != 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		ls = []gopacket.SerializableLayer{eth, &layers.Dot1Q{VLANIdentifier: vlan, Type: layers.EthernetTypeARP}, arp}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func TestParseFields(t *testing.T) {
	payload := []byte("hello, world") // 12 bytes
	odd := []byte("odd")
	tcp4 := build(t, tcpSpec(v4A, v4B, 0, payload))
	tcp4tag := build(t, tcpSpec(v4A, v4B, 100, payload))
	tcp6tag := build(t, tcpSpec(v6A, v6B, 4094, odd))
	udp4 := build(t, udpSpec(v4A, v4B, 0, odd))
	udp6 := build(t, udpSpec(v6A, v6B, 0, payload))
	echo4 := build(t, echoSpec(v4A, v4B, 0xbeef, payload))
	echo6 := build(t, echoSpec(v6A, v6B, 0xcafe, odd))
	opts4 := build(t, spec{src: v4A, dst: v4B, l4: &layers.UDP{SrcPort: 1, DstPort: 2},
		ipv4opts: []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}})
	snm := netip.MustParseAddr("ff02::1:ff00:b")
	ns := build(t, ndSpec(v6A, snm, ICMPv6NS, v6B, layers.ICMPv6OptSourceAddress, macA[:]))
	nsDAD := build(t, ndSpec(netip.IPv6Unspecified(), snm, ICMPv6NS, v6B, 0, nil))
	na := build(t, ndSpec(v6B, v6A, ICMPv6NA, v6B, layers.ICMPv6OptTargetAddress, macB[:]))
	ext6 := withExt(tcp6tag, 18, []byte{0, 60, 43}, 0)
	frag6 := withExt(build(t, udpSpec(v6A, v6B, 0, payload)), 14, []byte{0, 44}, 0)

	frag4 := append([]byte(nil), udp4...)
	frag4[14+6] |= 0x20 // MF
	fragOff4 := append([]byte(nil), udp4...)
	binary.BigEndian.PutUint16(fragOff4[14+6:], 185) // offset 1480 bytes
	gre4 := append([]byte(nil), udp4...)
	gre4[14+9] = 47
	for _, f := range [][]byte{frag4, fragOff4, gre4} {
		fixIPv4Checksum(f, 14)
	}

	// An IPv4 frame with Ethernet padding after the IP packet.
	padded := append(append([]byte(nil), tcp4...), make([]byte, 10)...)

	lldp := append(append([]byte(nil), tcp4[:12]...), 0x88, 0xcc, 1, 2, 3)

	base4 := Parsed{DstMAC: macB, SrcMAC: macA, EtherType: EtherTypeIPv4, L3: 14, Src: v4A, Dst: v4B, TTL: 64}
	base6 := Parsed{DstMAC: macB, SrcMAC: macA, EtherType: EtherTypeIPv6, L3: 14, Src: v6A, Dst: v6B, TTL: 64}
	tcpFields := func(p Parsed, l4, end int) Parsed {
		p.Proto, p.L4, p.L4End = ProtoTCP, l4, end
		p.SrcPort, p.DstPort, p.TCPSeq, p.TCPAck, p.TCPFlags = 40000, 80, 1000, 2000, TCPSyn|TCPAck
		return p
	}
	tagged := func(p Parsed, vlan uint16) Parsed {
		p.Tagged, p.VLAN, p.L3 = true, vlan, 18
		return p
	}
	with := func(p Parsed, f func(*Parsed)) Parsed { f(&p); return p }

	cases := []struct {
		name  string
		frame []byte
		want  Parsed
	}{
		{"tcp4", tcp4, tcpFields(base4, 34, 34+20+12)},
		{"tcp4 tagged", tcp4tag, tcpFields(tagged(base4, 100), 38, 38+20+12)},
		{"tcp4 padded", padded, tcpFields(base4, 34, 34+20+12)},
		{"tcp6 tagged odd payload", tcp6tag, tcpFields(tagged(base6, 4094), 58, 58+20+3)},
		{"tcp6 ext headers", ext6, tcpFields(tagged(base6, 4094), 58+24, 58+24+20+3)},
		{"udp4", udp4, with(base4, func(p *Parsed) {
			p.Proto, p.L4, p.L4End, p.SrcPort, p.DstPort = ProtoUDP, 34, 34+8+3, 5353, 53
		})},
		{"udp4 options", opts4, with(base4, func(p *Parsed) {
			p.Proto, p.L4, p.L4End, p.SrcPort, p.DstPort = ProtoUDP, 38, 38+8, 1, 2
		})},
		{"udp6", udp6, with(base6, func(p *Parsed) {
			p.Proto, p.L4, p.L4End, p.SrcPort, p.DstPort = ProtoUDP, 54, 54+8+12, 5353, 53
		})},
		{"echo4", echo4, with(base4, func(p *Parsed) {
			p.Proto, p.L4, p.L4End, p.SrcPort, p.DstPort, p.ICMPType = ProtoICMP, 34, 34+8+12, 0xbeef, 0xbeef, ICMPEchoRequest
		})},
		{"echo6", echo6, with(base6, func(p *Parsed) {
			p.Proto, p.L4, p.L4End, p.SrcPort, p.DstPort, p.ICMPType = ProtoICMPv6, 54, 54+8+3, 0xcafe, 0xcafe, ICMPv6EchoRequest
		})},
		{"ns", ns, with(base6, func(p *Parsed) {
			p.Dst, p.TTL, p.Proto, p.L4, p.L4End, p.ICMPType = snm, 255, ProtoICMPv6, 54, 54+32, ICMPv6NS
			p.NDTarget, p.NDLinkAddr, p.NDHasLinkAddr = v6B, macA, true
		})},
		{"ns dad", nsDAD, with(base6, func(p *Parsed) {
			p.Src, p.Dst, p.TTL, p.Proto, p.L4, p.L4End, p.ICMPType = netip.IPv6Unspecified(), snm, 255, ProtoICMPv6, 54, 54+24, ICMPv6NS
			p.NDTarget = v6B
		})},
		{"na", na, with(base6, func(p *Parsed) {
			p.Src, p.Dst, p.TTL, p.Proto, p.L4, p.L4End, p.ICMPType = v6B, v6A, 255, ProtoICMPv6, 54, 54+32, ICMPv6NA
			p.NDTarget, p.NDLinkAddr, p.NDHasLinkAddr = v6B, macB, true
		})},
		{"frag4 MF", frag4, with(base4, func(p *Parsed) { p.Proto, p.Fragment, p.L4End = ProtoUDP, true, 34+11 })},
		{"frag4 offset", fragOff4, with(base4, func(p *Parsed) { p.Proto, p.Fragment, p.L4End = ProtoUDP, true, 34+11 })},
		{"frag6", frag6, with(base6, func(p *Parsed) { p.Proto, p.Fragment, p.L4End = ProtoUDP, true, 54+16+20 })},
		{"gre4 not parsed", gre4, with(base4, func(p *Parsed) { p.Proto, p.L4End = 47, 34+11 })},
		{"arp request", arpFrame(t, 1, 0), Parsed{DstMAC: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, SrcMAC: macA,
			EtherType: EtherTypeARP, L3: 14, ARPOp: 1, ARPSenderMAC: macA, ARPSender: v4A, ARPTarget: v4B}},
		{"arp tagged", arpFrame(t, 2, 7), Parsed{DstMAC: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, SrcMAC: macA,
			Tagged: true, VLAN: 7, EtherType: EtherTypeARP, L3: 18, ARPOp: 2, ARPSenderMAC: macA, ARPSender: v4A, ARPTarget: v4B}},
		{"lldp", lldp, Parsed{DstMAC: macB, SrcMAC: macA, EtherType: 0x88cc, L3: 14}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p Parsed
			// Parse must reset everything: start from a dirty value.
			p.SrcPort, p.NDHasLinkAddr, p.Fragment = 9, true, true
			if err := p.Parse(c.frame); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if p != c.want {
				t.Errorf("Parse:\n got %+v\nwant %+v", p, c.want)
			}
			if p.Src.IsValid() && p.EtherType == EtherTypeIPv4 && !p.Src.Is4() {
				t.Errorf("IPv4 source %v is not Is4", p.Src)
			}
			if p.ARPSender.IsValid() && !p.ARPSender.Is4() {
				t.Errorf("ARP sender %v is not Is4", p.ARPSender)
			}
			if p.EtherType == EtherTypeIPv4 && !IPv4HeaderChecksumOK(c.frame, &p) {
				t.Error("IPv4HeaderChecksumOK = false on a gopacket-built frame")
			}
		})
	}
}

func TestIPv4HeaderChecksumOK(t *testing.T) {
	f := build(t, tcpSpec(v4A, v4B, 0, nil))
	p := mustParse(t, f)
	if !IPv4HeaderChecksumOK(f, p) {
		t.Fatal("valid header reported bad")
	}
	f[14+10] ^= 1
	if IPv4HeaderChecksumOK(f, p) {
		t.Fatal("corrupted header reported good")
	}
	f6 := build(t, tcpSpec(v6A, v6B, 0, nil))
	if IPv4HeaderChecksumOK(f6, mustParse(t, f6)) {
		t.Fatal("IPv6 frame reported as a good IPv4 header")
	}
}

func TestParseErrors(t *testing.T) {
	// Long enough payloads that gopacket adds no Ethernet padding.
	tcp4 := build(t, tcpSpec(v4A, v4B, 0, []byte("0123456789abcdef")))
	tcp6 := build(t, tcpSpec(v6A, v6B, 0, []byte("0123456789abcdef")))
	udp4 := build(t, udpSpec(v4A, v4B, 0, []byte("abcd")))
	ns := build(t, ndSpec(v6A, v6B, ICMPv6NS, v6B, layers.ICMPv6OptSourceAddress, macA[:]))
	mod := func(f []byte, fn func(b []byte)) []byte {
		b := append([]byte(nil), f...)
		fn(b)
		return b
	}
	qinq := mod(tcp4, func(b []byte) { b[12], b[13] = 0x88, 0xa8 })
	twoTags := append(append(append([]byte(nil), tcp4[:12]...), 0x81, 0, 0, 5, 0x81, 0, 0, 6), tcp4[12:]...)
	cases := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"empty", nil, ErrTruncated},
		{"short ethernet", tcp4[:13], ErrTruncated},
		{"short tag", mod(tcp4[:16], func(b []byte) { b[12], b[13] = 0x81, 0 }), ErrTruncated},
		{"qinq", qinq, ErrUnsupported},
		{"two tags", twoTags, ErrUnsupported},
		{"ipv4 short header", tcp4[:14+19], ErrTruncated},
		{"ipv4 version", mod(tcp4, func(b []byte) { b[14] = 0x55 }), ErrBadHeader},
		{"ipv4 ihl 4", mod(tcp4, func(b []byte) { b[14] = 0x44 }), ErrBadHeader},
		{"ipv4 ihl past frame", mod(tcp4[:14+30], func(b []byte) { b[14] = 0x4f; b[16], b[17] = 0, 30 }), ErrBadHeader},
		{"ipv4 total < ihl", mod(tcp4, func(b []byte) { b[16], b[17] = 0, 19 }), ErrBadHeader},
		{"ipv4 total > frame", tcp4[:len(tcp4)-1], ErrTruncated},
		{"tcp short", mod(tcp4, func(b []byte) { b[16], b[17] = 0, 20+19 }), ErrTruncated},
		{"tcp doff 4", mod(tcp4, func(b []byte) { b[34+12] = 0x40 }), ErrBadHeader},
		{"tcp doff past payload", mod(tcp4, func(b []byte) { b[34+12] = 0xf0 }), ErrTruncated},
		{"udp len 7", mod(udp4, func(b []byte) { b[34+5] = 7 }), ErrBadHeader},
		{"udp len past ip", mod(udp4, func(b []byte) { b[34+5] = 13 }), ErrBadHeader},
		{"ipv6 short header", tcp6[:14+39], ErrTruncated},
		{"ipv6 version", mod(tcp6, func(b []byte) { b[14] = 0x45 }), ErrBadHeader},
		{"ipv6 payload > frame", tcp6[:len(tcp6)-1], ErrTruncated},
		{"ipv6 ext past payload", mod(withExt(tcp6, 14, []byte{60}, 0), func(b []byte) { b[54+1] = 9 }), ErrTruncated},
		{"ipv6 routing segs left", withExt(tcp6, 14, []byte{43}, 2), ErrUnsupported},
		{"ipv6 frag header short", mod(tcp6[:54+4], func(b []byte) { b[14+6] = 44; b[18], b[19] = 0, 4 }), ErrTruncated},
		{"nd option len 0", mod(ns, func(b []byte) { b[54+25] = 0 }), ErrBadHeader},
		{"nd option past end", mod(ns, func(b []byte) { b[54+25] = 2 }), ErrTruncated},
		{"nd short", mod(ns[:54+20], func(b []byte) { b[18], b[19] = 0, 20 }), ErrTruncated},
		{"arp short", arpFrame(t, 1, 0)[:14+27], ErrTruncated},
		{"arp not ethernet/ipv4", mod(arpFrame(t, 1, 0), func(b []byte) { b[15] = 6 }), ErrUnsupported},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p Parsed
			if err := p.Parse(c.frame); !errors.Is(err, c.want) {
				t.Fatalf("Parse = %v, want %v", err, c.want)
			}
		})
	}
}

func TestParseDoesNotWrite(t *testing.T) {
	f := build(t, tcpSpec(v6A, v6B, 3, []byte("payload")))
	orig := bytes.Clone(f)
	mustParse(t, f)
	if !bytes.Equal(f, orig) {
		t.Fatal("Parse modified the frame")
	}
}

func TestParseAllocs(t *testing.T) {
	frames := [][]byte{
		build(t, tcpSpec(v4A, v4B, 100, []byte("x"))),
		build(t, tcpSpec(v6A, v6B, 0, []byte("x"))),
		build(t, ndSpec(v6A, v6B, ICMPv6NS, v6B, layers.ICMPv6OptSourceAddress, macA[:])),
		arpFrame(t, 1, 0),
		{1, 2, 3},
	}
	var p Parsed
	for _, f := range frames {
		if n := testing.AllocsPerRun(100, func() { _ = p.Parse(f) }); n != 0 {
			t.Errorf("Parse allocates %v times per run", n)
		}
	}
}

// fixIPv4Checksum recomputes the header checksum of the IPv4 header at l3.
func fixIPv4Checksum(f []byte, l3 int) {
	h := f[l3 : l3+int(f[l3]&0xf)*4]
	h[10], h[11] = 0, 0
	binary.BigEndian.PutUint16(h[10:], ^refFold(refSum(h, 0)))
}
