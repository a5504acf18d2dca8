package framework

import (
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func TestSpoofedSYN(t *testing.T) {
	src, dst := netip.MustParseAddr("198.51.100.200"), netip.MustParseAddrPort("198.19.19.100:80")
	raw, err := spoofedSYN(src, 4242, dst, 7)
	if err != nil {
		t.Fatal(err)
	}
	p := gopacket.NewPacket(raw, layers.LayerTypeIPv4, gopacket.Default)
	ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if ip == nil || tcp == nil || p.ErrorLayer() != nil {
		t.Fatalf("not an IPv4 TCP packet: %v", p)
	}
	if !ip.SrcIP.Equal(src.AsSlice()) || !ip.DstIP.Equal(dst.Addr().AsSlice()) || ip.TTL == 0 {
		t.Errorf("IP header %s → %s ttl %d", ip.SrcIP, ip.DstIP, ip.TTL)
	}
	if !tcp.SYN || tcp.ACK || tcp.SrcPort != 4242 || tcp.DstPort != 80 || tcp.Seq != 7 {
		t.Errorf("TCP header %+v", tcp)
	}
	// The checksum must verify, or the TMM would drop the SYN as malformed
	// and the flood would prove nothing.
	want := tcp.Checksum
	tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, tcp, gopacket.Payload(tcp.Payload)); err != nil {
		t.Fatal(err)
	}
	if got := gopacket.NewPacket(buf.Bytes(), layers.LayerTypeTCP, gopacket.Default).Layer(layers.LayerTypeTCP).(*layers.TCP).Checksum; got != want {
		t.Errorf("TCP checksum %#x, recomputed %#x", want, got)
	}
}

func TestNeighborClaims(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0x42, 0xc6, 0x12, 0x64, 0x09}
	raw, err := neighborClaim(netip.MustParseAddr("192.0.2.250"), mac)
	if err != nil {
		t.Fatal(err)
	}
	p := gopacket.NewPacket(raw, layers.LayerTypeEthernet, gopacket.Default)
	arp, _ := p.Layer(layers.LayerTypeARP).(*layers.ARP)
	if arp == nil || arp.Operation != layers.ARPReply || net.IP(arp.SourceProtAddress).String() != "192.0.2.250" || net.HardwareAddr(arp.SourceHwAddress).String() != mac.String() {
		t.Errorf("ARP claim: %v", p)
	}

	raw, err = neighborClaim(netip.MustParseAddr("2001::192:0:2:250"), mac)
	if err != nil {
		t.Fatal(err)
	}
	p = gopacket.NewPacket(raw, layers.LayerTypeEthernet, gopacket.Default)
	ip, _ := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	na, _ := p.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
	if ip == nil || na == nil || p.ErrorLayer() != nil {
		t.Fatalf("not an NA: %v", p)
	}
	if ip.HopLimit != 255 || ip.DstIP.String() != "ff02::1" || na.TargetAddress.String() != "2001::192:0:2:250" || !na.Override() {
		t.Errorf("NA: hop limit %d to %s target %s override %v", ip.HopLimit, ip.DstIP, na.TargetAddress, na.Override())
	}
	if len(na.Options) != 1 || na.Options[0].Type != layers.ICMPv6OptTargetAddress || net.HardwareAddr(na.Options[0].Data).String() != mac.String() {
		t.Errorf("NA options %v", na.Options)
	}
}
