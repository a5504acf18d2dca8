package conntrack

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
)

// IP protocol numbers the table treats specially.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
)

// Key is one direction of a flow as seen on the wire. It is comparable and
// usable as a map key.
type Key struct {
	// Zone separates address spaces that may overlap (egress: the
	// tenant's VNI; ingress: 0).
	Zone             uint32
	Proto            uint8
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
}

// String formats k for logs and flow dumps.
func (k Key) String() string {
	return fmt.Sprintf("zone %d proto %d %s -> %s",
		k.Zone, k.Proto, netip.AddrPortFrom(k.Src, k.SrcPort), netip.AddrPortFrom(k.Dst, k.DstPort))
}

// Reverse returns the key of the packets travelling the other way, which is
// the reply key of a flow that is not translated.
func (k Key) Reverse() Key {
	return Key{Zone: k.Zone, Proto: k.Proto, Src: k.Dst, Dst: k.Src, SrcPort: k.DstPort, DstPort: k.SrcPort}
}

// hash mixes every field of k with the table's seed. It only picks a shard
// (the shard's map hashes again), so it needs speed and well-mixed low bits
// more than strength; it never allocates, unlike hashing through an
// interface would.
func (k *Key) hash(seed uint64) uint64 {
	s, d := k.Src.As16(), k.Dst.As16()
	misc := uint64(k.Zone)<<32 | uint64(k.Proto)<<24 | uint64(k.SrcPort)<<8 ^ uint64(k.DstPort)
	h := mix(binary.LittleEndian.Uint64(s[:8])^seed, binary.LittleEndian.Uint64(s[8:])^0x9e3779b97f4a7c15)
	h ^= mix(binary.LittleEndian.Uint64(d[:8])^0xbf58476d1ce4e5b9, binary.LittleEndian.Uint64(d[8:])^seed)
	return mix(h^misc, seed^0x94d049bb133111eb)
}

// mix is the folded 128-bit multiply used by wyhash-style hashes.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}
