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

func TestVNetHdrRoundTrip(t *testing.T) {
	h := VNetHdr{Flags: VNetFlagNeedsCsum, GSOType: VNetGSOTCPv6 | VNetGSOECN, HdrLen: 74, GSOSize: 1428, CsumStart: 54, CsumOffset: 16}
	b := make([]byte, VNetHdrLen)
	h.Put(b)
	if got := ParseVNetHdr(b); got != h {
		t.Fatalf("round trip: got %+v, want %+v", got, h)
	}
	if !h.IsGSO() || (VNetHdr{GSOType: VNetGSOECN}).IsGSO() {
		t.Fatal("IsGSO must look at the type without the ECN flag")
	}
}

// partial turns a frame with correct checksums into what a CHECKSUM_PARTIAL
// skb looks like: the L4 checksum field holds the folded pseudo-header sum.
func partial(frame []byte, p *Parsed, csumOff int) {
	l4len := p.L4End - p.L4
	binary.BigEndian.PutUint16(frame[p.L4+csumOff:], Fold(refPseudo(p.Src, p.Dst, p.Proto, l4len)))
}

func TestCompleteChecksum(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    spec
		off  int
	}{
		{"tcp4", tcpSpec(v4A, v4B, 0, bytes.Repeat([]byte("abc"), 333)), 16},
		{"tcp6", tcpSpec(v6A, v6B, 0, []byte("odd length!")), 16},
		{"udp4 vlan", udpSpec(v4A, v4B, 7, []byte("hello")), 6},
		{"udp6", udpSpec(v6A, v6B, 0, bytes.Repeat([]byte{0xff}, 101)), 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frame := build(t, tc.s)
			p := mustParse(t, frame)
			partial(frame, p, tc.off)
			if l4Valid(frame, p) {
				t.Fatal("partial checksum should not verify")
			}
			if err := CompleteChecksum(frame, p.L4, tc.off); err != nil {
				t.Fatal(err)
			}
			if !l4Valid(frame, p) {
				t.Fatal("completed checksum does not verify")
			}
			checkExact(t, frame, p, tc.name)
		})
	}
	frame := build(t, tcpSpec(v4A, v4B, 0, nil))
	for _, c := range [][2]int{{len(frame) - 1, 0}, {10, len(frame)}, {-1, 2}, {0, -4}} {
		if err := CompleteChecksum(frame, c[0], c[1]); !errors.Is(err, ErrBadOffload) {
			t.Errorf("CompleteChecksum(%d, %d) = %v, want ErrBadOffload", c[0], c[1], err)
		}
	}
}

// superFrame builds a TCP super-frame of n payload bytes (pattern i*7+i>>8)
// with the given TCP flags and a partial checksum, as TSO hands it over.
func superFrame(t testing.TB, src, dst netip.Addr, vlan uint16, seq uint32, flags uint8, n int) ([]byte, []byte) {
	t.Helper()
	payload := make([]byte, n)
	for i := range payload {
		payload[i] = byte(i*7 + i>>8)
	}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: seq, Ack: 77, Window: 512,
		FIN: flags&TCPFin != 0, PSH: flags&TCPPsh != 0, ACK: flags&TCPAck != 0, CWR: flags&tcpCwr != 0, ECE: true,
		Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{1, 2, 3, 4, 5, 6, 7, 8}}, {OptionType: layers.TCPOptionKindNop}, {OptionType: layers.TCPOptionKindNop}}}
	frame := build(t, spec{vlan: vlan, src: src, dst: dst, l4: tcp, payload: payload})
	p := mustParse(t, frame)
	partial(frame, p, 16)
	return frame, payload
}

