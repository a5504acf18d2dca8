// Package packet parses Ethernet frames and rewrites, translates and builds
// them in place for the emulated TMM's NAT data plane.
//
// Everything here runs once or more per packet, so nothing allocates: Parse
// fills a caller-owned Parsed, rewrites patch the frame and update checksums
// incrementally (RFC 1624), builders write into caller-owned buffers.
//
// Frames live in a buffer with Headroom bytes in front of them. Operations
// that add headers in front (WriteEthernet, EncapVXLAN) write into the
// headroom and return the frame's new start offset.
//
// Offsets in Parsed (L3, L4, L4End) are relative to the frame slice given to
// Parse; rewrites take that same slice.
//
// Incremental checksum updates assume the frame carries complete checksums.
// Frames read from an interface with TX checksum offload may carry partial
// ones (CHECKSUM_PARTIAL: only the pseudo-header sum); the port must
// complete them or the lab must turn the offload off.
//
// Measured on this package's benchmarks (one run on a shared 2-CPU VM, no
// allocations in any): Parse of a tagged TCP/IPv4 frame 14 ns, TCP/IPv6
// 18 ns; SetSrc+SetDst 42 ns (IPv4) / 52 ns (IPv6); Translate 4->6 and back
// 145 ns; Checksum of 1500 bytes 150 ns; VXLAN over IPv6 (UDP checksum over
// a 1.4 kB inner frame) 190 ns.
package packet

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Headroom is the room callers keep in front of a frame for headers added by
// WriteEthernet and EncapVXLAN (the largest, VXLAN over IPv6 with a VLAN
// tag, needs 74 bytes).
const Headroom = 128

// EtherTypes, IP protocol numbers and ports this package knows.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeVLAN = 0x8100
	EtherTypeQinQ = 0x88a8
	EtherTypeIPv6 = 0x86dd

	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58

	VXLANPort = 4789
)

// TCP flags as in Parsed.TCPFlags.
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPPsh = 0x08
	TCPAck = 0x10
)

// ICMP and ICMPv6 types Parse looks into.
const (
	ICMPEchoReply     = 0
	ICMPEchoRequest   = 8
	ICMPv6EchoRequest = 128
	ICMPv6EchoReply   = 129
	ICMPv6NS          = 135
	ICMPv6NA          = 136
)

// Parse errors. They are plain sentinels, not wrapped, so that dropping a
// malformed frame costs no allocation; compare with errors.Is.
var (
	ErrTruncated   = errors.New("packet: truncated")
	ErrBadHeader   = errors.New("packet: bad header field")
	ErrUnsupported = errors.New("packet: unsupported")
)

// Parsed is what Parse found in a frame. All offsets are within the frame.
type Parsed struct {
	DstMAC, SrcMAC [6]byte
	Tagged         bool   // had one 802.1Q tag; QinQ is ErrUnsupported
	VLAN           uint16 // VLAN ID (12 bits) when Tagged, else 0
	EtherType      uint16 // after the tag
	L3             int    // offset of the L3 header

	// ARP (EtherType 0x0806, Ethernet/IPv4 only).
	ARPOp                      uint16
	ARPSenderMAC, ARPTargetMAC [6]byte
	ARPSender, ARPTarget       netip.Addr

	// IP.
	Src, Dst netip.Addr
	Proto    uint8 // upper-layer protocol, after IPv6 extension headers
	TTL      uint8 // TTL / hop limit
	Fragment bool  // IPv4 MF or offset != 0, or an IPv6 fragment header: L4 is then not parsed
	L4       int   // offset of the L4 header; 0 when not parsed
	L4End    int   // end of the IP payload per the IP length field (the frame may carry padding)

	SrcPort, DstPort uint16 // TCP/UDP ports; ICMP/ICMPv6 echo: the identifier in both
	TCPFlags         uint8  // TCPFin, TCPSyn, ...
	TCPSeq, TCPAck   uint32
	ICMPType         uint8 // ICMP / ICMPv6
	ICMPCode         uint8

	NDTarget      netip.Addr // ICMPv6 NS/NA target
	NDLinkAddr    [6]byte    // source (NS) / target (NA) link-layer address option
	NDHasLinkAddr bool
}

