package engine

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/spklab/spklab/dataplane/config"
	"github.com/spklab/spklab/dataplane/conntrack"
	"github.com/spklab/spklab/dataplane/natport"
	"github.com/spklab/spklab/dataplane/packet"
	"github.com/spklab/spklab/dataplane/port"
)

type flowKind uint8

const (
	flowIngress flowKind = iota + 1
	flowEgress
)

func (k flowKind) String() string {
	switch k {
	case flowIngress:
		return "ingress"
	case flowEgress:
		return "egress"
	}
	return "?"
}

// flowData is what a flow remembers besides its keys: the translation of
// the original direction (the reply direction restores the original
// addresses), where its packets go, and what it holds.
type flowData struct {
	kind   flowKind
	newSrc netip.AddrPort
	newDst netip.AddrPort

	// Ingress: the virtual server and member, and the client side's last
	// hop (auto-lasthop returns replies to the MAC they came from).
	// handshaking is set while the flow counts in its virtual server's
	// handshaking flows (shared by the workers of both directions).
	vs          *vsState
	handshaking *atomic.Bool
	member      *memberState
	toVLAN      *vlanState // where the original direction leaves
	lastMAC     [6]byte
	lastVLAN    *vlanState

	// Egress: the tenant, the node's VTEP and the pod side's MAC on the
	// tenant overlay.
	tenant   *tenantState
	vtep     netip.Addr
	innerMAC [6]byte

	natPool *natport.Pool
	natPort uint16
}

// handshakeDone takes an ingress flow out of its virtual server's
// handshaking count, once (it established, or it is gone).
func (fd *flowData) handshakeDone() {
	if fd.handshaking != nil && fd.handshaking.CompareAndSwap(true, false) {
		fd.vs.counters.handshaking.Add(-1)
	}
}

func (fd *flowData) target() string {
	switch fd.kind {
	case flowIngress:
		return fd.vs.cfg.Name + " -> " + fd.member.cfg.Address.String()
	case flowEgress:
		return fd.tenant.cfg.Name + " as " + fd.newSrc.String()
	}
	return ""
}

// worker processes frames of one port; it is used by one goroutine only.
type worker struct {
	e   *Engine
	now int64
	p   packet.Parsed
	// The IP packet being forwarded is b.B[l3:l3end] with EtherType etype.
	l3, l3end int
	etype     uint16

	txq     [][]port.Buf // per wire port index
	scratch []port.Buf
	used    int
}

func newWorker(e *Engine) *worker {
	return &worker{
		e:       e,
		txq:     make([][]port.Buf, len(e.portList)),
		scratch: port.NewBufs(32, 2048),
	}
}

// scratchBuf returns a free buffer for a generated frame; valid until flush.
func (w *worker) scratchBuf() *port.Buf {
	if w.used == len(w.scratch) {
		w.flush()
	}
	b := &w.scratch[w.used]
	w.used++
	b.Start, b.End = port.Headroom, port.Headroom
	return b
}

func (w *worker) queue(v *vlanState, b port.Buf) {
	v.counters.tx.add(b.End - b.Start)
	q := &w.txq[v.port.index]
	*q = append(*q, b)
	if len(*q) >= w.e.batch {
		w.flushPort(v.port.index)
	}
}

func (w *worker) flushPort(i int) {
	q := w.txq[i]
	if len(q) == 0 {
		return
	}
	sent := w.e.portList[i].send(q)
	for range len(q) - sent {
		w.e.drops.add(DropTx)
	}
	w.txq[i] = q[:0]
}

func (w *worker) flush() {
	for i := range w.txq {
		w.flushPort(i)
	}
	w.used = 0
}

func (w *worker) drop(v *vlanState, r DropReason) {
	w.e.drops.add(r)
	if v != nil {
		v.counters.drops.add(r)
	}
}

