package packet

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// rewriteFrames are frames of every kind the rewrites handle.
func rewriteFrames(t testing.TB) map[string][]byte {
	odd := []byte("odd")
	even := []byte("even")
	tcp6 := build(t, tcpSpec(v6A, v6B, 0, odd))
	udp4zero := build(t, udpSpec(v4A, v4B, 0, odd))
	binary.BigEndian.PutUint16(udp4zero[34+6:], 0)
	return map[string][]byte{
		"tcp4":          build(t, tcpSpec(v4A, v4B, 0, odd)),
		"tcp4 tagged":   build(t, tcpSpec(v4A, v4B, 100, even)),
		"tcp4 options":  build(t, spec{src: v4A, dst: v4B, l4: &layers.TCP{SrcPort: 1, DstPort: 2, SYN: true}, payload: odd, ipv4opts: []layers.IPv4Option{{OptionType: 1}, {OptionType: 0}}}),
		"tcp6":          tcp6,
		"tcp6 ext":      withExt(tcp6, 14, []byte{0, 60}, 0),
		"udp4":          build(t, udpSpec(v4A, v4B, 0, odd)),
		"udp4 zero sum": udp4zero,
		"udp6":          build(t, udpSpec(v6A, v6B, 9, even)),
		"echo4":         build(t, echoSpec(v4A, v4B, 77, odd)),
		"echo6":         build(t, echoSpec(v6A, v6B, 77, even)),
		"na":            build(t, ndSpec(v6A, v6B, ICMPv6NA, v6A, layers.ICMPv6OptTargetAddress, macA[:])),
	}
}

func addrPortFor(a netip.Addr, port uint16) netip.AddrPort {
	if a.Is4() {
		return netip.AddrPortFrom(netip.MustParseAddr("10.1.2.3"), port)
	}
	return netip.AddrPortFrom(netip.MustParseAddr("2001:db8:ffff::1234"), port)
}

func TestSetSrcSetDst(t *testing.T) {
	for name, orig := range rewriteFrames(t) {
		t.Run(name, func(t *testing.T) {
			f := bytes.Clone(orig)
			p := mustParse(t, f)
			zeroUDP := p.Proto == ProtoUDP && p.EtherType == EtherTypeIPv4 && binary.BigEndian.Uint16(f[p.L4+6:]) == 0
			newSrc := addrPortFor(p.Src, 1111)
			newDst := netip.AddrPortFrom(v4B, 2222)
			if p.Dst.Is6() {
				newDst = netip.AddrPortFrom(v6A, 2222)
			}
			SetSrc(f, p, newSrc)
			SetDst(f, p, newDst)
			checkExact(t, f, p, "after SetSrc+SetDst")
			decode(t, f)

			again := mustParse(t, f)
			if *again != *p {
				t.Errorf("p after rewrites differs from a fresh parse:\n have %+v\n want %+v", *p, *again)
			}
			if again.Src != newSrc.Addr() || again.Dst != newDst.Addr() {
				t.Errorf("addresses %v -> %v, want %v -> %v", again.Src, again.Dst, newSrc.Addr(), newDst.Addr())
			}
			switch {
			case p.Proto == ProtoTCP || p.Proto == ProtoUDP:
				if again.SrcPort != 1111 || again.DstPort != 2222 {
					t.Errorf("ports %d -> %d, want 1111 -> 2222", again.SrcPort, again.DstPort)
				}
			case isEcho(p):
				// SetDst ran last; the identifier stands for both ports.
				if again.SrcPort != 2222 {
					t.Errorf("echo id %d, want 2222", again.SrcPort)
				}
			}
			if zeroUDP && binary.BigEndian.Uint16(f[p.L4+6:]) != 0 {
				t.Error("IPv4 UDP checksum 0 (none) was changed")
			}
			// Only the rewritten fields may change.
			changed := 0
			for i := range f {
				if f[i] != orig[i] {
					changed++
				}
			}
			if max := 4 + 2*16 + 4 + 2; changed > max {
				t.Errorf("%d bytes changed, more than addresses, ports and checksums", changed)
			}
		})
	}
}

