package engine

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/spklab/spklab/dataplane/config"
	"github.com/spklab/spklab/dataplane/port"
	"github.com/spklab/spklab/dataplane/port/memport"
)

// rig is an engine on two in-memory wire ports (1.1 external, 1.2 egress)
// with the test holding the far ends.
type rig struct {
	t        *testing.T
	eng      *Engine
	ext, egr *memport.Port // the test's ends
	tmmExt   [6]byte
	tmmEgr   [6]byte
}

var (
	clientMAC = [6]byte{0x02, 0, 0, 0, 0, 0x01}
	routerMAC = [6]byte{0x02, 0, 0, 0, 0, 0xfa}
	nodeMAC   = [6]byte{0x02, 0, 0, 0, 0, 0x03}
	podMAC    = [6]byte{0x02, 0, 0, 0, 0, 0x33} // the node's vxlan device
)

func mp(s string) netip.Prefix         { return netip.MustParsePrefix(s) }
func ma(s string) netip.Addr           { return netip.MustParseAddr(s) }
func addrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func testConfig(members []config.Member) *config.Config {
	c := &config.Config{
		VLANs: []config.VLAN{
			{Name: "external", Interface: "1.1", MTU: 1500, AutoLasthop: true, SelfIPs: []netip.Prefix{mp("192.0.2.201/24"), mp("2001::192:0:2:201/112")}},
			{Name: "egress", Interface: "1.2", MTU: 1500, Internal: true, SelfIPs: []netip.Prefix{mp("198.18.100.201/24")}},
		},
		VirtualServers: []config.VirtualServer{
			{Name: "red/red-ingress", Address: ma("198.19.19.100"), Port: 80, Method: config.RoundRobin, IdleTimeout: 300, Members: members},
			{Name: "red/red-ingress", Address: ma("2001::198:19:19:100"), Port: 80, Method: config.RoundRobin, IdleTimeout: 300, Members: members},
			{Name: "blue/empty", Address: ma("198.20.20.100"), Port: 80, Method: config.RoundRobin, IdleTimeout: 300},
		},
		Tenants: []config.Tenant{{Name: "red/red-egress", Namespace: "red", VNI: 100, SNATType: "SRC_TRANS_SNATPOOL", Snatpool: "red-snat", SNAT: []netip.Addr{ma("192.0.2.100")}}},
		Routes:  []config.Route{{Prefix: mp("198.51.100.0/24"), Gateway: ma("192.0.2.250")}},
		VTEPs:   []netip.Addr{ma("198.18.100.3")},
	}
	c.Seal()
	return c
}

func newRig(t *testing.T, members []config.Member) *rig {
	t.Helper()
	tmmExt, ext := memport.Pair("tmm-ext", "ext")
	tmmEgr, egr := memport.Pair("tmm-egr", "egr")
	eng, err := New(Options{Ports: []port.Port{tmmExt, tmmEgr}, MaxFlows: 64})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Apply(testConfig(members)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { eng.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); eng.Close(); <-done })
	return &rig{t: t, eng: eng, ext: ext, egr: egr, tmmExt: tmmExt.MAC(), tmmEgr: tmmEgr.MAC()}
}

func (r *rig) send(p *memport.Port, frame []byte) {
	r.t.Helper()
	var b port.Buf
	b.Set(frame)
	if n, err := p.Send([]port.Buf{b}); n != 1 || err != nil {
		r.t.Fatalf("send: %d %v", n, err)
	}
}

// recv returns the next frame on p, decoded.
func (r *rig) recv(p *memport.Port) gopacket.Packet {
	r.t.Helper()
	bufs := port.NewBufs(1, 2048)
	n, err := p.Recv(bufs, 2*time.Second)
	if err != nil || n != 1 {
		r.t.Fatalf("no frame on %s (n=%d err=%v); drops %v", p.Name(), n, err, r.eng.Stats().Drops)
	}
	pkt := gopacket.NewPacket(append([]byte(nil), bufs[0].Frame()...), layers.LayerTypeEthernet, gopacket.Default)
	if el := pkt.ErrorLayer(); el != nil {
		r.t.Fatalf("undecodable frame: %v", el.Error())
	}
	return pkt
}

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	for i, l := range ls {
		if u, ok := l.(*layers.UDP); ok && i > 0 {
			if n, ok := ls[i-1].(gopacket.NetworkLayer); ok {
				u.SetNetworkLayerForChecksum(n)
			}
		}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tcpFrame(t testing.TB, srcMAC, dstMAC [6]byte, src, dst netip.AddrPort, syn, ack bool, seq uint32) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr(srcMAC[:]), DstMAC: net.HardwareAddr(dstMAC[:])}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), SYN: syn, ACK: ack, Seq: seq, Window: 1000}
	if src.Addr().Is4() {
		eth.EthernetType = layers.EthernetTypeIPv4
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		tcp.SetNetworkLayerForChecksum(ip)
		return serialize(t, eth, ip, tcp)
	}
	eth.EthernetType = layers.EthernetTypeIPv6
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
	tcp.SetNetworkLayerForChecksum(ip)
	return serialize(t, eth, ip, tcp)
}