// fromWire handles one frame received on a wire port.
func (w *worker) fromWire(st *state, wp *wirePort, b *port.Buf) {
	p := &w.p
	if err := p.Parse(b.Frame()); err != nil {
		w.drop(nil, DropParse)
		return
	}
	v := st.vlans[portTag{wp.index, p.VLAN}]
	if v == nil {
		w.drop(nil, DropUnknownVLAN)
		return
	}
	v.counters.rx.add(b.Len())
	switch p.EtherType {
	case packet.EtherTypeARP:
		w.arp(st, v, b)
	case packet.EtherTypeIPv4, packet.EtherTypeIPv6:
		w.l3, w.l3end, w.etype = b.Start+p.L3, b.Start+p.L4End, p.EtherType
		w.ip(st, v, b)
	default:
		w.drop(v, DropNotLocal)
	}
}

func (w *worker) arp(st *state, v *vlanState, b *port.Buf) {
	p := &w.p
	switch p.ARPOp {
	case 1: // request
		l := st.local[p.ARPTarget]
		if l == nil || !l.on(v) {
			return // for someone else: not a drop, just not ours
		}
		w.learn(st, v, p.ARPSender, p.ARPSenderMAC)
		out := w.scratchBuf()
		f := packet.ARPReply(out.B[out.Start:], p, v.port.mac, v.cfg.Tag)
		out.End = out.Start + len(f)
		w.queue(v, *out)
	case 2: // reply
		if !w.learn(st, v, p.ARPSender, p.ARPSenderMAC) {
			w.drop(v, DropOffLink)
			return
		}
		if l := st.local[p.ARPTarget]; l != nil && l.kinds&addrSelf != 0 {
			// The kernel behind the TAP may have asked too (BGP, ping).
			w.toKernel(v, b, b.Start+p.L3)
		}
	}
}

// learn records a neighbor and sends what waited for it. Only a sender on
// the VLAN's own subnet is learned: a host on one VLAN cannot claim an
// address of another (the router's, from egress-net), so an entry belongs
// to the VLAN whose subnet holds it. It reports whether it learned.
func (w *worker) learn(st *state, v *vlanState, ip netip.Addr, mac [6]byte) bool {
	if !ip.IsValid() || ip.IsUnspecified() || st.vlanOnLink(ip) != v {
		return false
	}
	for _, f := range w.e.neighbor.Learn(ip, mac, w.now) {
		copy(f[0:6], mac[:])
		w.queue(v, port.Buf{B: f, Start: 0, End: len(f)})
	}
	return true
}

// toKernel hands a frame (L3 at l3) to the VLAN's TAP, untagged.
func (w *worker) toKernel(v *vlanState, b *port.Buf, l3 int) {
	if v.tap == nil {
		w.drop(v, DropNoException)
		return
	}
	start := packet.WriteEthernet(b.B, l3, w.p.DstMAC, w.p.SrcMAC, 0, w.p.EtherType)
	if !v.tap.send(port.Buf{B: b.B, Start: start, End: b.End}) {
		w.drop(v, DropTx)
	}
}

// fromKernel sends a frame the kernel wrote into a VLAN's TAP out on the
// VLAN's port, tagged.
func (w *worker) fromKernel(v *vlanState, b *port.Buf) {
	if v == nil {
		return // the VLAN went away with the last config
	}
	p := &w.p
	if err := p.Parse(b.Frame()); err != nil {
		w.drop(v, DropParse)
		return
	}
	start := b.Start
	if v.cfg.Tag != 0 {
		start = packet.WriteEthernet(b.B, b.Start+p.L3, p.DstMAC, p.SrcMAC, v.cfg.Tag, p.EtherType)
	}
	w.queue(v, port.Buf{B: b.B, Start: start, End: b.End})
}

// trackable says whether the packet can belong to a flow.
func trackable(p *packet.Parsed) bool {
	switch p.Proto {
	case packet.ProtoTCP, packet.ProtoUDP:
		return true
	case packet.ProtoICMP:
		return p.ICMPType == packet.ICMPEchoRequest || p.ICMPType == packet.ICMPEchoReply
	case packet.ProtoICMPv6:
		return p.ICMPType == packet.ICMPv6EchoRequest || p.ICMPType == packet.ICMPv6EchoReply
	}
	return false
}

