package packet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// roomy copies f into a buffer with 64 spare bytes of capacity.
func roomy(f []byte) []byte {
	b := make([]byte, len(f), len(f)+64)
	copy(b, f)
	return b
}

func TestTranslateRoundTrip(t *testing.T) {
	payload := []byte("a payload of odd length")
	tcp6 := build(t, tcpSpec(v6A, v6B, 0, payload))
	cases := map[string][]byte{
		"tcp4":         build(t, tcpSpec(v4A, v4B, 0, payload)),
		"tcp4 tagged":  build(t, tcpSpec(v4A, v4B, 42, payload)),
		"udp4":         build(t, udpSpec(v4A, v4B, 0, payload)),
		"tcp4 options": build(t, spec{src: v4A, dst: v4B, l4: &layers.TCP{SrcPort: 1, DstPort: 2, ACK: true}, payload: payload, ipv4opts: []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}}),
		"tcp6":         tcp6,
		"tcp6 ext":     withExt(tcp6, 14, []byte{0, 60}, 0),
		"udp6 tagged":  build(t, udpSpec(v6A, v6B, 7, payload)),
		"tcp4 padded":  build(t, tcpSpec(v4A, v4B, 0, []byte("x"))), // gopacket pads to 60 bytes
	}
	for name, orig := range cases {
		t.Run(name, func(t *testing.T) {
			buf := roomy(orig)
			buf[14+1] = 0 // keep any TOS/TC bits simple below; set explicitly
			p := mustParse(t, buf)
			before := *p
			origSeg := bytes.Clone(orig[p.L4:p.L4End])
			tos := uint8(0xb8) // DSCP EF
			if p.EtherType == EtherTypeIPv4 {
				buf[p.L3+1] = tos
				fixIPv4Checksum(buf, p.L3)
			} else {
				buf[p.L3], buf[p.L3+1] = 0x60|tos>>4, tos<<4
			}

			var src, dst netip.AddrPort
			if p.EtherType == EtherTypeIPv4 {
				src, dst = netip.MustParseAddrPort("[2001:db8:64::c000:20a]:30000"), netip.MustParseAddrPort("[2001:db8:1::10]:8080")
			} else {
				src, dst = netip.MustParseAddrPort("10.0.0.1:30000"), netip.MustParseAddrPort("10.0.1.10:8080")
			}
			end, err := Translate(buf, p, src, dst)
			if err != nil {
				t.Fatalf("Translate: %v", err)
			}
			f := buf[:end]
			q := mustParse(t, f)
			if *q != *p {
				t.Errorf("p after Translate differs from a fresh parse:\n have %+v\n want %+v", *p, *q)
			}
			if q.Src != src.Addr() || q.Dst != dst.Addr() || q.SrcPort != src.Port() || q.DstPort != dst.Port() {
				t.Errorf("translated to %v:%d -> %v:%d", q.Src, q.SrcPort, q.Dst, q.DstPort)
			}
			if q.TTL != before.TTL || q.Proto != before.Proto || q.Tagged != before.Tagged || q.VLAN != before.VLAN {
				t.Errorf("TTL/proto/VLAN not kept: %+v", q)
			}
			hl := 20
			if q.Proto == ProtoUDP {
				hl = 8
			}
			if q.L4End-q.L4 != before.L4End-before.L4 || !bytes.Equal(f[q.L4+hl:q.L4End], origSeg[hl:]) {
				t.Error("L4 payload not carried over")
			}
			checkExact(t, f, q, "after Translate")
			pkt := decode(t, f)
			if q.EtherType == EtherTypeIPv4 {
				ip := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
				if ip.Flags != layers.IPv4DontFragment || ip.IHL != 5 || ip.TOS != tos || !IPv4HeaderChecksumOK(f, q) {
					t.Errorf("IPv4 header: flags %v IHL %d TOS %#x", ip.Flags, ip.IHL, ip.TOS)
				}
			} else {
				ip := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
				if ip.TrafficClass != tos || ip.FlowLabel != 0 || ip.NextHeader != layers.IPProtocol(q.Proto) {
					t.Errorf("IPv6 header: TC %#x flow %d next %v", ip.TrafficClass, ip.FlowLabel, ip.NextHeader)
				}
			}

			// And back: the L4 segment must come out byte for byte as it
			// went in, checksum included.
			back, err := Translate(buf, q, netip.AddrPortFrom(before.Src, before.SrcPort), netip.AddrPortFrom(before.Dst, before.DstPort))
			if err != nil {
				t.Fatalf("Translate back: %v", err)
			}
			r := mustParse(t, buf[:back])
			if r.Src != before.Src || r.Dst != before.Dst || r.EtherType != before.EtherType {
				t.Errorf("round trip gave %v -> %v", r.Src, r.Dst)
			}
			if !bytes.Equal(buf[r.L4:r.L4End], origSeg) {
				t.Errorf("round trip changed the L4 segment:\n got %x\nwant %x", buf[r.L4:r.L4End], origSeg)
			}
			decode(t, buf[:back])
		})
	}
}