func arpReply(t *testing.T, mac [6]byte, ip netip.Addr, toMAC [6]byte, toIP netip.Addr) []byte {
	return serialize(t,
		&layers.Ethernet{SrcMAC: net.HardwareAddr(mac[:]), DstMAC: net.HardwareAddr(toMAC[:]), EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPReply, SourceHwAddress: mac[:], SourceProtAddress: ip.AsSlice(), DstHwAddress: toMAC[:], DstProtAddress: toIP.AsSlice()})
}

// tcpOf checks a decoded frame is TCP between the given endpoints with
// valid checksums and returns it.
func tcpOf(t *testing.T, pkt gopacket.Packet, src, dst netip.AddrPort) *layers.TCP {
	t.Helper()
	tl, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if tl == nil {
		t.Fatalf("not TCP: %v", pkt)
	}
	var gotSrc, gotDst netip.Addr
	if ip4, ok := pkt.NetworkLayer().(*layers.IPv4); ok {
		gotSrc, _ = netip.AddrFromSlice(ip4.SrcIP)
		gotDst, _ = netip.AddrFromSlice(ip4.DstIP)
		tl.SetNetworkLayerForChecksum(ip4)
	} else if ip6, ok := pkt.NetworkLayer().(*layers.IPv6); ok {
		gotSrc, _ = netip.AddrFromSlice(ip6.SrcIP)
		gotDst, _ = netip.AddrFromSlice(ip6.DstIP)
		tl.SetNetworkLayerForChecksum(ip6)
	}
	got := [2]netip.AddrPort{netip.AddrPortFrom(gotSrc.Unmap(), uint16(tl.SrcPort)), netip.AddrPortFrom(gotDst.Unmap(), uint16(tl.DstPort))}
	if src.Port() == 0 {
		src = netip.AddrPortFrom(src.Addr(), got[0].Port()) // any port
	}
	if got != [2]netip.AddrPort{src, dst} {
		t.Fatalf("TCP %v -> %v, want %v -> %v", got[0], got[1], src, dst)
	}
	// Re-serialize with checksums and compare: equal means the engine's
	// incremental updates were right.
	want := tl.Checksum
	buf := gopacket.NewSerializeBuffer()
	if err := tl.SerializeTo(buf, gopacket.SerializeOptions{ComputeChecksums: true}); err != nil {
		t.Fatal(err)
	}
	if tl.Checksum != want {
		t.Fatalf("TCP checksum %#04x, want %#04x", want, tl.Checksum)
	}
	return tl
}

