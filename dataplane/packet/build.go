package packet

import (
	"encoding/binary"
	"net/netip"
)

// minFrame is the shortest Ethernet frame without FCS; builders pad up to it
// because some receivers (and every real NIC) expect no runts.
const minFrame = 60

// broadcastMAC is the Ethernet broadcast address (unexported: never written).
var broadcastMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// WriteEthernet writes an Ethernet header, with an 802.1Q tag when vlan !=
// 0, ending at l3, and returns its start. The caller guarantees the room
// (14 or 18 bytes, see Headroom).
func WriteEthernet(buf []byte, l3 int, dst, src [6]byte, vlan uint16, etherType uint16) (start int) {
	start = l3 - 14
	if vlan != 0 {
		start = l3 - 18
		binary.BigEndian.PutUint16(buf[l3-4:], vlan&0x0fff)
		binary.BigEndian.PutUint16(buf[l3-2:], etherType)
		etherType = EtherTypeVLAN
	}
	copy(buf[start:], dst[:])
	copy(buf[start+6:], src[:])
	binary.BigEndian.PutUint16(buf[start+12:], etherType)
	return start
}

// ethLen is the length of the Ethernet header WriteEthernet writes.
func ethLen(vlan uint16) int {
	if vlan != 0 {
		return 18
	}
	return 14
}

// writeIPv4 writes a 20-byte IPv4 header (no options) with its checksum.
func writeIPv4(h []byte, src, dst netip.Addr, proto uint8, ttl uint8, total int, id uint16, df bool) {
	h[0], h[1] = 0x45, 0
	binary.BigEndian.PutUint16(h[2:], uint16(total))
	binary.BigEndian.PutUint16(h[4:], id)
	var frag uint16
	if df {
		frag = 0x4000
	}
	binary.BigEndian.PutUint16(h[6:], frag)
	h[8], h[9] = ttl, proto
	h[10], h[11] = 0, 0
	s, d := src.As4(), dst.As4()
	copy(h[12:16], s[:])
	copy(h[16:20], d[:])
	binary.BigEndian.PutUint16(h[10:], Checksum(h[:20], 0))
}

// writeIPv6 writes a 40-byte IPv6 header (traffic class and flow label 0).
func writeIPv6(h []byte, src, dst netip.Addr, proto uint8, hopLimit uint8, payloadLen int) {
	binary.BigEndian.PutUint32(h[0:], 6<<28)
	binary.BigEndian.PutUint16(h[4:], uint16(payloadLen))
	h[6], h[7] = proto, hopLimit
	s, d := src.As16(), dst.As16()
	copy(h[8:24], s[:])
	copy(h[24:40], d[:])
}

// pad zero-fills out from n up to the minimum frame length and returns the
// frame.
func pad(out []byte, n int) []byte {
	if n < minFrame {
		clear(out[n:minFrame])
		n = minFrame
	}
	return out[:n]
}

// ARPReply writes into out (len >= 128) the reply to ARP request req,
// announcing that req.ARPTarget is at mac, and returns the frame.
func ARPReply(out []byte, req *Parsed, mac [6]byte, vlan uint16) []byte {
	return writeARP(out, 2, req.SrcMAC, mac, req.ARPTarget, req.ARPSenderMAC, req.ARPSender, vlan)
}

// ARPRequest writes into out (len >= 128) a broadcast ARP request from
// srcMAC/src asking for target, and returns the frame.
func ARPRequest(out []byte, srcMAC [6]byte, src, target netip.Addr, vlan uint16) []byte {
	return writeARP(out, 1, broadcastMAC, srcMAC, src, [6]byte{}, target, vlan)
}

func writeARP(out []byte, op uint16, ethDst, sha [6]byte, spa netip.Addr, tha [6]byte, tpa netip.Addr, vlan uint16) []byte {
	l3 := ethLen(vlan)
	WriteEthernet(out, l3, ethDst, sha, vlan, EtherTypeARP)
	b := out[l3 : l3+28]
	binary.BigEndian.PutUint16(b[0:], 1) // Ethernet
	binary.BigEndian.PutUint16(b[2:], EtherTypeIPv4)
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:], op)
	copy(b[8:14], sha[:])
	s := spa.As4()
	copy(b[14:18], s[:])
	copy(b[18:24], tha[:])
	t := tpa.As4()
	copy(b[24:28], t[:])
	return pad(out, l3+28)
}

// allNodes is the IPv6 link-local all-nodes multicast address (unexported:
// never written).
var allNodes = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 0x01})

// SolicitedNode returns the solicited-node multicast address of a
// (ff02::1:ffXX:XXXX, RFC 4291 §2.7.1).
func SolicitedNode(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 11: 0x01, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]})
}