// TestRewriteEveryPort rewrites the port (identifier) through all 65536
// values, each time on the previous result, so checksums cross 0x0000 and
// 0xffff both as results and as starting points; each must be exactly what a
// full recomputation gives.
func TestRewriteEveryPort(t *testing.T) {
	for _, name := range []string{"tcp4", "tcp6", "udp4", "udp6", "echo4", "echo6"} {
		t.Run(name, func(t *testing.T) {
			f := rewriteFrames(t)[name]
			p := mustParse(t, f)
			var sawZero bool
			for port := range 1 << 16 {
				a := netip.AddrPortFrom(p.Src, uint16(port))
				if port%2 == 0 {
					SetSrc(f, p, a)
				} else {
					SetDst(f, p, netip.AddrPortFrom(p.Dst, uint16(port)))
				}
				wip, wl4 := wantChecksums(f, p)
				hip, hl4 := haveChecksums(f, p)
				if wip != hip || wl4 != hl4 {
					t.Fatalf("port %d: checksums ip %#04x l4 %#04x, full recomputation gives %#04x %#04x", port, hip, hl4, wip, wl4)
				}
				if (p.Proto == ProtoUDP && hl4 == 0xffff) || (p.Proto != ProtoUDP && hl4 == 0) {
					sawZero = true
				}
			}
			if !sawZero {
				t.Error("no port gave a zero-sum checksum; the edge case was not exercised")
			}
			decode(t, f)
		})
	}
}

func TestRewriteFragmentTouchesIPOnly(t *testing.T) {
	f := build(t, udpSpec(v4A, v4B, 0, []byte("fragment")))
	f[14+6] |= 0x20
	fixIPv4Checksum(f, 14)
	p := mustParse(t, f)
	l4 := bytes.Clone(f[34:])
	SetSrc(f, p, netip.AddrPortFrom(v4B, 9))
	if !bytes.Equal(f[34:], l4) {
		t.Error("rewrite of a fragment changed bytes after the IP header")
	}
	if !IPv4HeaderChecksumOK(f, p) || mustParse(t, f).Src != v4B {
		t.Error("fragment source not rewritten with a valid header checksum")
	}
}

func TestDecTTL(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		for _, ttl := range []uint8{0, 1, 2, 64, 255} {
			s := tcpSpec(v4A, v4B, 0, nil)
			if v6 {
				s = tcpSpec(v6A, v6B, 0, nil)
			}
			s.ttl = ttl
			f := build(t, s)
			if ttl == 0 { // build treats 0 as default; set it by hand
				if v6 {
					f[14+7] = 0
				} else {
					f[14+8] = 0
					fixIPv4Checksum(f, 14)
				}
			}
			orig := bytes.Clone(f)
			p := mustParse(t, f)
			ok := DecTTL(f, p)
			if ok != (ttl > 1) {
				t.Errorf("v6=%v ttl %d: DecTTL = %v", v6, ttl, ok)
			}
			if !ok {
				if !bytes.Equal(f, orig) || p.TTL != ttl {
					t.Errorf("v6=%v ttl %d: refused DecTTL changed the frame or p", v6, ttl)
				}
				continue
			}
			q := mustParse(t, f)
			if q.TTL != ttl-1 || p.TTL != ttl-1 {
				t.Errorf("v6=%v ttl %d: now %d (p says %d)", v6, ttl, q.TTL, p.TTL)
			}
			checkExact(t, f, p, "after DecTTL")
			decode(t, f)
		}
	}
	// Sweep every TTL so the header checksum passes through its edge values.
	f := build(t, tcpSpec(v4A, v4B, 0, nil))
	f[14+8] = 255
	for i := range 256 {
		f[14+1] = uint8(i) // vary the TOS so the checksum takes many values
		fixIPv4Checksum(f, 14)
		p := mustParse(t, f)
		for DecTTL(f, p) {
			checkExact(t, f, p, "TTL sweep")
		}
		f[14+8] = 255
	}
}