func TestIngressRoundTrip(t *testing.T) {
	members := []config.Member{{Address: addrPort("10.244.1.2:80"), Node: "bnk-worker", NodeAddress: ma("198.18.100.3")}}
	for _, vip := range []string{"198.19.19.100", "2001::198:19:19:100"} {
		t.Run(vip, func(t *testing.T) {
			r := newRig(t, members)
			client := addrPort("198.51.100.100:40000")
			if ma(vip).Is6() {
				client = addrPort("[2001::198:51:100:100]:40000")
			}
			vipAP := netip.AddrPortFrom(ma(vip), 80)
			r.send(r.ext, tcpFrame(t, clientMAC, r.tmmExt, client, vipAP, true, false, 1000))
			// The node's MAC is unknown: TMM asks for it on egress.
			req := r.recv(r.egr)
			arp, _ := req.Layer(layers.LayerTypeARP).(*layers.ARP)
			if arp == nil || arp.Operation != layers.ARPRequest || netip.AddrFrom4([4]byte(arp.DstProtAddress)) != ma("198.18.100.3") ||
				netip.AddrFrom4([4]byte(arp.SourceProtAddress)) != ma("198.18.100.201") {
				t.Fatalf("want an ARP request for the node from the egress self IP, got %v", req)
			}
			r.send(r.egr, arpReply(t, nodeMAC, ma("198.18.100.3"), r.tmmEgr, ma("198.18.100.201")))
			syn := r.recv(r.egr)
			if eth := syn.LinkLayer().(*layers.Ethernet); [6]byte(eth.DstMAC) != nodeMAC {
				t.Fatalf("SYN to %v, want the node's MAC", eth.DstMAC)
			}
			tl := tcpOf(t, syn, netip.AddrPortFrom(ma("198.18.100.201"), 0), addrPort("10.244.1.2:80"))
			natPort := uint16(tl.SrcPort)
			// The pod answers the self IP; TMM returns it to the client's MAC from the VIP.
			r.send(r.egr, tcpFrame(t, nodeMAC, r.tmmEgr, addrPort("10.244.1.2:80"), netip.AddrPortFrom(ma("198.18.100.201"), natPort), true, true, 5000))
			synack := r.recv(r.ext)
			if eth := synack.LinkLayer().(*layers.Ethernet); [6]byte(eth.DstMAC) != clientMAC || [6]byte(eth.SrcMAC) != r.tmmExt {
				t.Fatalf("reply %v -> %v, want TMM -> client (auto-lasthop)", eth.SrcMAC, eth.DstMAC)
			}
			tcpOf(t, synack, vipAP, client)
			s := r.eng.Stats()
			if s.Flows.Active != 1 || s.VirtualServers[0].Connections+s.VirtualServers[1].Connections != 1 {
				t.Fatalf("stats: %+v", s)
			}
		})
	}
}

func TestIngressNoMemberResets(t *testing.T) {
	r := newRig(t, nil)
	client := addrPort("198.51.100.100:40001")
	r.send(r.ext, tcpFrame(t, clientMAC, r.tmmExt, client, addrPort("198.20.20.100:80"), true, false, 77))
	rst := r.recv(r.ext)
	tl := tcpOf(t, rst, addrPort("198.20.20.100:80"), client)
	if !tl.RST || !tl.ACK || tl.Ack != 78 {
		t.Fatalf("want RST|ACK ack 78, got %+v", tl)
	}
	if got := r.eng.Stats().VirtualServers[2].Resets; got != 1 {
		t.Fatalf("resets = %d", got)
	}
}

func TestEgressSNATRoundTrip(t *testing.T) {
	r := newRig(t, nil)
	pod := addrPort("10.244.1.5:33333")
	remote := addrPort("198.51.100.100:80")
	inner := tcpFrame(t, podMAC, [6]byte{0x02, 0xee, 0, 0, 0, 1}, pod, remote, true, false, 9)
	outer := serialize(t,
		&layers.Ethernet{SrcMAC: net.HardwareAddr(nodeMAC[:]), DstMAC: net.HardwareAddr(r.tmmEgr[:]), EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{198, 18, 100, 3}, DstIP: net.IP{198, 18, 100, 201}},
		&layers.UDP{SrcPort: 50000, DstPort: 4789},
		&layers.VXLAN{ValidIDFlag: true, VNI: 100},
		gopacket.Payload(inner))
	r.send(r.egr, outer)
	req := r.recv(r.ext) // ARP for the router (the route's gateway)
	if arp, _ := req.Layer(layers.LayerTypeARP).(*layers.ARP); arp == nil || netip.AddrFrom4([4]byte(arp.DstProtAddress)) != ma("192.0.2.250") {
		t.Fatalf("want ARP for 192.0.2.250, got %v", req)
	}
	r.send(r.ext, arpReply(t, routerMAC, ma("192.0.2.250"), r.tmmExt, ma("192.0.2.201")))
	out := r.recv(r.ext)
	tl := tcpOf(t, out, netip.AddrPortFrom(ma("192.0.2.100"), 0), remote)
	snat := netip.AddrPortFrom(ma("192.0.2.100"), uint16(tl.SrcPort))
	// The reply to the SNAT address goes back through the tenant's VXLAN.
	r.send(r.ext, tcpFrame(t, routerMAC, r.tmmExt, remote, snat, true, true, 1))
	back := r.recv(r.egr)
	vx, _ := back.Layer(layers.LayerTypeVXLAN).(*layers.VXLAN)
	if vx == nil || vx.VNI != 100 {
		t.Fatalf("want VXLAN 100 to the node, got %v", back)
	}
	innerPkt := gopacket.NewPacket(vx.Payload, layers.LayerTypeEthernet, gopacket.Default)
	if eth := innerPkt.LinkLayer().(*layers.Ethernet); [6]byte(eth.DstMAC) != podMAC {
		t.Fatalf("inner frame to %v, want the node's vxlan MAC", eth.DstMAC)
	}
	tcpOf(t, innerPkt, remote, pod)
}