func (w *worker) key(zone uint32) conntrack.Key {
	p := &w.p
	return conntrack.Key{Zone: zone, Proto: p.Proto, Src: p.Src, Dst: p.Dst, SrcPort: p.SrcPort, DstPort: p.DstPort}
}

func (w *worker) ip(st *state, v *vlanState, b *port.Buf) {
	p := &w.p
	if p.L4 == 0 {
		if l := st.local[p.Dst]; l != nil && l.kinds&addrSelf != 0 {
			w.toKernel(v, b, w.l3)
			return
		}
		w.drop(v, DropNotLocal)
		return
	}
	if p.Proto == packet.ProtoICMPv6 {
		switch p.ICMPType {
		case packet.ICMPv6NS:
			w.neighborSolicit(st, v)
			return
		case packet.ICMPv6NA:
			// RFC 4861: an NA with a hop limit below 255 was routed here,
			// so it is not from the link.
			if p.TTL != 255 {
				w.drop(v, DropOffLink)
				return
			}
			// An NA for an address off this VLAN's subnet claims what a
			// host here cannot hold (the router's address on another VLAN).
			if p.NDHasLinkAddr && !w.learn(st, v, p.NDTarget, p.NDLinkAddr) {
				w.drop(v, DropOffLink)
				return
			}
			if l := st.local[p.Dst]; l != nil && l.kinds&addrSelf != 0 || p.Dst.IsMulticast() {
				w.toKernel(v, b, w.l3)
			}
			return
		}
	}
	if trackable(p) {
		if f, dir, ok := w.e.flows.Lookup(w.key(0), w.now); ok {
			w.forward(st, v, b, f, dir)
			return
		}
	}
	l := st.local[p.Dst]
	if l == nil {
		w.drop(v, DropNotLocal)
		return
	}
	if l.kinds&addrVIP != 0 && p.Proto == packet.ProtoTCP {
		if vs := st.virtualServer(p.Dst, p.DstPort); vs != nil && vs.listensOn(v) {
			w.ingressNew(st, v, b, vs)
			return
		}
	}
	if l.kinds&addrSelf != 0 {
		if v.cfg.Internal && p.Proto == packet.ProtoUDP && p.DstPort == packet.VXLANPort {
			w.vxlanIn(st, v, b)
			return
		}
		if v.cfg.Internal && (p.Proto == packet.ProtoTCP || p.Proto == packet.ProtoUDP) {
			// The internal self IP's ports are the ingress NAT ports: a
			// segment without a flow is a late one of an ended flow, and
			// the kernel would answer it with a RST.
			w.drop(v, DropNoFlow)
			return
		}
		w.toKernel(v, b, w.l3)
		return
	}
	w.drop(v, DropNoFlow)
}

// neighborSolicit answers an NS for one of our addresses on the VLAN.
func (w *worker) neighborSolicit(st *state, v *vlanState) {
	p := &w.p
	l := st.local[p.NDTarget]
	if l == nil || !l.on(v) {
		return
	}
	if p.NDHasLinkAddr && p.TTL == 255 {
		w.learn(st, v, p.Src, p.NDLinkAddr)
	}
	out := w.scratchBuf()
	f := packet.NeighborAdvert(out.B[out.Start:], p, v.port.mac, v.cfg.Tag)
	out.End = out.Start + len(f)
	w.queue(v, *out)
}

