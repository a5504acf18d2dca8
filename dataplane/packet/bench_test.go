package packet

import (
	"net/netip"
	"testing"
)

func benchParse(b *testing.B, f []byte) {
	var p Parsed
	b.SetBytes(int64(len(f)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Parse(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseTCP4Tagged(b *testing.B) {
	benchParse(b, build(b, tcpSpec(v4A, v4B, 100, make([]byte, 64))))
}

func BenchmarkParseTCP6(b *testing.B) {
	benchParse(b, build(b, tcpSpec(v6A, v6B, 0, make([]byte, 64))))
}

func BenchmarkSetSrcSetDst(b *testing.B) {
	for _, c := range []struct {
		name     string
		src, dst netip.Addr
	}{{"v4", v4A, v4B}, {"v6", v6A, v6B}} {
		b.Run(c.name, func(b *testing.B) {
			f := build(b, tcpSpec(c.src, c.dst, 100, make([]byte, 64)))
			var p Parsed
			if err := p.Parse(f); err != nil {
				b.Fatal(err)
			}
			x, y := netip.AddrPortFrom(c.dst, 1000), netip.AddrPortFrom(c.src, 2000)
			b.ReportAllocs()
			for b.Loop() {
				SetSrc(f, &p, x)
				SetDst(f, &p, y)
			}
		})
	}
}

func BenchmarkTranslate(b *testing.B) {
	f := roomy(build(b, tcpSpec(v4A, v4B, 0, make([]byte, 512))))
	var p Parsed
	if err := p.Parse(f); err != nil {
		b.Fatal(err)
	}
	a6, b6 := netip.AddrPortFrom(v6A, 1), netip.AddrPortFrom(v6B, 2)
	a4, b4 := netip.AddrPortFrom(v4A, 1), netip.AddrPortFrom(v4B, 2)
	b.ReportAllocs()
	for b.Loop() {
		end, err := Translate(f, &p, a6, b6) // 4 -> 6 and back: two translations
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Translate(f[:end], &p, a4, b4); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChecksum1500(b *testing.B) {
	data := make([]byte, 1500)
	for i := range data {
		data[i] = byte(i)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		Checksum(data, 0)
	}
}

func BenchmarkEncapVXLAN6(b *testing.B) {
	in := build(b, tcpSpec(v4A, v4B, 0, make([]byte, 1400)))
	buf := make([]byte, Headroom+len(in))
	copy(buf[Headroom:], in)
	o := Outer{Src: v6A, Dst: v6B, VNI: 7, SrcPort: 50000}
	b.ReportAllocs()
	for b.Loop() {
		EncapVXLAN(buf, Headroom, len(buf), o)
	}
}
