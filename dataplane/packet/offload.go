package packet

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// VNetHdrLen is the size of struct virtio_net_hdr (without num_buffers), the
// header an AF_PACKET socket with PACKET_VNET_HDR puts in front of frames.
const VNetHdrLen = 10

// virtio_net_hdr flags and GSO types (include/uapi/linux/virtio_net.h).
const (
	VNetFlagNeedsCsum = 1 // only the pseudo-header sum is in the checksum field
	VNetFlagDataValid = 2 // the checksum was already verified

	VNetGSONone  = 0
	VNetGSOTCPv4 = 1
	VNetGSOUDP   = 3 // UFO (IP fragmentation); not produced by current kernels
	VNetGSOTCPv6 = 4
	VNetGSOUDPL4 = 5
	VNetGSOECN   = 0x80 // flag on GSOType: the TCP flow uses ECN (CWR set)
)

// VNetHdr is a decoded virtio_net_hdr. Its 16-bit fields are in host byte
// order: AF_PACKET uses the legacy virtio layout, native endian.
type VNetHdr struct {
	Flags      uint8
	GSOType    uint8
	HdrLen     uint16 // length of the headers to copy in each segment (a hint)
	GSOSize    uint16 // payload bytes per segment
	CsumStart  uint16 // offset from the frame start where checksumming begins
	CsumOffset uint16 // where to store the checksum, relative to CsumStart
}

// ParseVNetHdr decodes the VNetHdrLen bytes at the start of b.
func ParseVNetHdr(b []byte) VNetHdr {
	_ = b[VNetHdrLen-1]
	return VNetHdr{
		Flags:      b[0],
		GSOType:    b[1],
		HdrLen:     binary.NativeEndian.Uint16(b[2:]),
		GSOSize:    binary.NativeEndian.Uint16(b[4:]),
		CsumStart:  binary.NativeEndian.Uint16(b[6:]),
		CsumOffset: binary.NativeEndian.Uint16(b[8:]),
	}
}

// Put encodes h into the first VNetHdrLen bytes of b.
func (h VNetHdr) Put(b []byte) {
	_ = b[VNetHdrLen-1]
	b[0] = h.Flags
	b[1] = h.GSOType
	binary.NativeEndian.PutUint16(b[2:], h.HdrLen)
	binary.NativeEndian.PutUint16(b[4:], h.GSOSize)
	binary.NativeEndian.PutUint16(b[6:], h.CsumStart)
	binary.NativeEndian.PutUint16(b[8:], h.CsumOffset)
}

// IsGSO reports whether the frame is a super-frame to be segmented.
func (h VNetHdr) IsGSO() bool { return h.GSOType&^VNetGSOECN != VNetGSONone }

// ErrBadOffload is returned for a virtio_net_hdr that does not fit its frame.
var ErrBadOffload = errors.New("packet: bad offload header")

// CompleteChecksum finishes a CHECKSUM_PARTIAL frame as the kernel's
// skb_checksum_help does: the field at start+offset holds the pseudo-header
// sum, so the complement of the sum over frame[start:] (that field included)
// is the full checksum. A result of 0 is stored as 0xffff, which is the same
// value in one's complement and keeps UDP's "no checksum" meaning out.
func CompleteChecksum(frame []byte, start, offset int) error {
	at := start + offset
	if start < 0 || offset < 0 || at+2 > len(frame) {
		return fmt.Errorf("%w: checksum at %d+%d outside a %d-byte frame", ErrBadOffload, start, offset, len(frame))
	}
	c := Checksum(frame[start:], 0)
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(frame[at:], c)
	return nil
}

// Segmenter cuts a GSO super-frame (TCP over IPv4/IPv6, or UDP_L4) into
// frames carrying at most GSOSize payload bytes each, with the headers fixed
// up as the kernel's software GSO would: IPv4 total length, incrementing ID
// and header checksum, IPv6 payload length, TCP sequence numbers, FIN/PSH on
// the last segment only, CWR on the first only, and full L4 checksums.
//
// The super-frame is only read, so it may point into a receive ring. A
// Segmenter holds no buffers; reuse one to avoid allocations.
type Segmenter struct {
	frame   []byte
	p       Parsed
	mss     int
	hdrEnd  int // end of the L4 header: segments copy frame[:hdrEnd]
	payEnd  int // end of the L4 payload per the IP length
	next    int // offset of the next segment's payload
	index   int // segments written so far
	udp     bool
	seq0    uint32
	id0     uint16
	tcpFlag uint8
}