// ingressNew starts a connection to a virtual server.
func (w *worker) ingressNew(st *state, v *vlanState, b *port.Buf, vs *vsState) {
	p := &w.p
	if p.TCPFlags&(packet.TCPSyn|packet.TCPAck|packet.TCPRst) != packet.TCPSyn {
		vs.counters.drops.add(DropNoFlow)
		w.drop(v, DropNoFlow)
		return
	}
	if len(vs.members) == 0 {
		vs.counters.resets.Add(1)
		w.reset(v, b)
		return
	}
	m := w.pick(vs)
	to := st.internal
	if to == nil {
		vs.counters.drops.add(DropNoSelfIP)
		w.drop(v, DropNoSelfIP)
		return
	}
	self := to.self(m.cfg.Address.Addr().Is4())
	if !self.IsValid() {
		vs.counters.drops.add(DropNoSelfIP)
		w.drop(v, DropNoSelfIP)
		return
	}
	pool := w.e.nat.Get(self, packet.ProtoTCP)
	if vs.overShare(pool, len(st.vs)) {
		vs.counters.drops.add(DropVIPShare)
		w.drop(v, DropVIPShare)
		return
	}
	natPort, ok := pool.Allocate()
	if !ok {
		vs.counters.drops.add(DropPortsExhausted)
		w.drop(v, DropPortsExhausted)
		return
	}
	reply := conntrack.Key{Proto: packet.ProtoTCP, Src: m.cfg.Address.Addr(), Dst: self, SrcPort: m.cfg.Address.Port(), DstPort: natPort}
	fd := flowData{
		kind: flowIngress, newSrc: netip.AddrPortFrom(self, natPort), newDst: m.cfg.Address,
		vs: vs, member: m, toVLAN: to, lastMAC: p.SrcMAC, lastVLAN: v, natPool: pool, natPort: natPort,
		handshaking: new(atomic.Bool),
	}
	fd.handshaking.Store(true)
	vs.counters.handshaking.Add(1)
	f, err := w.e.flows.Insert(w.key(0), reply, time.Duration(vs.idle), fd, w.now)
	if err != nil {
		vs.counters.handshaking.Add(-1)
		pool.Release(natPort)
		r := insertDrop(err)
		vs.counters.drops.add(r)
		w.drop(v, r)
		return
	}
	vs.counters.connections.Add(1)
	vs.counters.active.Add(1)
	m.counters.connections.Add(1)
	m.counters.active.Add(1)
	w.forward(st, v, b, f, conntrack.Original)
}

// insertDrop is the drop reason of a refused flow insertion: a full table,
// or a key another packet of the same flow just inserted.
func insertDrop(err error) DropReason {
	if errors.Is(err, conntrack.ErrFull) {
		return DropTableFull
	}
	return DropNoFlow
}

// pick chooses a pool member for a new connection.
func (w *worker) pick(vs *vsState) *memberState {
	if vs.cfg.Method == config.RatioLeastConnMember {
		best := vs.members[0]
		for _, m := range vs.members[1:] {
			if m.counters.active.Load() < best.counters.active.Load() {
				best = m
			}
		}
		return best
	}
	i := vs.rr.Add(1) - 1
	return vs.members[int(i%uint32(len(vs.members)))]
}

// reset answers a SYN with RST|ACK.
func (w *worker) reset(v *vlanState, b *port.Buf) {
	out := w.scratchBuf()
	f := packet.TCPReset(out.B[out.Start:], b.Frame(), &w.p, v.cfg.Tag)
	out.End = out.Start + len(f)
	w.queue(v, *out)
}

