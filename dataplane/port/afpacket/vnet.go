//go:build linux

package afpacket

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/gopacket/gopacket"
	tpacket "github.com/gopacket/gopacket/afpacket"
	"golang.org/x/sys/unix"

	"github.com/spklab/spklab/dataplane/packet"
	"github.com/spklab/spklab/dataplane/port"
)

// OffloadStats count the receive-side offload work of a port opened with the
// virtio_net_hdr on.
type OffloadStats struct {
	// ChecksumsCompleted counts frames that arrived CHECKSUM_PARTIAL and
	// whose L4 checksum Recv computed.
	ChecksumsCompleted uint64
	// FramesSegmented counts GSO super-frames cut into segments, and
	// Segments the frames they became (each also counts in RxPackets).
	FramesSegmented uint64
	Segments        uint64
	// BadOffload counts frames dropped because their virtio_net_hdr did not
	// fit the frame (also counted in Stats().RxErrors).
	BadOffload uint64
}

// OffloadStats returns the offload counters since Open.
func (p *Port) OffloadStats() OffloadStats {
	return OffloadStats{
		ChecksumsCompleted: p.csumDone.Load(),
		FramesSegmented:    p.gsoFrames.Load(),
		Segments:           p.gsoSegments.Load(),
		BadOffload:         p.badOffload.Load(),
	}
}

// vlanTagLen is one 802.1Q/802.1ad tag.
const vlanTagLen = 4

// receiveVNet handles one frame read with its virtio_net_hdr: a plain or
// CHECKSUM_PARTIAL frame is copied into b (true when b now holds a frame); a
// GSO super-frame arms the segmenter, which drain then empties into bufs.
func (p *Port) receiveVNet(data []byte, ci gopacket.CaptureInfo, b *port.Buf) bool {
	if len(data) == 0 || ci.CaptureLength < ci.Length {
		p.rxTrunc.Add(1)
		return false
	}
	// The kernel writes the header right in front of the frame in the ring
	// (tpacket_rcv: h.raw + macoff - vnet_hdr_sz), inside the frame slot.
	raw := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(data)), -packet.VNetHdrLen)), packet.VNetHdrLen)
	h := packet.ParseVNetHdr(raw)
	tci, tpid, tagged := vlanTag(data, ci)
	if tagged {
		// csum_start counts from the frame without the stripped tag.
		h.CsumStart += vlanTagLen
	}
	if h.IsGSO() {
		frame := data
		if tagged {
			if cap(p.scratch) < len(data)+vlanTagLen {
				p.scratch = make([]byte, 0, 65536+2*vlanTagLen+len(data))
			}
			frame = putTag(p.scratch[:len(data)+vlanTagLen], data, tci, tpid)
		}
		if err := p.seg.Reset(frame, h); err != nil {
			p.badOffload.Add(1)
			return false
		}
		if p.seg.MaxSegment() > len(b.B)-port.Headroom {
			p.rxTrunc.Add(1)
			return false
		}
		p.gsoFrames.Add(1)
		p.segBusy = true
		return false
	}
	size := len(data)
	if tagged {
		size += vlanTagLen
	}
	if size > len(b.B)-port.Headroom {
		p.rxTrunc.Add(1)
		return false
	}
	b.Start = port.Headroom
	b.End = port.Headroom + size
	frame := b.B[b.Start:b.End]
	if tagged {
		putTag(frame, data, tci, tpid)
	} else {
		copy(frame, data)
	}
	if h.Flags&packet.VNetFlagNeedsCsum != 0 {
		if err := packet.CompleteChecksum(frame, int(h.CsumStart), int(h.CsumOffset)); err != nil {
			p.badOffload.Add(1)
			return false
		}
		p.csumDone.Add(1)
	}
	p.rxPackets.Add(1)
	p.rxBytes.Add(uint64(size))
	return true
}

// fillSegments writes pending segments into bufs and returns how many.
func (p *Port) fillSegments(bufs []port.Buf) int {
	n := 0
	for n < len(bufs) && p.seg.Remaining() > 0 {
		b := &bufs[n]
		b.B = b.B[:cap(b.B)]
		size, err := p.seg.Next(b.B[port.Headroom:])
		if err != nil {
			// A smaller Buf than the one the segmenter was armed for: the
			// rest of the super-frame cannot be delivered.
			p.rxTrunc.Add(uint64(p.seg.Remaining()))
			break
		}
		b.Start = port.Headroom
		b.End = port.Headroom + size
		p.rxPackets.Add(1)
		p.rxBytes.Add(uint64(size))
		p.gsoSegments.Add(1)
		n++
	}
	if n == len(bufs) && p.seg.Remaining() > 0 {
		return n
	}
	p.segBusy = false
	return n
}