func TestEgressUnknownTenantDropped(t *testing.T) {
	r := newRig(t, nil)
	inner := tcpFrame(t, podMAC, r.tmmEgr, addrPort("10.244.1.5:1"), addrPort("198.51.100.100:80"), true, false, 1)
	r.send(r.egr, vxlanCarrying(t, r, net.IP{198, 18, 100, 3}, 999, inner))
	r.waitDrop(DropUnknownTenant)
}

// vxlanFrom is tenant VXLAN with key vni from src to TMM's egress self IP,
// carrying a pod's SYN to the outside.
func vxlanFrom(t *testing.T, r *rig, src net.IP, vni uint32) []byte {
	return vxlanCarrying(t, r, src, vni, tcpFrame(t, podMAC, r.tmmEgr, addrPort("10.244.9.9:40000"), addrPort("198.51.100.100:80"), true, false, 1))
}

// vxlanCarrying wraps a pod's frame in tenant VXLAN with key vni from src
// to TMM's egress self IP.
func vxlanCarrying(t *testing.T, r *rig, src net.IP, vni uint32, inner []byte) []byte {
	return serialize(t,
		&layers.Ethernet{SrcMAC: net.HardwareAddr(nodeMAC[:]), DstMAC: net.HardwareAddr(r.tmmEgr[:]), EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: net.IP{198, 18, 100, 201}},
		&layers.UDP{SrcPort: 50000, DstPort: 4789}, &layers.VXLAN{ValidIDFlag: true, VNI: vni}, gopacket.Payload(inner))
}

