package packet

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse and, when it accepts them, to
// every rewrite. Nothing may panic; frames are passed with no spare
// capacity (and Translate with exactly the capacity it may use, guarded
// beyond), so a write outside the frame panics or shows in the guard;
// checksums that were valid must stay valid; bytes outside the IP packet
// must not change.
func FuzzParse(f *testing.F) {
	f.Add(build(f, tcpSpec(v4A, v4B, 5, []byte("seed"))))
	f.Add(build(f, udpSpec(v6A, v6B, 0, []byte("seed"))))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := len(data)
		frame := bytes.Clone(data)[:n:n]
		var p Parsed
		if err := p.Parse(frame); err != nil {
			return
		}
		if !bytes.Equal(frame, data) {
			t.Fatal("Parse modified the frame")
		}
		if p.L3 > n || p.L4End > n || p.L4 != 0 && (p.L4 <= p.L3 || p.L4 > p.L4End) {
			t.Fatalf("offsets out of the frame: L3 %d L4 %d L4End %d len %d", p.L3, p.L4, p.L4End, n)
		}
		if !p.Src.IsValid() {
			return // not IP
		}
		if (p.EtherType == EtherTypeIPv4) != p.Src.Is4() {
			t.Fatalf("family of %v does not match EtherType %#x", p.Src, p.EtherType)
		}
		hdrOK := p.EtherType == EtherTypeIPv4 && IPv4HeaderChecksumOK(frame, &p)
		l4OK := p.L4 != 0 && l4Valid(frame, &p)

		// Addresses and ports derived from the input, same family.
		var raw [18]byte
		copy(raw[:], data[max(0, n-18):])
		a4 := netip.AddrPortFrom(netip.AddrFrom4([4]byte(raw[:4])), binary.BigEndian.Uint16(raw[16:]))
		a6 := netip.AddrPortFrom(netip.AddrFrom16([16]byte(raw[:16])), binary.BigEndian.Uint16(raw[16:]))
		same, other := a4, a6
		if p.EtherType == EtherTypeIPv6 {
			same, other = a6, a4
		}

		SetSrc(frame, &p, same)
		SetDst(frame, &p, netip.AddrPortFrom(same.Addr(), same.Port()^0x5555))
		ttl := p.TTL
		if DecTTL(frame, &p) != (ttl > 1) {
			t.Fatal("DecTTL result does not match the TTL")
		}
		if !bytes.Equal(frame[:p.L3], data[:p.L3]) || !bytes.Equal(frame[p.L4End:], data[p.L4End:]) {
			t.Fatal("rewrite changed bytes outside the IP packet")
		}
		var q Parsed
		if err := q.Parse(frame); err != nil {
			t.Fatalf("rewritten frame no longer parses: %v", err)
		}
		if q != p {
			t.Fatalf("p after rewrites differs from a fresh parse:\n have %+v\n want %+v", p, q)
		}
		if hdrOK && !IPv4HeaderChecksumOK(frame, &p) {
			t.Fatal("rewrite broke a valid IPv4 header checksum")
		}
		if l4OK && !l4Valid(frame, &p) {
			t.Fatal("rewrite broke a valid L4 checksum")
		}

		// Translate gets up to 20 bytes more, then a guard it must not touch.
		const guard = 16
		big := make([]byte, n+20+guard)
		copy(big, frame)
		for i := n + 20; i < len(big); i++ {
			big[i] = 0xa5
		}
		buf := big[: n : n+20]
		end, err := Translate(buf, &p, other, netip.AddrPortFrom(other.Addr(), 7))
		for i := n + 20; i < len(big); i++ {
			if big[i] != 0xa5 {
				t.Fatal("Translate wrote past the buffer's capacity")
			}
		}
		if err != nil {
			if !bytes.Equal(big[:n], frame) || p != q {
				t.Fatal("failed Translate changed the frame or p")
			}
			return
		}
		if !bytes.Equal(big[:p.L3-2], frame[:p.L3-2]) {
			t.Fatal("Translate changed the Ethernet header beyond the EtherType")
		}
		var r Parsed
		if err := r.Parse(big[:end]); err != nil {
			t.Fatalf("translated frame does not parse: %v", err)
		}
		if r != p {
			t.Fatalf("p after Translate differs from a fresh parse:\n have %+v\n want %+v", p, r)
		}
		if !IPv4HeaderChecksumOK(big[:end], &r) && r.EtherType == EtherTypeIPv4 {
			t.Fatal("translated IPv4 header checksum is wrong")
		}
		if l4OK && !l4Valid(big[:end], &r) {
			t.Fatal("Translate broke a valid L4 checksum")
		}
	})
}