// putTag writes frame with an 802.1Q/802.1ad tag after the MAC addresses
// into dst (len(frame)+4 bytes) and returns dst.
func putTag(dst, frame []byte, tci, tpid uint16) []byte {
	copy(dst, frame[:12])
	binary.BigEndian.PutUint16(dst[12:], tpid)
	binary.BigEndian.PutUint16(dst[14:], tci)
	copy(dst[16:], frame[12:])
	return dst
}

// tpacket3_hdr layout (include/uapi/linux/if_packet.h) and the kernel's
// frame placement (net/packet/af_packet.c tpacket_rcv), used to find the
// header of a frame from the frame's address.
const (
	tp3SnaplenOff = 12
	tp3StatusOff  = 20
	tp3MacOff     = 24
	tp3NetOff     = 26
	tp3TCIOff     = 32
	tp3TPIDOff    = 36
	tp3HdrLen     = 48 + 20 // TPACKET_ALIGN(sizeof(tpacket3_hdr)) + sizeof(sockaddr_ll)
)

// vlanTag returns the VLAN tag the kernel stripped from the frame into the
// tpacket header, if any. gopacket only passes on the 12-bit VLAN ID, so the
// full TCI (priority bits) and TPID are read from the tpacket3_hdr in front
// of the frame; the position is checked against the header's own tp_mac,
// tp_net and tp_snaplen before it is trusted, else the ID alone is used.
func vlanTag(data []byte, ci gopacket.CaptureInfo) (tci, tpid uint16, ok bool) {
	vid := -1
	for _, a := range ci.AncillaryData {
		if v, isVLAN := a.(tpacket.AncillaryVLAN); isVLAN {
			vid = v.VLAN
		}
	}
	if vid < 0 || len(data) < 14 {
		return 0, 0, false
	}
	base := unsafe.Pointer(unsafe.SliceData(data))
	// maclen is the link header length left in the frame: 14, or more when
	// an inner tag stayed in the frame.
	for _, maclen := range []int{14, 18, 22} {
		netoff := align16(tp3HdrLen+max(maclen, 16)) + packet.VNetHdrLen
		macoff := netoff - maclen
		hdr := unsafe.Slice((*byte)(unsafe.Add(base, -macoff)), tp3HdrLen)
		if int(binary.NativeEndian.Uint16(hdr[tp3MacOff:])) != macoff ||
			int(binary.NativeEndian.Uint16(hdr[tp3NetOff:])) != netoff ||
			int(binary.NativeEndian.Uint32(hdr[tp3SnaplenOff:])) != len(data) {
			continue
		}
		status := binary.NativeEndian.Uint32(hdr[tp3StatusOff:])
		tci = uint16(binary.NativeEndian.Uint32(hdr[tp3TCIOff:]))
		tpid = unix.ETH_P_8021Q
		if status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
			if t := binary.NativeEndian.Uint16(hdr[tp3TPIDOff:]); t != 0 {
				tpid = t
			}
		}
		// Like gopacket: a zero TCI means no tag was there.
		return tci, tpid, tci != 0
	}
	return uint16(vid), unix.ETH_P_8021Q, vid != 0
}

func align16(x int) int { return (x + 15) &^ 15 }

// write sends one frame. With the virtio_net_hdr on, the kernel expects one
// in front of every frame: a zero header (no offload) is written into the
// headroom, which is free by the Buf contract, and the bytes it covered are
// put back afterwards.
func (p *Port) write(b *port.Buf) error {
	if !p.vnet {
		return p.tp.WritePacketData(b.B[b.Start:b.End])
	}
	if b.Start < packet.VNetHdrLen {
		out := make([]byte, packet.VNetHdrLen+b.Len())
		copy(out[packet.VNetHdrLen:], b.Frame())
		return p.tp.WritePacketData(out)
	}
	h := b.B[b.Start-packet.VNetHdrLen : b.Start]
	var saved [packet.VNetHdrLen]byte
	copy(saved[:], h)
	clear(h)
	err := p.tp.WritePacketData(b.B[b.Start-packet.VNetHdrLen : b.End])
	copy(h, saved[:])
	if err != nil {
		return fmt.Errorf("with virtio_net_hdr: %w", err)
	}
	return nil
}