// waitDrop waits up to 2 s for one drop counted under reason.
func (r *rig) waitDrop(reason DropReason) {
	r.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for r.eng.Stats().Drops[reason.String()] != 1 {
		if time.Now().After(deadline) {
			r.t.Fatalf("drops = %v, want one %s", r.eng.Stats().Drops, reason)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestEgressFromForeignVTEPDropped: VXLAN with a tenant's own key from a
// sender on the egress VLAN that is no node leaves nothing behind — no
// flow, no SNAT, no neighbour entry — and counts as foreign-vtep.
func TestEgressFromForeignVTEPDropped(t *testing.T) {
	r := newRig(t, nil)
	r.send(r.egr, vxlanFrom(t, r, net.IP{198, 18, 100, 66}, 100))
	r.waitDrop(DropForeignVTEP)
	if n := r.eng.flows.Len(); n != 0 {
		t.Errorf("%d flows after a forged sender's SYN", n)
	}
	if _, known := neighborMAC(r, ma("198.18.100.66")); known {
		t.Error("the forged sender was learned as a neighbour")
	}
	// The node itself still gets through.
	r.send(r.egr, vxlanFrom(t, r, net.IP{198, 18, 100, 3}, 100))
	if req := r.recv(r.ext); req.Layer(layers.LayerTypeARP) == nil {
		t.Fatalf("the node's VXLAN did not go out (want ARP for the router), got %v", req)
	}
}

// TestEgressIPv6NeedsDualStack: a tenant whose F5SPKEgress is not
// dualStackEnabled leaves over IPv4 only; its pods' IPv6 is dropped as
// ipv6-egress-disabled (not as a missing SNAT address), and makes no flow.
func TestEgressIPv6NeedsDualStack(t *testing.T) {
	r := newRig(t, nil)
	inner := tcpFrame(t, podMAC, r.tmmEgr, addrPort("[fd00:10:244::5]:33333"), addrPort("[2001::198:51:100:100]:80"), true, false, 9)
	r.send(r.egr, vxlanCarrying(t, r, net.IP{198, 18, 100, 3}, 100, inner))
	r.waitDrop(DropIPv6Egress)
	if n := r.eng.flows.Len(); n != 0 {
		t.Errorf("%d flows after IPv6 egress of a tenant without dualStackEnabled", n)
	}
}

// TestNeighborPoisoningFromAnotherVLAN: a host on the egress VLAN answers
// ARP for the router's address (on the external VLAN) with its own MAC.
// It is not learned (counted off-link-neighbor), so the next packet to the
// router still asks the external VLAN for it.
func TestNeighborPoisoningFromAnotherVLAN(t *testing.T) {
	r := newRig(t, nil)
	attacker := [6]byte{0x02, 0xba, 0xd0, 0, 0, 0x66}
	r.send(r.egr, arpReply(t, attacker, ma("192.0.2.250"), r.tmmEgr, ma("198.18.100.201")))
	r.waitDrop(DropOffLink)
	if _, known := neighborMAC(r, ma("192.0.2.250")); known {
		t.Fatal("the router's address was learned from the egress VLAN")
	}
	// The same from the router's own VLAN is learned.
	r.send(r.ext, arpReply(t, routerMAC, ma("192.0.2.250"), r.tmmExt, ma("192.0.2.201")))
	r.waitNeighbor(ma("192.0.2.250"), routerMAC)
}

// neighborAdvert is an unsolicited NA for target with its link address,
// sent with a hop limit (255 from the link, less once routed).
func neighborAdvert(t *testing.T, srcMAC, dstMAC [6]byte, target netip.Addr, hopLimit uint8) []byte {
	ip := &layers.IPv6{Version: 6, HopLimit: hopLimit, NextHeader: layers.IPProtocolICMPv6, SrcIP: target.AsSlice(), DstIP: net.ParseIP("ff02::1")}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborAdvertisement, 0)}
	if err := icmp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	na := &layers.ICMPv6NeighborAdvertisement{Flags: 0x20, TargetAddress: target.AsSlice(),
		Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptTargetAddress, Data: srcMAC[:]}}}
	return serialize(t, &layers.Ethernet{SrcMAC: net.HardwareAddr(srcMAC[:]), DstMAC: net.HardwareAddr(dstMAC[:]), EthernetType: layers.EthernetTypeIPv6}, ip, icmp, na)
}

// TestNeighborAdvertNeedsHopLimit255: an NA claiming the router's IPv6
// address that was routed (hop limit 64) is not learned and counts as
// off-link-neighbor; the same NA from the link (255) is learned.
func TestNeighborAdvertNeedsHopLimit255(t *testing.T) {
	r := newRig(t, nil)
	router := ma("2001::192:0:2:250")
	attacker := [6]byte{0x02, 0xba, 0xd0, 0, 0, 0x77}
	r.send(r.ext, neighborAdvert(t, attacker, r.tmmExt, router, 64))
	r.waitDrop(DropOffLink)
	if mac, known := neighborMAC(r, router); known {
		t.Fatalf("a routed NA was learned: %v", mac)
	}
	r.send(r.ext, neighborAdvert(t, routerMAC, r.tmmExt, router, 255))
	r.waitNeighbor(router, routerMAC)
}

// TestNeighborAdvertFromAnotherVLAN: an NA from the link (hop limit 255)
// on the egress VLAN claiming the router's IPv6 address, which is on the
// external VLAN, is not learned and counts as off-link-neighbor.
func TestNeighborAdvertFromAnotherVLAN(t *testing.T) {
	r := newRig(t, nil)
	router := ma("2001::192:0:2:250")
	attacker := [6]byte{0x02, 0xba, 0xd0, 0, 0, 0x78}
	r.send(r.egr, neighborAdvert(t, attacker, r.tmmEgr, router, 255))
	r.waitDrop(DropOffLink)
	if mac, known := neighborMAC(r, router); known {
		t.Fatalf("the router's IPv6 address was learned from the egress VLAN: %v", mac)
	}
}

