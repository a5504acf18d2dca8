package packet

import (
	"encoding/binary"
	"net/netip"
)

// SetSrc rewrites the source address and, for TCP/UDP, the source port
// (for ICMP/ICMPv6 echo, the identifier) of a frame Parse accepted, and
// updates the IPv4 header and L4 checksums incrementally and p's fields.
// When L4 was not parsed (fragments, other protocols) only the IP header is
// rewritten. a must be of the packet's family; anything else is a caller
// bug and panics.
func SetSrc(frame []byte, p *Parsed, a netip.AddrPort) {
	p.Src = rewriteAddr(frame, p, a, 12, 8, 0)
	if p.L4 != 0 && p.Proto != ProtoICMP && p.Proto != ProtoICMPv6 {
		p.SrcPort = a.Port()
	} else if isEcho(p) {
		p.SrcPort, p.DstPort = a.Port(), a.Port()
	}
}

// SetDst is SetSrc for the destination address and port. For ICMP echo the
// identifier stands for both ports, so SetDst changes it as well.
func SetDst(frame []byte, p *Parsed, a netip.AddrPort) {
	p.Dst = rewriteAddr(frame, p, a, 16, 24, 2)
	if p.L4 != 0 && p.Proto != ProtoICMP && p.Proto != ProtoICMPv6 {
		p.DstPort = a.Port()
	} else if isEcho(p) {
		p.SrcPort, p.DstPort = a.Port(), a.Port()
	}
}

// DecTTL decrements the TTL / hop limit, updating the IPv4 header checksum.
// It returns false, leaving the frame as it was, when the TTL was <= 1: the
// caller drops the packet (and may send ICMP time exceeded).
func DecTTL(frame []byte, p *Parsed) bool {
	if p.TTL <= 1 {
		return false
	}
	if p.EtherType == EtherTypeIPv4 {
		h := frame[p.L3:]
		// The TTL shares a 16-bit word with the protocol.
		old := binary.BigEndian.Uint16(h[8:])
		h[8]--
		csum := binary.BigEndian.Uint16(h[10:])
		binary.BigEndian.PutUint16(h[10:], Update16(csum, old, binary.BigEndian.Uint16(h[8:])))
	} else {
		frame[p.L3+7]--
	}
	p.TTL--
	return true
}

func isEcho(p *Parsed) bool {
	if p.L4 == 0 {
		return false
	}
	switch p.Proto {
	case ProtoICMP:
		return p.ICMPType == ICMPEchoRequest || p.ICMPType == ICMPEchoReply
	case ProtoICMPv6:
		return p.ICMPType == ICMPv6EchoRequest || p.ICMPType == ICMPv6EchoReply
	}
	return false
}

// rewriteAddr writes a's address at the IPv4 (off4) or IPv6 (off6) header
// offset and a's port at L4 offset portOff, fixing every checksum that
// covers them, and returns the new address.
func rewriteAddr(frame []byte, p *Parsed, a netip.AddrPort, off4, off6, portOff int) netip.Addr {
	addr := a.Addr()
	var field []byte
	var delta uint32 // checksum delta of the address change
	if p.EtherType == EtherTypeIPv4 {
		if !addr.Is4() {
			panic("packet: IPv6 address for an IPv4 packet")
		}
		field = frame[p.L3+off4 : p.L3+off4+4]
		new := addr.As4()
		delta = bytesDelta(field, new[:])
		copy(field, new[:])
		h := frame[p.L3:]
		binary.BigEndian.PutUint16(h[10:], applyDelta(binary.BigEndian.Uint16(h[10:]), delta))
	} else {
		if !addr.Is6() {
			panic("packet: IPv4 address for an IPv6 packet")
		}
		field = frame[p.L3+off6 : p.L3+off6+16]
		new := addr.As16()
		delta = bytesDelta(field, new[:])
		copy(field, new[:])
	}
	if p.L4 == 0 {
		return addr
	}
	l4 := frame[p.L4:p.L4End]
	switch p.Proto {
	case ProtoTCP:
		delta += portDelta(l4[portOff:], a.Port())
		binary.BigEndian.PutUint16(l4[16:], applyDelta(binary.BigEndian.Uint16(l4[16:]), delta))
	case ProtoUDP:
		delta += portDelta(l4[portOff:], a.Port())
		csum := binary.BigEndian.Uint16(l4[6:])
		// An IPv4 UDP checksum of 0 means none was computed; keep it so.
		if csum != 0 || p.EtherType == EtherTypeIPv6 {
			binary.BigEndian.PutUint16(l4[6:], UDPChecksum(applyDelta(csum, delta)))
		}
	case ProtoICMP:
		// The ICMP checksum covers no pseudo-header: only the identifier.
		if isEcho(p) {
			binary.BigEndian.PutUint16(l4[2:], applyDelta(binary.BigEndian.Uint16(l4[2:]), portDelta(l4[4:], a.Port())))
		}
	case ProtoICMPv6:
		if isEcho(p) {
			delta += portDelta(l4[4:], a.Port())
		}
		binary.BigEndian.PutUint16(l4[2:], applyDelta(binary.BigEndian.Uint16(l4[2:]), delta))
	}
	return addr
}

// portDelta writes port into the first two bytes of b and returns the
// checksum delta of the change.
func portDelta(b []byte, port uint16) uint32 {
	old := binary.BigEndian.Uint16(b)
	binary.BigEndian.PutUint16(b, port)
	return wordDelta(old, port)
}