// forward runs a packet of an existing flow: translate, then send.
func (w *worker) forward(st *state, v *vlanState, b *port.Buf, f *conntrack.Flow[flowData], dir conntrack.Direction) {
	p := &w.p
	fd := &f.Value
	size := w.l3end - w.l3
	state := f.Track(dir, p.TCPFlags, size, w.now)
	switch fd.kind {
	case flowIngress:
		if state > conntrack.SynRecv {
			fd.handshakeDone()
		}
		fd.vs.counters.traffic.add(size)
		fd.member.counters.traffic.add(size)
		if dir == conntrack.Original {
			if !w.translate(v, b, fd.newSrc, fd.newDst) {
				return
			}
			w.sendTo(fd.toVLAN, fd.member.cfg.NodeAddress, b)
			return
		}
		if !w.translate(v, b, netip.AddrPortFrom(f.Orig.Dst, f.Orig.DstPort), netip.AddrPortFrom(f.Orig.Src, f.Orig.SrcPort)) {
			return
		}
		if fd.lastVLAN.cfg.AutoLasthop {
			w.sendL2(fd.lastVLAN, fd.lastMAC, b)
			return
		}
		w.route(st, v, b)
	case flowEgress:
		fd.tenant.counters.traffic.add(size)
		if dir == conntrack.Original {
			if !w.translate(v, b, fd.newSrc, netip.AddrPortFrom(p.Dst, p.DstPort)) {
				return
			}
			w.route(st, v, b)
			return
		}
		if !w.translate(v, b, netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(f.Orig.Src, f.Orig.SrcPort)) {
			return
		}
		w.vxlanOut(st, fd, b)
	}
}

// translate rewrites the packet's addresses and ports (changing its family
// when they are of the other one) and decrements its TTL.
func (w *worker) translate(v *vlanState, b *port.Buf, src, dst netip.AddrPort) bool {
	p := &w.p
	frame := b.B[b.Start:b.End]
	if src.Addr().Is4() != p.Src.Is4() {
		end, err := packet.Translate(b.B[b.Start:], p, src, dst)
		if err != nil {
			w.drop(v, DropTranslate)
			return false
		}
		b.End = b.Start + end
		w.l3end = b.End
		w.etype = p.EtherType
		frame = b.B[b.Start:b.End]
	} else {
		if src != netip.AddrPortFrom(p.Src, p.SrcPort) {
			packet.SetSrc(frame, p, src)
		}
		if dst != netip.AddrPortFrom(p.Dst, p.DstPort) {
			packet.SetDst(frame, p, dst)
		}
	}
	if !packet.DecTTL(frame, p) {
		w.drop(v, DropTTL)
		return false
	}
	return true
}

// flowHash spreads flows over ECMP next hops.
func (w *worker) flowHash() uint32 {
	p := &w.p
	h := uint32(p.SrcPort)<<16 | uint32(p.DstPort)
	s, d := p.Src.As16(), p.Dst.As16()
	for i := 0; i < 16; i += 4 {
		h ^= binary.BigEndian.Uint32(s[i:]) * 0x9e3779b1
		h ^= binary.BigEndian.Uint32(d[i:]) * 0x85ebca6b
		h = h<<13 | h>>19
	}
	return h ^ uint32(p.Proto)
}

// route sends the packet by the FIB.
func (w *worker) route(st *state, from *vlanState, b *port.Buf) {
	dst := w.p.Dst
	nh, _, ok := w.e.fib.LookupFlow(dst, w.flowHash())
	if !ok {
		w.drop(from, DropNoRoute)
		return
	}
	out := st.byName[nh.VLAN]
	if out == nil {
		w.drop(from, DropNoRoute)
		return
	}
	next := dst
	if !nh.OnLink() {
		next = nh.Gateway
	}
	w.sendTo(out, next, b)
}

// sendTo sends the IP packet to a neighbor on a VLAN, resolving its MAC.
func (w *worker) sendTo(v *vlanState, next netip.Addr, b *port.Buf) {
	mac, ok := w.e.neighbor.Lookup(next, w.now)
	start := packet.WriteEthernet(b.B, w.l3, mac, v.port.mac, v.cfg.Tag, w.etype)
	if !ok {
		w.hold(v, next, b.B[start:w.l3end])
		return
	}
	w.queue(v, port.Buf{B: b.B, Start: start, End: w.l3end})
}

// sendL2 sends the IP packet to a known MAC on a VLAN.
func (w *worker) sendL2(v *vlanState, mac [6]byte, b *port.Buf) {
	start := packet.WriteEthernet(b.B, w.l3, mac, v.port.mac, v.cfg.Tag, w.etype)
	w.queue(v, port.Buf{B: b.B, Start: start, End: w.l3end})
}