// TestRewriteRandom is a property test: random frames (family, protocol,
// VLAN, payload length, odd and even) go through random sequences of
// rewrites; after each one the checksums must equal a full recomputation.
func TestRewriteRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		f, _ := randomFrame(t, rng)
		p := mustParse(t, f)
		checkExact(t, f, p, "as built")
		for step := range 1 + rng.IntN(6) {
			switch rng.IntN(3) {
			case 0:
				SetSrc(f, p, randomAddrPort(rng, p.Src.Is4()))
			case 1:
				SetDst(f, p, randomAddrPort(rng, p.Dst.Is4()))
			case 2:
				DecTTL(f, p)
			}
			wip, wl4 := wantChecksums(f, p)
			hip, hl4 := haveChecksums(f, p)
			if wip != hip || wl4 != hl4 {
				t.Fatalf("frame %d step %d (%x): checksums %#04x %#04x, want %#04x %#04x", i, step, f, hip, hl4, wip, wl4)
			}
		}
		if i%50 == 0 {
			decode(t, f)
		}
	}
}

func randomAddrPort(rng *rand.Rand, v4 bool) netip.AddrPort {
	var b [16]byte
	for i := range b {
		b[i] = uint8(rng.Uint32())
	}
	if v4 {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), uint16(rng.Uint32()))
	}
	b[0] = 0x20 // keep clear of v4-mapped and multicast
	return netip.AddrPortFrom(netip.AddrFrom16(b), uint16(rng.Uint32()))
}

// randomFrame builds a random TCP, UDP or ICMP echo frame with gopacket and
// returns it and a short description.
func randomFrame(t testing.TB, rng *rand.Rand) ([]byte, string) {
	v4 := rng.IntN(2) == 0
	src, dst := randomAddrPort(rng, v4), randomAddrPort(rng, v4)
	payload := make([]byte, rng.IntN(300))
	for i := range payload {
		payload[i] = uint8(rng.Uint32())
	}
	var vlan uint16
	if rng.IntN(2) == 0 {
		vlan = uint16(1 + rng.IntN(4094))
	}
	var s spec
	var kind string
	switch rng.IntN(3) {
	case 0:
		kind = "tcp"
		s = spec{l4: &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()),
			Seq: rng.Uint32(), Ack: rng.Uint32(), ACK: true, Window: uint16(rng.Uint32())}}
	case 1:
		kind = "udp"
		s = spec{l4: &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}}
	default:
		kind = "echo"
		s = echoSpec(src.Addr(), dst.Addr(), uint16(rng.Uint32()), nil)
	}
	s.src, s.dst, s.vlan, s.payload, s.ttl = src.Addr(), dst.Addr(), vlan, payload, uint8(1+rng.IntN(255))
	return build(t, s), kind
}

func TestRewriteAllocs(t *testing.T) {
	f := build(t, tcpSpec(v4A, v4B, 100, []byte("x")))
	p := mustParse(t, f)
	a, b := netip.AddrPortFrom(v4B, 1), netip.AddrPortFrom(v4A, 2)
	if n := testing.AllocsPerRun(100, func() { SetSrc(f, p, a); SetDst(f, p, b); DecTTL(f, p) }); n != 0 {
		t.Errorf("rewrites allocate %v times per run", n)
	}
}

func TestRewriteWrongFamilyPanics(t *testing.T) {
	f := build(t, tcpSpec(v4A, v4B, 0, nil))
	p := mustParse(t, f)
	defer func() {
		if recover() == nil {
			t.Error("SetSrc with an IPv6 address on an IPv4 packet did not panic")
		}
	}()
	SetSrc(f, p, netip.AddrPortFrom(v6A, 1))
}
