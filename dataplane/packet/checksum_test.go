package packet

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestChecksumMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 5000 {
		data := make([]byte, rng.IntN(200))
		for i := range data {
			data[i] = uint8(rng.Uint32())
		}
		if rng.IntN(10) == 0 { // all-ones data stresses the carries
			for i := range data {
				data[i] = 0xff
			}
		}
		init := rng.Uint32N(0x40000)
		if got, want := Fold(Sum(data, init)), refFold(refSum(data, init)); got != want && !(got == 0xffff && want == 0) && !(got == 0 && want == 0xffff) {
			t.Fatalf("Sum(%x, %#x) folds to %#04x, reference %#04x", data, init, got, want)
		}
		if got, want := Checksum(data, init), ^refFold(refSum(data, init)); got != want {
			t.Fatalf("Checksum(%x, %#x) = %#04x, reference %#04x", data, init, got, want)
		}
	}
	// A buffer holding its own checksum sums to zero.
	b := []byte{0x45, 0, 0, 0x1c, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2}
	binary.BigEndian.PutUint16(b[10:], Checksum(b, 0))
	if Checksum(b, 0) != 0 {
		t.Fatal("checksum over a header with its checksum is not 0")
	}
}

func TestPseudoHeaderSum(t *testing.T) {
	for _, c := range []struct{ src, dst netip.Addr }{{v4A, v4B}, {v6A, v6B}, {netip.MustParseAddr("255.255.255.255"), netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")}} {
		for _, n := range []int{0, 1, 8, 1500, 65535, 70000} {
			got, want := Fold(PseudoHeaderSum(c.src, c.dst, ProtoUDP, n)), refFold(refPseudo(c.src, c.dst, ProtoUDP, n))
			if got != want {
				t.Errorf("PseudoHeaderSum(%v, %v, %d) = %#04x, reference %#04x", c.src, c.dst, n, got, want)
			}
		}
	}
}

// TestIncrementalUpdates checks Update16 and UpdateAddr against full
// recomputation, for every old/new word pair class and random addresses.
func TestIncrementalUpdates(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	data := make([]byte, 40)
	for range 20000 {
		for i := range data {
			data[i] = uint8(rng.Uint32())
		}
		// Some words forced to the edge values.
		for _, w := range []int{0, 4} {
			switch rng.IntN(4) {
			case 0:
				data[w], data[w+1] = 0, 0
			case 1:
				data[w], data[w+1] = 0xff, 0xff
			}
		}
		csum := Checksum(data, 0)
		old := binary.BigEndian.Uint16(data[0:])
		nw := uint16(rng.Uint32())
		if rng.IntN(4) == 0 {
			nw = [...]uint16{0, 0xffff}[rng.IntN(2)]
		}
		binary.BigEndian.PutUint16(data[0:], nw)
		if got, want := Update16(csum, old, nw), Checksum(data, 0); got != want {
			t.Fatalf("Update16(%#04x, %#04x, %#04x) = %#04x, full %#04x", csum, old, nw, got, want)
		}

		csum = Checksum(data, 0)
		v4 := rng.IntN(2) == 0
		n := 16
		if v4 {
			n = 4
		}
		oldA, _ := netip.AddrFromSlice(data[8 : 8+n])
		newA := randomAddrPort(rng, v4).Addr()
		copy(data[8:], newA.AsSlice())
		if got, want := UpdateAddr(csum, oldA, newA), Checksum(data, 0); got != want {
			t.Fatalf("UpdateAddr(%#04x, %v, %v) = %#04x, full %#04x", csum, oldA, newA, got, want)
		}
	}
	if UDPChecksum(0) != 0xffff || UDPChecksum(0x1234) != 0x1234 {
		t.Error("UDPChecksum")
	}
}
