package packet

import (
	"encoding/binary"
	"net/netip"
)

// Outer describes the outer headers EncapVXLAN writes.
type Outer struct {
	DstMAC, SrcMAC [6]byte
	VLAN           uint16     // 802.1Q tag on the outer frame, 0 for none
	Src, Dst       netip.Addr // both IPv4 or both IPv6
	SrcPort        uint16     // UDP source port: flow entropy (RFC 7348 §5)
	VNI            uint32     // 24 bits
	IPID           uint16     // IPv4 identification
}

// EncapVXLAN writes outer Ethernet (+tag), IPv4 or IPv6, UDP (to port 4789)
// and VXLAN headers in front of the inner Ethernet frame at buf[inner:end]
// and returns the start of the outer frame (at most 74 bytes before inner).
// IPv4 outer: DF set, TTL 64, ID o.IPID and UDP checksum 0 (allowed by RFC
// 7348 and what Linux sends). IPv6 outer: hop limit 64 and the UDP checksum
// computed, since IPv6 requires it.
func EncapVXLAN(buf []byte, inner, end int, o Outer) (start int) {
	n := end - inner
	udpLen := 8 + 8 + n
	vx := buf[inner-8 : inner]
	binary.BigEndian.PutUint32(vx[0:], 0x08<<24) // I flag
	binary.BigEndian.PutUint32(vx[4:], (o.VNI&0xffffff)<<8)
	u := buf[inner-16 : inner-8]
	binary.BigEndian.PutUint16(u[0:], o.SrcPort)
	binary.BigEndian.PutUint16(u[2:], VXLANPort)
	binary.BigEndian.PutUint16(u[4:], uint16(udpLen))
	u[6], u[7] = 0, 0
	var l3 int
	var et uint16
	if o.Src.Is4() {
		l3, et = inner-16-20, EtherTypeIPv4
		writeIPv4(buf[l3:], o.Src, o.Dst, ProtoUDP, 64, 20+udpLen, o.IPID, true)
	} else {
		l3, et = inner-16-40, EtherTypeIPv6
		writeIPv6(buf[l3:], o.Src, o.Dst, ProtoUDP, 64, udpLen)
		sum := Checksum(buf[inner-16:end], PseudoHeaderSum(o.Src, o.Dst, ProtoUDP, udpLen))
		binary.BigEndian.PutUint16(u[6:], UDPChecksum(sum))
	}
	return WriteEthernet(buf, l3, o.DstMAC, o.SrcMAC, o.VLAN, et)
}

// ParseVXLAN reads the VXLAN header of a parsed UDP packet to port 4789: it
// checks the I flag and returns the VNI and the offset of the inner
// Ethernet frame, which spans frame[inner:p.L4End]. ok is false when the
// packet is not VXLAN or too short to hold an inner Ethernet header.
func ParseVXLAN(frame []byte, p *Parsed) (vni uint32, inner int, ok bool) {
	if p.L4 == 0 || p.Proto != ProtoUDP || p.DstPort != VXLANPort {
		return 0, 0, false
	}
	inner = p.L4 + 16
	if p.L4End-inner < 14 {
		return 0, 0, false
	}
	vx := frame[p.L4+8 : inner]
	if vx[0]&0x08 == 0 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint32(vx[4:]) >> 8, inner, true
}