// checkSegments segments frame with mss and verifies every segment against
// the super-frame: lengths, IDs, sequence numbers, flags, payload, checksums.
func checkSegments(t *testing.T, frame, payload []byte, gso uint8, mss int) {
	t.Helper()
	sp := mustParse(t, frame)
	hdrEnd := len(frame) - len(payload)
	var s Segmenter
	if err := s.Reset(frame, VNetHdr{Flags: VNetFlagNeedsCsum, GSOType: gso, GSOSize: uint16(mss), CsumStart: uint16(sp.L4), CsumOffset: 16}); err != nil {
		t.Fatal(err)
	}
	want := max((len(payload)+mss-1)/mss, 1)
	if s.Remaining() != want {
		t.Fatalf("Remaining = %d, want %d", s.Remaining(), want)
	}
	if s.MaxSegment() != hdrEnd+min(mss, len(payload)) {
		t.Fatalf("MaxSegment = %d, want %d", s.MaxSegment(), hdrEnd+min(mss, len(payload)))
	}
	origFlags := frame[sp.L4+13]
	orig := bytes.Clone(frame)
	out := make([]byte, 70000)
	var got []byte
	for i := 0; ; i++ {
		n, err := s.Next(out)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			if i != want {
				t.Fatalf("%d segments, want %d", i, want)
			}
			break
		}
		seg := out[:n]
		if n > s.MaxSegment() || n-hdrEnd > mss {
			t.Fatalf("segment %d: %d bytes (payload %d) over mss %d", i, n, n-hdrEnd, mss)
		}
		p := mustParse(t, seg)
		if p.L4End != n {
			t.Fatalf("segment %d: IP length ends at %d, frame is %d", i, p.L4End, n)
		}
		if p.EtherType == EtherTypeIPv4 {
			if !IPv4HeaderChecksumOK(seg, p) {
				t.Fatalf("segment %d: bad IPv4 header checksum", i)
			}
			if id := binary.BigEndian.Uint16(seg[p.L3+4:]); id != 0x1234+uint16(i) {
				t.Fatalf("segment %d: IP ID %#x, want %#x", i, id, 0x1234+i)
			}
		}
		if !l4Valid(seg, p) {
			t.Fatalf("segment %d: bad TCP checksum", i)
		}
		checkExact(t, seg, p, "segment")
		if wantSeq := sp.TCPSeq + uint32(len(got)); p.TCPSeq != wantSeq {
			t.Fatalf("segment %d: seq %d, want %d", i, p.TCPSeq, wantSeq)
		}
		last := i == want-1
		flags := seg[p.L4+13]
		wantFlags := origFlags
		if !last {
			wantFlags &^= TCPFin | TCPPsh
		}
		if i > 0 {
			wantFlags &^= tcpCwr
		}
		if flags != wantFlags {
			t.Fatalf("segment %d/%d: flags %#x, want %#x", i, want, flags, wantFlags)
		}
		if !bytes.Equal(seg[:p.L3], frame[:p.L3]) || !bytes.Equal(seg[p.L4+20:hdrEnd], frame[sp.L4+20:hdrEnd]) {
			t.Fatalf("segment %d: Ethernet header or TCP options differ from the super-frame", i)
		}
		got = append(got, seg[hdrEnd:]...)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("reassembled payload differs (%d bytes, want %d)", len(got), len(payload))
	}
	if !bytes.Equal(frame, orig) {
		t.Fatal("Segmenter modified the super-frame")
	}
}

func TestSegmentTCP64K(t *testing.T) {
	const flags = TCPAck | TCPPsh | TCPFin | tcpCwr
	t.Run("ipv4", func(t *testing.T) {
		frame, payload := superFrame(t, v4A, v4B, 0, 0xffff_f000, flags, 65535-20-32)
		checkSegments(t, frame, payload, VNetGSOTCPv4, 1448)
	})
	t.Run("ipv4 vlan ecn", func(t *testing.T) {
		frame, payload := superFrame(t, v4A, v4B, 42, 1, flags, 60000)
		checkSegments(t, frame, payload, VNetGSOTCPv4|VNetGSOECN, 1448)
	})
	t.Run("ipv6", func(t *testing.T) {
		frame, payload := superFrame(t, v6A, v6B, 0, 0xfffffffe, flags, 65535-32)
		checkSegments(t, frame, payload, VNetGSOTCPv6, 1428)
	})
}

func TestSegmentRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		n := r.IntN(20000)
		mss := 1 + r.IntN(9000)
		flags := uint8(TCPAck) | uint8(r.IntN(2))*TCPFin | uint8(r.IntN(2))*TCPPsh | uint8(r.IntN(2))*tcpCwr
		src, dst, gso := v4A, v4B, uint8(VNetGSOTCPv4)
		if i%2 == 1 {
			src, dst, gso = v6A, v6B, VNetGSOTCPv6
		}
		frame, payload := superFrame(t, src, dst, uint16(r.IntN(2)*5), r.Uint32(), flags, n)
		checkSegments(t, frame, payload, gso, mss)
		if t.Failed() {
			t.Fatalf("case %d: %d bytes, mss %d, gso %d", i, n, mss, gso)
		}
	}
}

