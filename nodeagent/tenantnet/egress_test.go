package tenantnet

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/spklab/spklab/internal/netconv"
	"github.com/spklab/spklab/internal/testenv"
)

// TestEgressReachesFakeTMM sends UDP from a Calico-style pod to an address
// behind a fake TMM (a plain Linux VXLAN device with the tenant's VNI) and
// checks the frame on the underlay is VXLAN with that VNI to the TMM
// address, that the datagram arrives from the pod's own address, and that
// the reply comes back to the pod.
func TestEgressReachesFakeTMM(t *testing.T) {
	testenv.RequireRoot(t)
	node := testenv.NewNetns(t, "enode")
	tmm := testenv.NewNetns(t, "etmm")
	pod := testenv.NewNetns(t, "epod")
	underlay(t, node, tmm, tmm0)
	outside := netip.MustParseAddr("198.51.100.1")

	// The pod, plumbed like Calico does it.
	nh, err := netlink.NewHandleAt(node.Handle)
	if err != nil {
		t.Fatal(err)
	}
	defer nh.Close()
	if err := nh.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "cali0123abcd"}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(pod.Handle))}); err != nil {
		t.Fatal(err)
	}
	up(t, node, "cali0123abcd", netip.Prefix{})
	up(t, pod, "eth0", netip.PrefixFrom(redPod0, 32))
	must(t, pod.Do(func() error {
		eth0, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		gw := net.ParseIP("169.254.1.1")
		if err := netlink.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Dst: &net.IPNet{IP: gw, Mask: net.CIDRMask(32, 32)}, Scope: netlink.SCOPE_LINK}); err != nil {
			return err
		}
		return netlink.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: gw})
	}))
	must(t, node.Do(func() error {
		cali, err := netlink.LinkByName("cali0123abcd")
		if err != nil {
			return err
		}
		for k, v := range map[string]string{"net/ipv4/ip_forward": "1", "net/ipv4/conf/cali0123abcd/proxy_arp": "1"} {
			if err := setSysctl(k, v); err != nil {
				return err
			}
		}
		return netlink.RouteAdd(&netlink.Route{LinkIndex: cali.Attrs().Index, Dst: netconv.IPNet(netip.PrefixFrom(redPod0, 32)), Scope: netlink.SCOPE_LINK})
	}))

	apply(t, node, Node{Underlay: "eth2", Local: nodeAddr, Exempt: exempt, Guard: []netip.Addr{tmm0},
		Tenants: []Tenant{{Name: "red", VNI: 100, TMMs: []netip.Addr{tmm0}, Pods: []netip.Addr{redPod0}}}})
	var nodeVXMAC net.HardwareAddr
	must(t, node.Do(func() error {
		l, err := netlink.LinkByName("vx100")
		if err == nil {
			nodeVXMAC = l.Attrs().HardwareAddr
		}
		return err
	}))

	// The fake TMM: VNI 100 back to the node, the outside address on it,
	// and a static neighbour for the pod (a real TMM answers for it).
	must(t, tmm.Do(func() error {
		u0, err := netlink.LinkByName("u0")
		if err != nil {
			return err
		}
		vx := &netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: "vx100", MTU: 1450}, VxlanId: 100, VtepDevIndex: u0.Attrs().Index,
			SrcAddr: net.IP(tmm0.AsSlice()), Learning: true, Port: VXLANPort}
		if err := netlink.LinkAdd(vx); err != nil {
			return err
		}
		l, err := netlink.LinkByName("vx100")
		if err != nil {
			return err
		}
		if err := netlink.NeighAppend(fdbEntry(l.Attrs().Index, nodeAddr)); err != nil {
			return err
		}
		if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: netconv.IPNet(netip.PrefixFrom(outside, 24))}); err != nil {
			return err
		}
		if err := netlink.LinkSetUp(l); err != nil {
			return err
		}
		if err := netlink.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: netconv.IPNet(netip.MustParsePrefix("10.244.0.0/16")), Scope: netlink.SCOPE_LINK}); err != nil {
			return err
		}
		return netlink.NeighAdd(&netlink.Neigh{LinkIndex: l.Attrs().Index, Family: unix.AF_INET, State: netlink.NUD_PERMANENT,
			IP: net.IP(redPod0.AsSlice()), HardwareAddr: nodeVXMAC})
	}))

	// Capture on the TMM's underlay from before the first packet.
	var capFD int
	must(t, tmm.Do(func() error {
		var err error
		capFD, err = packetSocket("u0")
		return err
	}))
	defer unix.Close(capFD)

	var server net.PacketConn
	must(t, tmm.Do(func() error {
		var err error
		server, err = net.ListenPacket("udp4", net.JoinHostPort(outside.String(), "7777"))
		return err
	}))
	defer server.Close()
	from := make(chan string, 1)
	go func() {
		buf := make([]byte, 1500)
		_ = server.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, addr, err := server.ReadFrom(buf)
		if err != nil {
			from <- "error: " + err.Error()
			return
		}
		_, _ = server.WriteTo(bytes.ToUpper(buf[:n]), addr)
		from <- addr.String()
	}()

	var client net.Conn
	must(t, pod.Do(func() error {
		var err error
		client, err = net.Dial("udp4", net.JoinHostPort(outside.String(), "7777"))
		return err
	}))
	defer client.Close()
	reply := make([]byte, 64)
	var n int
	for attempt := 0; attempt < 5 && n == 0; attempt++ {
		// The first datagram may wait for ARP; repeat until answered.
		if _, err := client.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		_ = client.SetReadDeadline(time.Now().Add(time.Second))
		n, _ = client.Read(reply)
	}
	if string(reply[:n]) != "HELLO" {
		t.Fatalf("pod got %q back from %s (want HELLO)", reply[:n], outside)
	}
	if got := <-from; got != netip.AddrPortFrom(redPod0, uint16(client.LocalAddr().(*net.UDPAddr).Port)).String() {
		t.Errorf("the fake TMM saw the datagram from %s, want the pod's own address %s", got, redPod0)
	}

	if err := findVXLAN(t, capFD, 100, nodeAddr, tmm0, redPod0, outside); err != nil {
		t.Error(err)
	}

	// The pod crafts VXLAN itself, with another tenant's key, straight to
	// the TMM: the node's guard stops it (the node's own tunnel, above,
	// still runs), so nothing with that key reaches the TMM.
	var forge net.Conn
	must(t, pod.Do(func() error {
		var err error
		forge, err = net.Dial("udp4", net.JoinHostPort(tmm0.String(), fmt.Sprint(VXLANPort)))
		return err
	}))
	defer forge.Close()
	forged := append([]byte{0x08, 0, 0, 0, 0, 0, 200, 0}, make([]byte, 64)...) // VXLAN header, VNI 200
	for range 3 {
		_, _ = forge.Write(forged) // refused after the first: the ICMP error comes back
		time.Sleep(50 * time.Millisecond)
	}
	if seen := vxlanSeen(capFD, 200, time.Second); seen != "" {
		t.Errorf("a pod's own VXLAN with key 200 reached the TMM: %s", seen)
	}
}