// hold parks a frame until next resolves and asks for it when due.
func (w *worker) hold(v *vlanState, next netip.Addr, frame []byte) {
	if !w.e.neighbor.Hold(next, frame, w.now) {
		return
	}
	out := w.scratchBuf()
	var f []byte
	if next.Is4() {
		if !v.self4.IsValid() {
			w.drop(v, DropNoSelfIP)
			return
		}
		f = packet.ARPRequest(out.B[out.Start:], v.port.mac, v.self4, next, v.cfg.Tag)
	} else {
		if !v.self6.IsValid() {
			w.drop(v, DropNoSelfIP)
			return
		}
		f = packet.NeighborSolicit(out.B[out.Start:], v.port.mac, v.self6, next, v.cfg.Tag)
	}
	out.End = out.Start + len(f)
	w.queue(v, *out)
}

// vxlanIn takes a tenant's packet out of its VXLAN.
func (w *worker) vxlanIn(st *state, v *vlanState, b *port.Buf) {
	p := &w.p
	vni, inner, ok := packet.ParseVXLAN(b.Frame(), p)
	if !ok {
		w.drop(v, DropParse)
		return
	}
	vtep := p.Src
	// Checked before the key and before learning: the key alone names a
	// tenant, so only a node may say which tenant a packet belongs to, and
	// a forged sender must not become a neighbour either.
	if !st.vteps[vtep] {
		w.drop(v, DropForeignVTEP)
		return
	}
	t := st.tenants[vni]
	if t == nil {
		w.drop(v, DropUnknownTenant)
		return
	}
	w.learn(st, v, vtep, p.SrcMAC)
	b.Start += inner
	if err := p.Parse(b.Frame()); err != nil {
		t.counters.drops.add(DropParse)
		w.drop(v, DropParse)
		return
	}
	w.l3, w.l3end, w.etype = b.Start+p.L3, b.Start+p.L4End, p.EtherType
	switch {
	case p.EtherType == packet.EtherTypeARP:
		// TMM is the tenant overlay's gateway for every outside address.
		if p.ARPOp == 1 {
			out := w.scratchBuf()
			f := packet.ARPReply(out.B[out.Start:], p, v.port.mac, 0)
			out.End = out.Start + len(f)
			w.encap(v, t, vtep, out)
		}
		return
	case p.EtherType != packet.EtherTypeIPv4 && p.EtherType != packet.EtherTypeIPv6, p.L4 == 0:
		t.counters.drops.add(DropParse)
		w.drop(v, DropParse)
		return
	case p.Proto == packet.ProtoICMPv6 && p.ICMPType == packet.ICMPv6NS:
		out := w.scratchBuf()
		f := packet.NeighborAdvert(out.B[out.Start:], p, v.port.mac, 0)
		out.End = out.Start + len(f)
		w.encap(v, t, vtep, out)
		return
	case !trackable(p):
		w.drop(v, DropNotLocal)
		return
	}
	if f, dir, ok := w.e.flows.Lookup(w.key(t.cfg.VNI), w.now); ok {
		w.forward(st, v, b, f, dir)
		return
	}
	w.egressNew(st, v, b, t, vtep)
}