// waitNeighbor waits up to 2 s for ip to be learned with mac.
func (r *rig) waitNeighbor(ip netip.Addr, mac [6]byte) {
	r.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		if got, known := neighborMAC(r, ip); known && got == mac {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s was not learned with %v; neighbours %+v", ip, mac, r.eng.neighbor.Entries())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// neighborMAC is the MAC the engine's neighbour cache holds for ip once
// resolved (an incomplete entry has none yet).
func neighborMAC(r *rig, ip netip.Addr) ([6]byte, bool) {
	for _, e := range r.eng.neighbor.Entries() {
		if e.IP == ip && e.State != "incomplete" {
			return e.MAC, true
		}
	}
	return [6]byte{}, false
}

// TestSYNFloodAtOneVIPLeavesTheOthers: with a 256-port NAT pool, 1000
// spoofed SYNs at red's VIP take at most half the pool (counted
// vip-share-exceeded beyond it), and blue's VIP still gets its new
// connection, where before the flood took every port.
func TestSYNFloodAtOneVIPLeavesTheOthers(t *testing.T) {
	tmmExt, ext := memport.Pair("tmm-ext", "ext")
	tmmEgr, egr := memport.Pair("tmm-egr", "egr")
	eng, err := New(Options{Ports: []port.Port{tmmExt, tmmEgr}, MaxFlows: 4096, NATPorts: [2]uint16{2000, 2255}})
	if err != nil {
		t.Fatal(err)
	}
	member := func(s string) []config.Member {
		return []config.Member{{Address: addrPort(s), Node: "bnk-worker", NodeAddress: ma("198.18.100.3")}}
	}
	cfg := testConfig(nil)
	cfg.VirtualServers = []config.VirtualServer{
		{Name: "red/red-ingress", Address: ma("198.19.19.100"), Port: 80, Method: config.RoundRobin, IdleTimeout: 300, Members: member("10.244.1.2:80")},
		{Name: "blue/blue-ingress", Address: ma("198.20.20.100"), Port: 80, Method: config.RoundRobin, IdleTimeout: 300, Members: member("10.244.1.3:80")},
	}
	cfg.Seal()
	if err := eng.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { eng.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); eng.Close(); <-done })
	r := &rig{t: t, eng: eng, ext: ext, egr: egr, tmmExt: tmmExt.MAC(), tmmEgr: tmmEgr.MAC()}

	vs := func(name string) VSStats {
		for _, s := range eng.Stats().VirtualServers {
			if s.Name == name {
				return s
			}
		}
		t.Fatalf("no virtual server %s", name)
		return VSStats{}
	}
	const flood = 1000
	for i := range flood {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)}), uint16(10000+i))
		r.send(r.ext, tcpFrame(t, routerMAC, r.tmmExt, src, addrPort("198.19.19.100:80"), true, false, 1))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		red := vs("red/red-ingress")
		if red.Connections+red.Drops[DropVIPShare.String()]+red.Drops[DropPortsExhausted.String()] >= flood {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("flood not processed: %+v", red)
		}
		time.Sleep(20 * time.Millisecond)
	}
	red := vs("red/red-ingress")
	t.Logf("red: %d connections, drops %v", red.Connections, red.Drops)
	if red.Connections > 128 || red.Drops[DropVIPShare.String()] == 0 {
		t.Fatalf("the flood took %d of 256 ports (drops %v); want at most half", red.Connections, red.Drops)
	}
	r.send(r.ext, tcpFrame(t, clientMAC, r.tmmExt, addrPort("198.51.100.100:40000"), addrPort("198.20.20.100:80"), true, false, 1))
	deadline = time.Now().Add(2 * time.Second)
	for vs("blue/blue-ingress").Connections != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("blue's VIP got no connection during the flood at red's: %+v", vs("blue/blue-ingress"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestApplyRefusesOverlappingVLANSubnets: neighbours are learned on the
// VLAN whose subnet holds them, so a config whose VLANs share a subnet is
// refused (and the running one kept).
func TestApplyRefusesOverlappingVLANSubnets(t *testing.T) {
	r := newRig(t, nil)
	cfg := testConfig(nil)
	cfg.VLANs[1].SelfIPs = []netip.Prefix{mp("192.0.2.222/25")}
	cfg.Seal()
	err := r.eng.Apply(cfg)
	if err == nil || !strings.Contains(err.Error(), "overlaps VLAN external's 192.0.2.0/24") {
		t.Fatalf("Apply = %v, want the overlap named", err)
	}
	if got, want := r.eng.Config().Version, testConfig(nil).Version; got != want {
		t.Errorf("running config %s after a refused one, want %s", got, want)
	}
}