func TestSegmentUDPL4(t *testing.T) {
	for _, fam := range [][2]netip.Addr{{v4A, v4B}, {v6A, v6B}} {
		payload := make([]byte, 5000)
		for i := range payload {
			payload[i] = byte(i)
		}
		frame := build(t, udpSpec(fam[0], fam[1], 0, payload))
		var s Segmenter
		if err := s.Reset(frame, VNetHdr{GSOType: VNetGSOUDPL4, GSOSize: 1200}); err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 2000)
		var got []byte
		segs := 0
		for {
			n, err := s.Next(out)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			segs++
			p := mustParse(t, out[:n])
			if !l4Valid(out[:n], p) || binary.BigEndian.Uint16(out[p.L4+4:]) != uint16(n-p.L4) {
				t.Fatalf("%v: datagram %d: bad checksum or UDP length", fam[0], segs)
			}
			got = append(got, out[p.L4+8:n]...)
		}
		if segs != 5 || !bytes.Equal(got, payload) {
			t.Fatalf("%v: %d datagrams, payload equal %v", fam[0], segs, bytes.Equal(got, payload))
		}
	}
}

func TestSegmentErrors(t *testing.T) {
	frame4, _ := superFrame(t, v4A, v4B, 0, 1, TCPAck, 3000)
	frame6, _ := superFrame(t, v6A, v6B, 0, 1, TCPAck, 3000)
	udp := build(t, udpSpec(v4A, v4B, 0, []byte("x")))
	var s Segmenter
	for _, c := range []struct {
		name  string
		frame []byte
		h     VNetHdr
	}{
		{"zero gso_size", frame4, VNetHdr{GSOType: VNetGSOTCPv4}},
		{"v4 type on v6", frame6, VNetHdr{GSOType: VNetGSOTCPv4, GSOSize: 1000}},
		{"v6 type on v4", frame4, VNetHdr{GSOType: VNetGSOTCPv6, GSOSize: 1000}},
		{"tcp type on udp", udp, VNetHdr{GSOType: VNetGSOTCPv4, GSOSize: 1000}},
		{"ufo", udp, VNetHdr{GSOType: VNetGSOUDP, GSOSize: 1000}},
		{"truncated", frame4[:40], VNetHdr{GSOType: VNetGSOTCPv4, GSOSize: 1000}},
	} {
		if err := s.Reset(c.frame, c.h); err == nil {
			t.Errorf("%s: Reset accepted it", c.name)
		}
	}
	if err := s.Reset(frame4, VNetHdr{GSOType: VNetGSOTCPv4, GSOSize: 1000}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(make([]byte, 100)); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("short buffer: %v, want ErrNoRoom", err)
	}
	if s.Remaining() != 3 {
		t.Fatalf("a failed Next consumed a segment: %d left", s.Remaining())
	}
}

// FuzzSegment feeds arbitrary frames and GSO parameters to the Segmenter:
// nothing may panic, no segment may exceed MaxSegment or the source's IP
// length, and the payload written adds up to the super-frame's.
func FuzzSegment(f *testing.F) {
	f.Add(build(f, tcpSpec(v4A, v4B, 0, bytes.Repeat([]byte("seed"), 500))), uint8(VNetGSOTCPv4), uint16(536))
	f.Add(build(f, tcpSpec(v6A, v6B, 3, bytes.Repeat([]byte("seed"), 100))), uint8(VNetGSOTCPv6), uint16(100))
	f.Add(build(f, udpSpec(v4A, v4B, 0, bytes.Repeat([]byte("seed"), 100))), uint8(VNetGSOUDPL4), uint16(33))
	f.Fuzz(func(t *testing.T, frame []byte, gso uint8, mss uint16) {
		n := len(frame)
		frame = frame[:n:n]
		var s Segmenter
		if err := s.Reset(frame, VNetHdr{GSOType: gso, GSOSize: mss}); err != nil {
			return
		}
		out := make([]byte, s.MaxSegment())
		total, segs := 0, s.Remaining()
		for i := 0; ; i++ {
			m, err := s.Next(out)
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if m == 0 {
				if i != segs {
					t.Fatalf("%d segments, Remaining said %d", i, segs)
				}
				break
			}
			if m < s.hdrEnd || m-s.hdrEnd > int(mss) {
				t.Fatalf("segment of %d bytes with headers %d, mss %d", m, s.hdrEnd, mss)
			}
			total += m - s.hdrEnd
		}
		if total != max(s.payEnd-s.hdrEnd, 0) {
			t.Fatalf("segments carry %d payload bytes, super-frame %d", total, s.payEnd-s.hdrEnd)
		}
	})
}