// egressNew starts a tenant's connection to the outside.
func (w *worker) egressNew(st *state, v *vlanState, b *port.Buf, t *tenantState, vtep netip.Addr) {
	p := &w.p
	switch p.Proto {
	case packet.ProtoTCP:
		if p.TCPFlags&(packet.TCPSyn|packet.TCPAck|packet.TCPRst) != packet.TCPSyn {
			t.counters.drops.add(DropNoFlow)
			w.drop(v, DropNoFlow)
			return
		}
	case packet.ProtoICMP, packet.ProtoICMPv6:
		if p.ICMPType != packet.ICMPEchoRequest && p.ICMPType != packet.ICMPv6EchoRequest {
			w.drop(v, DropNoFlow)
			return
		}
	}
	is4 := p.Src.Is4()
	if !is4 && !t.cfg.DualStack {
		t.counters.drops.add(DropIPv6Egress)
		w.drop(v, DropIPv6Egress)
		return
	}
	var snat netip.Addr
	switch t.cfg.SNATType {
	case "SRC_TRANS_NONE":
		snat = p.Src
	case "SRC_TRANS_AUTOMAP":
		if nh, _, ok := w.e.fib.LookupFlow(p.Dst, w.flowHash()); ok {
			if out := st.byName[nh.VLAN]; out != nil {
				snat = out.self(is4)
			}
		}
	default:
		snat, _ = t.cfg.SNATAddr(is4)
	}
	if !snat.IsValid() {
		t.counters.drops.add(DropNoSNAT)
		w.drop(v, DropNoSNAT)
		return
	}
	fd := flowData{kind: flowEgress, tenant: t, vtep: vtep, innerMAC: p.SrcMAC}
	natPort := p.SrcPort
	if snat != p.Src {
		pool := w.e.nat.Get(snat, p.Proto)
		if !pool.AllocateSpecific(natPort) {
			var ok bool
			if natPort, ok = pool.Allocate(); !ok {
				t.counters.drops.add(DropPortsExhausted)
				w.drop(v, DropPortsExhausted)
				return
			}
		}
		fd.natPool, fd.natPort = pool, natPort
	}
	fd.newSrc = netip.AddrPortFrom(snat, natPort)
	reply := conntrack.Key{Proto: p.Proto, Src: p.Dst, Dst: snat, SrcPort: p.DstPort, DstPort: natPort}
	if p.Proto == packet.ProtoICMP || p.Proto == packet.ProtoICMPv6 {
		reply.SrcPort = natPort // echo replies carry the identifier in both
	}
	f, err := w.e.flows.Insert(w.key(t.cfg.VNI), reply, 0, fd, w.now)
	if err != nil {
		if fd.natPool != nil {
			fd.natPool.Release(natPort)
		}
		r := insertDrop(err)
		t.counters.drops.add(r)
		w.drop(v, r)
		return
	}
	t.counters.connections.Add(1)
	t.counters.active.Add(1)
	w.forward(st, v, b, f, conntrack.Original)
}

// vxlanOut returns a reply to the tenant pod through the tenant's VXLAN.
func (w *worker) vxlanOut(st *state, fd *flowData, b *port.Buf) {
	v := st.internal
	if v == nil {
		w.drop(nil, DropNoSelfIP)
		return
	}
	start := packet.WriteEthernet(b.B, w.l3, fd.innerMAC, v.port.mac, 0, w.etype)
	inner := port.Buf{B: b.B, Start: start, End: w.l3end}
	w.encap(v, fd.tenant, fd.vtep, &inner)
}

// encap wraps an inner frame in the tenant's VXLAN toward a node.
func (w *worker) encap(v *vlanState, t *tenantState, vtep netip.Addr, inner *port.Buf) {
	src := v.self(vtep.Is4())
	if !src.IsValid() {
		w.drop(v, DropNoSelfIP)
		return
	}
	mac, known := w.e.neighbor.Lookup(vtep, w.now)
	// The UDP source port carries entropy from the inner flow (RFC 7348).
	entropy := uint16(w.flowHash()>>16) | 0xc000
	start := packet.EncapVXLAN(inner.B, inner.Start, inner.End, packet.Outer{
		DstMAC: mac, SrcMAC: v.port.mac, VLAN: v.cfg.Tag, Src: src, Dst: vtep,
		SrcPort: entropy, VNI: t.cfg.VNI, IPID: uint16(w.now),
	})
	if !known {
		w.hold(v, vtep, inner.B[start:inner.End])
		return
	}
	w.queue(v, port.Buf{B: inner.B, Start: start, End: inner.End})
}