// Parse fills p from frame. On error p holds what was parsed before the
// error and must not be used for rewrites.
//
// L4 is parsed (Parsed.L4 != 0) for TCP, UDP, ICMP over IPv4 and ICMPv6 over
// IPv6 when the packet is not a fragment; other protocols leave L4 at 0.
//
// IPv6: hop-by-hop, destination options and routing headers with no
// segments left are skipped. A routing header with segments left is
// ErrUnsupported: the destination in the header is not the final one, so
// neither the L4 checksum nor a NAT rewrite of it would be meaningful.
// AH, ESP and "no next header" end the chain with Proto set and L4 not
// parsed.
func (p *Parsed) Parse(frame []byte) error {
	*p = Parsed{}
	if len(frame) < 14 {
		return ErrTruncated
	}
	copy(p.DstMAC[:], frame[0:6])
	copy(p.SrcMAC[:], frame[6:12])
	et := binary.BigEndian.Uint16(frame[12:])
	p.L3 = 14
	switch et {
	case EtherTypeQinQ:
		return ErrUnsupported
	case EtherTypeVLAN:
		if len(frame) < 18 {
			return ErrTruncated
		}
		p.Tagged = true
		p.VLAN = binary.BigEndian.Uint16(frame[14:]) & 0x0fff
		et = binary.BigEndian.Uint16(frame[16:])
		p.L3 = 18
		if et == EtherTypeVLAN || et == EtherTypeQinQ {
			return ErrUnsupported
		}
	}
	p.EtherType = et
	switch et {
	case EtherTypeIPv4:
		return p.parseIPv4(frame)
	case EtherTypeIPv6:
		return p.parseIPv6(frame)
	case EtherTypeARP:
		return p.parseARP(frame)
	}
	return nil
}

func (p *Parsed) parseARP(frame []byte) error {
	b := frame[p.L3:]
	if len(b) < 28 {
		return ErrTruncated
	}
	// Hardware Ethernet (1), protocol IPv4, lengths 6 and 4.
	if binary.BigEndian.Uint16(b[0:]) != 1 || binary.BigEndian.Uint16(b[2:]) != EtherTypeIPv4 || b[4] != 6 || b[5] != 4 {
		return ErrUnsupported
	}
	p.ARPOp = binary.BigEndian.Uint16(b[6:])
	copy(p.ARPSenderMAC[:], b[8:14])
	p.ARPSender = netip.AddrFrom4([4]byte(b[14:18]))
	copy(p.ARPTargetMAC[:], b[18:24])
	p.ARPTarget = netip.AddrFrom4([4]byte(b[24:28]))
	return nil
}

