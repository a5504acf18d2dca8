package packet

import (
	"encoding/binary"
	"net/netip"
)

// Sum adds data to the one's complement running sum initial, as 16-bit
// big-endian words (an odd trailing byte is padded with zero). The result is
// not folded; pass it on to Sum again or finish it with Fold or Checksum.
//
// Words are added 32 bits at a time into a 64-bit accumulator: carries pile
// up in the high bits and are folded once at the end, which is equivalent to
// end-around carry for the one's complement sum (RFC 1071 §2).
func Sum(data []byte, initial uint32) uint32 {
	acc := uint64(initial)
	for len(data) >= 32 {
		acc += uint64(binary.BigEndian.Uint32(data[0:4]))
		acc += uint64(binary.BigEndian.Uint32(data[4:8]))
		acc += uint64(binary.BigEndian.Uint32(data[8:12]))
		acc += uint64(binary.BigEndian.Uint32(data[12:16]))
		acc += uint64(binary.BigEndian.Uint32(data[16:20]))
		acc += uint64(binary.BigEndian.Uint32(data[20:24]))
		acc += uint64(binary.BigEndian.Uint32(data[24:28]))
		acc += uint64(binary.BigEndian.Uint32(data[28:32]))
		data = data[32:]
	}
	for len(data) >= 4 {
		acc += uint64(binary.BigEndian.Uint32(data))
		data = data[4:]
	}
	if len(data) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(data))
		data = data[2:]
	}
	if len(data) == 1 {
		acc += uint64(data[0]) << 8
	}
	// Fold 64 -> 32 bits keeping one's complement semantics.
	acc = (acc >> 32) + (acc & 0xffffffff)
	acc = (acc >> 32) + (acc & 0xffffffff)
	return uint32(acc)
}

// Fold folds a running sum to 16 bits with end-around carry. It returns 0
// only when every word added was 0.
func Fold(sum uint32) uint16 {
	sum = (sum >> 16) + (sum & 0xffff)
	sum = (sum >> 16) + (sum & 0xffff)
	return uint16(sum)
}

// Checksum returns the Internet checksum (RFC 1071) of data, starting from
// the running sum initial (0, or a pseudo-header sum from PseudoHeaderSum).
// Over data that already holds a correct checksum it returns 0.
func Checksum(data []byte, initial uint32) uint16 {
	return ^Fold(Sum(data, initial))
}

// PseudoHeaderSum is the running sum of the TCP/UDP/ICMPv6 pseudo-header
// (RFC 793, RFC 768, RFC 8200 §8.1) for src, dst (both IPv4 or both IPv6),
// the upper-layer protocol and length.
func PseudoHeaderSum(src, dst netip.Addr, proto uint8, length int) uint32 {
	return addrSum(src) + addrSum(dst) + uint32(proto) + uint32(length>>16) + uint32(length&0xffff)
}

// addrSum is the unfolded sum of an address's 16-bit words (4 bytes for
// IPv4, 16 for IPv6).
func addrSum(a netip.Addr) uint32 {
	if a.Is4() {
		b := a.As4()
		return (uint32(b[0])<<8 | uint32(b[1])) + (uint32(b[2])<<8 | uint32(b[3]))
	}
	b := a.As16()
	var s uint32
	for i := 0; i < 16; i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	return s
}

// Update16 returns checksum csum after one 16-bit word it covers changed
// from old to new (RFC 1624 eqn 3: HC' = ~(~HC + ~m + m')).
//
// The result is what a full recomputation gives for checksums that are
// stored as computed (IPv4 header, TCP, ICMP): one's complement arithmetic
// has two zeros and the incremental form can land on 0xffff where the full
// form gives 0x0000, so that case is mapped back. For UDP, whose zero means
// "no checksum", use UDPChecksum on the result.
func Update16(csum, old, new uint16) uint16 {
	return finish(uint32(^csum) + uint32(^old) + uint32(new))
}

// UpdateAddr returns checksum csum after an address it covers (directly or
// through the pseudo-header) changed from old to new. See Update16 for the
// result's form.
func UpdateAddr(csum uint16, old, new netip.Addr) uint16 {
	return applyDelta(csum, addrDelta(old, new))
}

// UDPChecksum maps a computed UDP checksum of 0 to 0xffff: on the wire 0
// means "not computed" (RFC 768).
func UDPChecksum(csum uint16) uint16 {
	if csum == 0 {
		return 0xffff
	}
	return csum
}

// addrDelta is the running sum that, added to a checksum's complement,
// replaces address old with new: sum(~old words) + sum(new words). The
// families may differ (header translation).
func addrDelta(old, new netip.Addr) uint32 {
	// The sum of ~w over old's words is 0xffff*words - sum(old words); it
	// cannot go negative since each word is at most 0xffff.
	words := uint32(8)
	if old.Is4() {
		words = 2
	}
	return 0xffff*words - addrSum(old) + addrSum(new)
}

// bytesDelta is addrDelta for addresses held as raw bytes (even length).
func bytesDelta(old, new []byte) uint32 {
	var s uint32
	for i := 0; i+1 < len(old); i += 2 {
		s += uint32(^binary.BigEndian.Uint16(old[i:])) + uint32(binary.BigEndian.Uint16(new[i:]))
	}
	return s
}

// wordDelta is the running sum replacing one 16-bit word old with new.
func wordDelta(old, new uint16) uint32 {
	return uint32(^old) + uint32(new)
}

// applyDelta applies a running-sum delta to a stored checksum.
func applyDelta(csum uint16, delta uint32) uint16 {
	return finish(uint32(^csum) + delta)
}

// finish folds a running sum into a checksum, mapping the incremental form's
// negative zero (0xffff) to the 0x0000 a full computation gives.
func finish(sum uint32) uint16 {
	c := ^Fold(sum)
	if c == 0xffff {
		return 0
	}
	return c
}