// vxlanSeen reads captured frames for d and describes the first VXLAN
// frame with vni ("" when none came).
func vxlanSeen(fd int, vni uint32, d time.Duration) string {
	buf := make([]byte, 65536)
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			continue
		}
		p := gopacket.NewPacket(buf[:n], layers.LayerTypeEthernet, gopacket.Default)
		ip4, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		vx, _ := p.Layer(layers.LayerTypeVXLAN).(*layers.VXLAN)
		if ip4 != nil && vx != nil && vx.VNI == vni {
			return fmt.Sprintf("%s > %s vni %d", ip4.SrcIP, ip4.DstIP, vx.VNI)
		}
	}
	return ""
}

// packetSocket opens an AF_PACKET socket on dev in the calling thread's
// namespace, with a receive timeout.
func packetSocket(dev string) (int, error) {
	l, err := netlink.LinkByName(dev)
	if err != nil {
		return -1, err
	}
	proto := int(htons(unix.ETH_P_ALL))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, proto)
	if err != nil {
		return -1, err
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: l.Attrs().Index}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	tv := unix.Timeval{Usec: 200000}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// findVXLAN reads captured frames until one is VXLAN with vni from outerSrc
// to outerDst carrying UDP from innerSrc to innerDst.
func findVXLAN(t *testing.T, fd int, vni uint32, outerSrc, outerDst, innerSrc, innerDst netip.Addr) error {
	t.Helper()
	buf := make([]byte, 65536)
	var seen []string
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			continue // timeout: look again until the deadline
		}
		p := gopacket.NewPacket(buf[:n], layers.LayerTypeEthernet, gopacket.Default)
		ip4, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		vx, _ := p.Layer(layers.LayerTypeVXLAN).(*layers.VXLAN)
		if ip4 == nil || vx == nil {
			continue
		}
		var inner *layers.IPv4
		for _, l := range p.Layers() {
			if ipl, ok := l.(*layers.IPv4); ok && ipl != ip4 {
				inner = ipl
			}
		}
		desc := ip4.SrcIP.String() + ">" + ip4.DstIP.String() + " vni " + itoa(int(vx.VNI))
		if inner != nil {
			desc += " inner " + inner.SrcIP.String() + ">" + inner.DstIP.String()
		}
		seen = append(seen, desc)
		if vx.VNI == vni && ip4.SrcIP.Equal(outerSrc.AsSlice()) && ip4.DstIP.Equal(outerDst.AsSlice()) &&
			inner != nil && inner.SrcIP.Equal(innerSrc.AsSlice()) && inner.DstIP.Equal(innerDst.AsSlice()) && inner.Protocol == layers.IPProtocolUDP {
			return nil
		}
	}
	t.Logf("VXLAN frames seen: %q", seen)
	return fmt.Errorf("no VXLAN frame with VNI %d from %s to %s carrying UDP %s > %s", vni, outerSrc, outerDst, innerSrc, innerDst)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