func (p *Parsed) parseIPv4(frame []byte) error {
	b := frame[p.L3:]
	if len(b) < 20 {
		return ErrTruncated
	}
	if b[0]>>4 != 4 {
		return ErrBadHeader
	}
	hlen := int(b[0]&0x0f) * 4
	if hlen < 20 {
		return ErrBadHeader
	}
	total := int(binary.BigEndian.Uint16(b[2:]))
	if total < hlen {
		return ErrBadHeader
	}
	if total > len(b) {
		return ErrTruncated
	}
	p.TTL = b[8]
	p.Proto = b[9]
	p.Src = netip.AddrFrom4([4]byte(b[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	p.L4End = p.L3 + total
	// MF flag or a non-zero fragment offset.
	if binary.BigEndian.Uint16(b[6:])&0x3fff != 0 {
		p.Fragment = true
		return nil
	}
	switch p.Proto {
	case ProtoTCP, ProtoUDP, ProtoICMP:
		return p.parseL4(frame, p.L3+hlen)
	}
	return nil
}

func (p *Parsed) parseIPv6(frame []byte) error {
	b := frame[p.L3:]
	if len(b) < 40 {
		return ErrTruncated
	}
	if b[0]>>4 != 6 {
		return ErrBadHeader
	}
	end := p.L3 + 40 + int(binary.BigEndian.Uint16(b[4:]))
	if end > len(frame) {
		return ErrTruncated
	}
	p.TTL = b[7]
	p.Src = netip.AddrFrom16([16]byte(b[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	p.L4End = end
	next := b[6]
	off := p.L3 + 40
	for {
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if end-off < 8 {
				return ErrTruncated
			}
			n := (int(frame[off+1]) + 1) * 8
			if end-off < n {
				return ErrTruncated
			}
			if next == 43 && frame[off+3] != 0 {
				p.Proto = next
				return ErrUnsupported
			}
			next = frame[off]
			off += n
			continue
		case 44: // fragment
			if end-off < 8 {
				return ErrTruncated
			}
			p.Proto = frame[off]
			p.Fragment = true
			return nil
		}
		break
	}
	p.Proto = next
	switch next {
	case ProtoTCP, ProtoUDP, ProtoICMPv6:
		return p.parseL4(frame, off)
	}
	return nil
}

// parseL4 parses the TCP, UDP, ICMP or ICMPv6 header at off, bounded by
// p.L4End.
func (p *Parsed) parseL4(frame []byte, off int) error {
	b := frame[off:p.L4End]
	switch p.Proto {
	case ProtoTCP:
		if len(b) < 20 {
			return ErrTruncated
		}
		doff := int(b[12]>>4) * 4
		if doff < 20 {
			return ErrBadHeader
		}
		if doff > len(b) {
			return ErrTruncated
		}
		p.SrcPort = binary.BigEndian.Uint16(b[0:])
		p.DstPort = binary.BigEndian.Uint16(b[2:])
		p.TCPSeq = binary.BigEndian.Uint32(b[4:])
		p.TCPAck = binary.BigEndian.Uint32(b[8:])
		p.TCPFlags = b[13]
	case ProtoUDP:
		if len(b) < 8 {
			return ErrTruncated
		}
		// The UDP length may be shorter than the IP payload (the rest is
		// ignored) but never longer or shorter than its own header.
		ulen := int(binary.BigEndian.Uint16(b[4:]))
		if ulen < 8 || ulen > len(b) {
			return ErrBadHeader
		}
		p.SrcPort = binary.BigEndian.Uint16(b[0:])
		p.DstPort = binary.BigEndian.Uint16(b[2:])
	case ProtoICMP:
		if len(b) < 4 {
			return ErrTruncated
		}
		p.ICMPType, p.ICMPCode = b[0], b[1]
		if p.ICMPType == ICMPEchoRequest || p.ICMPType == ICMPEchoReply {
			if len(b) < 8 {
				return ErrTruncated
			}
			p.SrcPort = binary.BigEndian.Uint16(b[4:])
			p.DstPort = p.SrcPort
		}
	case ProtoICMPv6:
		if len(b) < 4 {
			return ErrTruncated
		}
		p.ICMPType, p.ICMPCode = b[0], b[1]
		switch p.ICMPType {
		case ICMPv6EchoRequest, ICMPv6EchoReply:
			if len(b) < 8 {
				return ErrTruncated
			}
			p.SrcPort = binary.BigEndian.Uint16(b[4:])
			p.DstPort = p.SrcPort
		case ICMPv6NS, ICMPv6NA:
			if err := p.parseND(b); err != nil {
				return err
			}
		}
	}
	p.L4 = off
	return nil
}

// parseND reads the target and the link-layer address option of an NS
// (source link-layer, type 1) or NA (target link-layer, type 2).
func (p *Parsed) parseND(b []byte) error {
	if len(b) < 24 {
		return ErrTruncated
	}
	p.NDTarget = netip.AddrFrom16([16]byte(b[8:24]))
	want := byte(1)
	if p.ICMPType == ICMPv6NA {
		want = 2
	}
	for opts := b[24:]; len(opts) > 0; {
		if len(opts) < 2 {
			return ErrTruncated
		}
		n := int(opts[1]) * 8
		if n == 0 {
			return ErrBadHeader // RFC 4861 §4.6: a zero length option is invalid
		}
		if n > len(opts) {
			return ErrTruncated
		}
		if opts[0] == want && n == 8 {
			copy(p.NDLinkAddr[:], opts[2:8])
			p.NDHasLinkAddr = true
		}
		opts = opts[n:]
	}
	return nil
}

// IPv4HeaderChecksumOK reports whether the IPv4 header of a parsed frame has
// a correct checksum (Parse does not check it: the kernel or NIC did).
func IPv4HeaderChecksumOK(frame []byte, p *Parsed) bool {
	if p.EtherType != EtherTypeIPv4 || len(frame) < p.L3+20 {
		return false
	}
	hlen := int(frame[p.L3]&0x0f) * 4
	if hlen < 20 || len(frame) < p.L3+hlen {
		return false
	}
	return Checksum(frame[p.L3:p.L3+hlen], 0) == 0
}
