package packet

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// ErrNoRoom is returned by Translate when the buffer's capacity cannot hold
// the translated packet.
var ErrNoRoom = errors.New("packet: no room in buffer")

// Translate converts the IPv4 packet of a parsed frame to IPv6 or the other
// way round (stateful NAT46/NAT64 header translation in the manner of SIIT,
// RFC 7915), for TCP and UDP.
//
// buf is the frame given to Parse; it is re-sliced up to its capacity, which
// must hold the result (cap(buf) >= p.L3 + new header + L4 length; IPv4 to
// IPv6 grows the packet by at most 20 bytes). The new IP header is written at
// p.L3 with src and dst (of the other family), the L4 segment moved right
// behind it with its ports set to src and dst's ports, the TTL / hop limit
// and TOS / traffic class kept, and the EtherType before p.L3 updated.
// IPv4 options and IPv6 extension headers are dropped; the IPv4 header gets
// DF set and ID 0 (an atomic datagram, RFC 6864). The L4 checksum is
// updated incrementally, so a corrupted segment stays detectably corrupted,
// except for IPv4 UDP without a checksum, which gets a full one (IPv6
// requires it).
//
// It returns the new end of the IP packet: the frame is buf[:l3end]
// (Ethernet padding after the old packet is dropped). p is updated to
// describe the new packet, so later rewrites stay consistent.
//
// Errors: ErrUnsupported for fragments, protocols other than TCP/UDP,
// addresses of the wrong family or an IPv4 result over 65535 bytes;
// ErrNoRoom when the capacity is short. The frame is untouched on error.
func Translate(buf []byte, p *Parsed, src, dst netip.AddrPort) (l3end int, err error) {
	if p.L4 == 0 || p.Fragment || (p.Proto != ProtoTCP && p.Proto != ProtoUDP) {
		return 0, ErrUnsupported
	}
	to4 := p.EtherType == EtherTypeIPv6
	if to4 && !(src.Addr().Is4() && dst.Addr().Is4()) || !to4 && !(src.Addr().Is6() && dst.Addr().Is6()) {
		return 0, ErrUnsupported
	}
	segLen := p.L4End - p.L4
	hdrLen := 40
	if to4 {
		hdrLen = 20
		if hdrLen+segLen > 0xffff {
			return 0, ErrUnsupported
		}
	}
	end := p.L3 + hdrLen + segLen
	if end > cap(buf) {
		return 0, ErrNoRoom
	}
	buf = buf[:cap(buf)]
	h := buf[p.L3:]

	var tos uint8
	if to4 {
		tos = h[0]<<4 | h[1]>>4
	} else {
		tos = h[1]
	}
	seg := buf[p.L4:p.L4End]
	csumOff := 16
	if p.Proto == ProtoUDP {
		csumOff = 6
	}
	oldSum := binary.BigEndian.Uint16(seg[csumOff:])
	noUDPSum := p.Proto == ProtoUDP && oldSum == 0 && !to4
	delta := addrDelta(p.Src, src.Addr()) + addrDelta(p.Dst, dst.Addr()) +
		wordDelta(p.SrcPort, src.Port()) + wordDelta(p.DstPort, dst.Port())

	// Move the segment first: the old header fields still needed were read.
	copy(buf[p.L3+hdrLen:], seg)
	seg = buf[p.L3+hdrLen : end]
	binary.BigEndian.PutUint16(seg[0:], src.Port())
	binary.BigEndian.PutUint16(seg[2:], dst.Port())

	if to4 {
		h[0], h[1] = 0x45, tos
		binary.BigEndian.PutUint16(h[2:], uint16(hdrLen+segLen))
		binary.BigEndian.PutUint32(h[4:], 0x4000) // ID 0, DF
		h[8], h[9] = p.TTL, p.Proto
		h[10], h[11] = 0, 0
		s, d := src.Addr().As4(), dst.Addr().As4()
		copy(h[12:16], s[:])
		copy(h[16:20], d[:])
		binary.BigEndian.PutUint16(h[10:], Checksum(h[:20], 0))
		binary.BigEndian.PutUint16(buf[p.L3-2:], EtherTypeIPv4)
	} else {
		binary.BigEndian.PutUint32(h[0:], 6<<28|uint32(tos)<<20)
		binary.BigEndian.PutUint16(h[4:], uint16(segLen))
		h[6], h[7] = p.Proto, p.TTL
		s, d := src.Addr().As16(), dst.Addr().As16()
		copy(h[8:24], s[:])
		copy(h[24:40], d[:])
		binary.BigEndian.PutUint16(buf[p.L3-2:], EtherTypeIPv6)
	}

	switch {
	case noUDPSum:
		ulen := int(binary.BigEndian.Uint16(seg[4:]))
		seg[6], seg[7] = 0, 0
		sum := Checksum(seg[:ulen], PseudoHeaderSum(src.Addr(), dst.Addr(), ProtoUDP, ulen))
		binary.BigEndian.PutUint16(seg[6:], UDPChecksum(sum))
	case p.Proto == ProtoUDP:
		binary.BigEndian.PutUint16(seg[6:], UDPChecksum(applyDelta(oldSum, delta)))
	default:
		binary.BigEndian.PutUint16(seg[16:], applyDelta(oldSum, delta))
	}

	if to4 {
		p.EtherType = EtherTypeIPv4
	} else {
		p.EtherType = EtherTypeIPv6
	}
	p.Src, p.Dst = src.Addr(), dst.Addr()
	p.SrcPort, p.DstPort = src.Port(), dst.Port()
	p.L4 = p.L3 + hdrLen
	p.L4End = end
	return end, nil
}