func TestTranslateUDPZeroChecksum(t *testing.T) {
	buf := roomy(build(t, udpSpec(v4A, v4B, 0, []byte("no checksum"))))
	p := mustParse(t, buf)
	binary.BigEndian.PutUint16(buf[p.L4+6:], 0)
	end, err := Translate(buf, p, netip.AddrPortFrom(v6A, 1), netip.AddrPortFrom(v6B, 2))
	if err != nil {
		t.Fatal(err)
	}
	buf = buf[:end]
	q := mustParse(t, buf)
	if binary.BigEndian.Uint16(buf[q.L4+6:]) == 0 {
		t.Fatal("IPv6 UDP left without a checksum")
	}
	checkExact(t, buf[:end], q, "UDP 4->6 from zero checksum")
	decode(t, buf[:end])
}

func TestTranslateErrors(t *testing.T) {
	v4 := netip.AddrPortFrom(v4A, 1)
	v6 := netip.AddrPortFrom(v6A, 1)
	frag := build(t, udpSpec(v4A, v4B, 0, []byte("fragment")))
	frag[14+6] |= 0x20
	fixIPv4Checksum(frag, 14)
	tcp4 := build(t, tcpSpec(v4A, v4B, 0, []byte("0123456789abcdef")))
	cases := []struct {
		name     string
		frame    []byte
		src, dst netip.AddrPort
		want     error
	}{
		{"icmp", build(t, echoSpec(v4A, v4B, 1, nil)), v6, v6, ErrUnsupported},
		{"fragment", frag, v6, v6, ErrUnsupported},
		{"same family", tcp4, v4, v4, ErrUnsupported},
		{"mixed families", tcp4, v6, v4, ErrUnsupported},
		{"invalid address", tcp4, v6, netip.AddrPort{}, ErrUnsupported},
		{"no room", tcp4, v6, v6, ErrNoRoom},
		{"6 to 6", build(t, tcpSpec(v6A, v6B, 0, nil)), v6, v6, ErrUnsupported},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			buf := c.frame[:len(c.frame):len(c.frame)] // no spare capacity
			orig := bytes.Clone(buf)
			p := mustParse(t, buf)
			pb := *p
			if _, err := Translate(buf, p, c.src, c.dst); !errors.Is(err, c.want) {
				t.Fatalf("Translate = %v, want %v", err, c.want)
			}
			if !bytes.Equal(buf, orig) || *p != pb {
				t.Error("failed Translate changed the frame or p")
			}
		})
	}
}

// TestTranslateRandom translates random TCP/UDP frames both ways and checks
// the L4 checksum against a full recomputation.
func TestTranslateRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 1000; {
		f, kind := randomFrame(t, rng)
		if kind == "echo" {
			continue
		}
		i++
		buf := roomy(f)
		p := mustParse(t, buf)
		v4 := p.EtherType == EtherTypeIPv6
		end, err := Translate(buf, p, randomAddrPort(rng, v4), randomAddrPort(rng, v4))
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		wip, wl4 := wantChecksums(buf[:end], p)
		hip, hl4 := haveChecksums(buf[:end], p)
		if wip != hip || wl4 != hl4 {
			t.Fatalf("frame %d (%s %x): checksums %#04x %#04x, want %#04x %#04x", i, kind, f, hip, hl4, wip, wl4)
		}
		if i%50 == 0 {
			decode(t, buf[:end])
		}
	}
}

func TestTranslateAllocs(t *testing.T) {
	f := roomy(build(t, tcpSpec(v4A, v4B, 0, []byte("x"))))
	var p Parsed
	a6, b6 := netip.AddrPortFrom(v6A, 1), netip.AddrPortFrom(v6B, 2)
	a4, b4 := netip.AddrPortFrom(v4A, 1), netip.AddrPortFrom(v4B, 2)
	n := testing.AllocsPerRun(100, func() {
		_ = p.Parse(f)
		end, _ := Translate(f, &p, a6, b6)
		_, _ = Translate(f[:end], &p, a4, b4)
	})
	if n != 0 {
		t.Errorf("Translate allocates %v times per run", n)
	}
}
