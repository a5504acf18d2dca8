package packet_test

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/spklab/spklab/dataplane/packet"
)

// A NAT hop: a client's SYN to a VIP is sent on to a pod from a self IP and
// port, with a new Ethernet header tagged for VLAN 20 in front.
func Example() {
	// The frame sits after Headroom bytes of room for the new L2 header.
	buf := make([]byte, packet.Headroom+54)
	frame := buf[packet.Headroom:]
	writeSYN(frame)

	var p packet.Parsed
	if err := p.Parse(frame); err != nil {
		fmt.Println(err)
		return
	}
	packet.SetDst(frame, &p, netip.MustParseAddrPort("10.244.1.5:8080"))
	packet.SetSrc(frame, &p, netip.MustParseAddrPort("10.1.20.100:40001"))
	if !packet.DecTTL(frame, &p) {
		return // TTL expired: drop
	}
	l3 := packet.Headroom + p.L3
	start := packet.WriteEthernet(buf, l3, [6]byte{2, 0, 0, 0, 0, 2}, [6]byte{2, 0, 0, 0, 0, 1}, 20, p.EtherType)
	out := buf[start : packet.Headroom+p.L4End]

	var q packet.Parsed
	_ = q.Parse(out)
	tcp := out[q.L4:q.L4End]
	fmt.Println("vlan", q.VLAN, netip.AddrPortFrom(q.Src, q.SrcPort), "->", netip.AddrPortFrom(q.Dst, q.DstPort), "ttl", q.TTL)
	fmt.Println("ip checksum ok:", packet.IPv4HeaderChecksumOK(out, &q),
		"tcp checksum ok:", packet.Checksum(tcp, packet.PseudoHeaderSum(q.Src, q.Dst, q.Proto, len(tcp))) == 0)
	// Output:
	// vlan 20 10.1.20.100:40001 -> 10.244.1.5:8080 ttl 63
	// ip checksum ok: true tcp checksum ok: true
}

// writeSYN writes a 54-byte TCP/IPv4 SYN 198.51.100.7:50000 -> 192.0.2.80:80.
func writeSYN(f []byte) {
	copy(f, []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 9, 0x08, 0x00})
	ip := f[14:34]
	copy(ip, []byte{0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 198, 51, 100, 7, 192, 0, 2, 80})
	binary.BigEndian.PutUint16(ip[10:], packet.Checksum(ip, 0))
	tcp := f[34:54]
	copy(tcp, []byte{0xc3, 0x50, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, packet.TCPSyn, 0xff, 0xff})
	src, dst := netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
	binary.BigEndian.PutUint16(tcp[16:], packet.Checksum(tcp, packet.PseudoHeaderSum(src, dst, packet.ProtoTCP, 20)))
}