// Reset prepares s to segment frame as described by h. It fails for frames
// that are not TCP (or UDP for VNetGSOUDPL4) over IP with the matching
// family, fragments, a zero GSOSize, or lengths that do not fit the frame.
func (s *Segmenter) Reset(frame []byte, h VNetHdr) error {
	*s = Segmenter{frame: frame, mss: int(h.GSOSize)}
	if s.mss == 0 {
		return fmt.Errorf("%w: GSO type %d with gso_size 0", ErrBadOffload, h.GSOType)
	}
	if err := s.p.Parse(frame); err != nil {
		return fmt.Errorf("GSO super-frame: %w", err)
	}
	if s.p.Fragment || s.p.L4 == 0 {
		return fmt.Errorf("%w: GSO super-frame is a fragment or has no L4 header", ErrBadOffload)
	}
	gso := h.GSOType &^ VNetGSOECN
	switch {
	case gso == VNetGSOTCPv4 && s.p.EtherType == EtherTypeIPv4 && s.p.Proto == ProtoTCP,
		gso == VNetGSOTCPv6 && s.p.EtherType == EtherTypeIPv6 && s.p.Proto == ProtoTCP:
		thl := int(frame[s.p.L4+12]>>4) * 4
		if thl < 20 || s.p.L4+thl > s.p.L4End {
			return fmt.Errorf("%w: TCP header length %d", ErrBadOffload, thl)
		}
		s.hdrEnd = s.p.L4 + thl
		s.seq0 = s.p.TCPSeq
		s.tcpFlag = frame[s.p.L4+13]
	case gso == VNetGSOUDPL4 && s.p.Proto == ProtoUDP:
		s.udp = true
		s.hdrEnd = s.p.L4 + 8
	default:
		return fmt.Errorf("%w: GSO type %d for EtherType %#x protocol %d", ErrBadOffload, h.GSOType, s.p.EtherType, s.p.Proto)
	}
	if s.p.EtherType == EtherTypeIPv4 {
		s.id0 = binary.BigEndian.Uint16(frame[s.p.L3+4:])
	}
	s.payEnd = s.p.L4End
	s.next = s.hdrEnd
	return nil
}

// Remaining is how many segments Next still has to write.
func (s *Segmenter) Remaining() int {
	left := s.payEnd - s.next
	if left <= 0 {
		if s.index == 0 && s.frame != nil {
			return 1 // a super-frame with no payload still goes out once
		}
		return 0
	}
	return (left + s.mss - 1) / s.mss
}

// MaxSegment is the length of the largest segment Next writes.
func (s *Segmenter) MaxSegment() int { return s.hdrEnd + min(s.mss, max(s.payEnd-s.hdrEnd, 0)) }

// Next writes the next segment into out and returns its length. It returns
// ErrNoRoom if out is too short (nothing is consumed) and 0, nil when all
// segments were written.
func (s *Segmenter) Next(out []byte) (int, error) {
	if s.Remaining() == 0 {
		return 0, nil
	}
	f, p := s.frame, &s.p
	end := min(s.next+s.mss, s.payEnd)
	n := s.hdrEnd + end - s.next
	if len(out) < n {
		return 0, ErrNoRoom
	}
	copy(out, f[:s.hdrEnd])
	copy(out[s.hdrEnd:n], f[s.next:end])
	first, last := s.index == 0, end == s.payEnd
	l3, l4 := p.L3, p.L4
	if p.EtherType == EtherTypeIPv4 {
		ihl := int(out[l3]&0x0f) * 4
		binary.BigEndian.PutUint16(out[l3+2:], uint16(n-l3))
		binary.BigEndian.PutUint16(out[l3+4:], s.id0+uint16(s.index))
		binary.BigEndian.PutUint16(out[l3+10:], 0)
		binary.BigEndian.PutUint16(out[l3+10:], Checksum(out[l3:l3+ihl], 0))
	} else {
		binary.BigEndian.PutUint16(out[l3+4:], uint16(n-l3-40))
	}
	l4len := n - l4
	if s.udp {
		binary.BigEndian.PutUint16(out[l4+4:], uint16(l4len))
		binary.BigEndian.PutUint16(out[l4+6:], 0)
		binary.BigEndian.PutUint16(out[l4+6:], UDPChecksum(Checksum(out[l4:n], PseudoHeaderSum(p.Src, p.Dst, ProtoUDP, l4len))))
	} else {
		binary.BigEndian.PutUint32(out[l4+4:], s.seq0+uint32(s.next-s.hdrEnd))
		flags := s.tcpFlag
		if !last {
			flags &^= TCPFin | TCPPsh
		}
		if !first {
			flags &^= tcpCwr
		}
		out[l4+13] = flags
		binary.BigEndian.PutUint16(out[l4+16:], 0)
		binary.BigEndian.PutUint16(out[l4+16:], Checksum(out[l4:n], PseudoHeaderSum(p.Src, p.Dst, ProtoTCP, l4len)))
	}
	s.next = end
	s.index++
	return n, nil
}

// tcpCwr is the TCP Congestion Window Reduced flag (RFC 3168).
const tcpCwr = 0x80