// MulticastMAC returns the Ethernet address an IPv6 multicast group maps to
// (33:33 and the group's low 32 bits, RFC 2464 §7).
func MulticastMAC(group netip.Addr) [6]byte {
	b := group.As16()
	return [6]byte{0x33, 0x33, b[12], b[13], b[14], b[15]}
}

// NeighborAdvert writes into out (len >= 128) the neighbor advertisement
// answering ns: target ns.NDTarget at mac (target link-layer option),
// override set, hop limit 255, sent from the target address to ns.Src. When
// ns.Src is unspecified (duplicate address detection) it goes to all-nodes
// with the solicited flag clear, as RFC 4861 §7.2.4 requires.
func NeighborAdvert(out []byte, ns *Parsed, mac [6]byte, vlan uint16) []byte {
	dst, ethDst := ns.Src, ns.SrcMAC
	flags := uint8(0x60) // solicited, override
	if ns.Src.IsUnspecified() {
		dst, ethDst = allNodes, MulticastMAC(allNodes)
		flags = 0x20
	}
	return writeND(out, ICMPv6NA, flags, ethDst, mac, ns.NDTarget, dst, ns.NDTarget, 2, true, vlan)
}

// NeighborSolicit writes into out (len >= 128) a neighbor solicitation from
// srcMAC/src for target, sent to target's solicited-node multicast group,
// with a source link-layer option unless src is unspecified (DAD, RFC 4861
// §4.3). Returns the frame.
func NeighborSolicit(out []byte, srcMAC [6]byte, src, target netip.Addr, vlan uint16) []byte {
	group := SolicitedNode(target)
	return writeND(out, ICMPv6NS, 0, MulticastMAC(group), srcMAC, src, group, target, 1, !src.IsUnspecified(), vlan)
}

func writeND(out []byte, typ, flags uint8, ethDst, mac [6]byte, src, dst, target netip.Addr, optType uint8, withOpt bool, vlan uint16) []byte {
	l3 := ethLen(vlan)
	WriteEthernet(out, l3, ethDst, mac, vlan, EtherTypeIPv6)
	n := 24
	if withOpt {
		n += 8
	}
	writeIPv6(out[l3:], src, dst, ProtoICMPv6, 255, n)
	m := out[l3+40 : l3+40+n]
	clear(m)
	m[0] = typ
	m[4] = flags
	t := target.As16()
	copy(m[8:24], t[:])
	if withOpt {
		m[24], m[25] = optType, 1
		copy(m[26:32], mac[:])
	}
	binary.BigEndian.PutUint16(m[2:], Checksum(m, PseudoHeaderSum(src, dst, ProtoICMPv6, n)))
	return out[:l3+40+n]
}

// TCPReset writes into out (len >= 128) the RST answering the TCP segment
// of a parsed frame (MACs, addresses and ports swapped) and returns the
// frame. As RFC 9293 §3.10.7.1 prescribes: a segment without ACK (a SYN)
// gets RST|ACK with seq 0 and ack = its seq + its length (payload, SYN and
// FIN each count); a segment with ACK gets a bare RST with seq = its ack.
// IPv4: TTL 64, DF; IPv6: hop limit 64.
func TCPReset(out []byte, frame []byte, p *Parsed, vlan uint16) []byte {
	var seq, ack uint32
	flags := uint8(TCPRst)
	if p.TCPFlags&TCPAck != 0 {
		seq = p.TCPAck
	} else {
		segLen := p.L4End - p.L4 - int(frame[p.L4+12]>>4)*4
		if p.TCPFlags&TCPSyn != 0 {
			segLen++
		}
		if p.TCPFlags&TCPFin != 0 {
			segLen++
		}
		ack = p.TCPSeq + uint32(segLen)
		flags |= TCPAck
	}
	l3 := ethLen(vlan)
	hl := 20
	et := uint16(EtherTypeIPv4)
	if p.EtherType == EtherTypeIPv6 {
		hl, et = 40, EtherTypeIPv6
	}
	WriteEthernet(out, l3, p.SrcMAC, p.DstMAC, vlan, et)
	if hl == 20 {
		writeIPv4(out[l3:], p.Dst, p.Src, ProtoTCP, 64, 40, 0, true)
	} else {
		writeIPv6(out[l3:], p.Dst, p.Src, ProtoTCP, 64, 20)
	}
	tcp := out[l3+hl : l3+hl+20]
	clear(tcp)
	binary.BigEndian.PutUint16(tcp[0:], p.DstPort)
	binary.BigEndian.PutUint16(tcp[2:], p.SrcPort)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[12], tcp[13] = 5<<4, flags
	binary.BigEndian.PutUint16(tcp[16:], Checksum(tcp, PseudoHeaderSum(p.Dst, p.Src, ProtoTCP, 20)))
	return pad(out, l3+hl+20)
}
