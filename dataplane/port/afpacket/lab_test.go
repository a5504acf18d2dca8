//go:build linux

package afpacket_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/spklab/spklab/dataplane/port"
	"github.com/spklab/spklab/dataplane/port/afpacket"
	"github.com/spklab/spklab/internal/testenv"
)

// testEtherType is the IEEE local experimental EtherType: no kernel protocol
// handles it, so test frames are only ever seen by the sockets under test.
const testEtherType = layers.EthernetType(0x88b5)

var (
	portMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01} // p0, the port under test
	peerMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x02} // p1, the traffic source
)

// lab is a fresh netns with a veth pair p0 <-> p1, both up, IPv6 off so
// the kernel stays quiet on them.
type lab struct {
	ns *testenv.Netns
}

func newLab(t testing.TB, mtu int) *lab {
	t.Helper()
	testenv.RequireRoot(t)
	ns := testenv.NewNetns(t, "afp")
	err := ns.Do(func() error {
		for _, k := range []string{"all", "default"} {
			if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+k+"/disable_ipv6", []byte("1"), 0o644); err != nil {
				return fmt.Errorf("disabling IPv6: %w", err)
			}
		}
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "p0", MTU: mtu, HardwareAddr: portMAC}, PeerName: "p1", PeerHardwareAddr: peerMAC}
		if err := netlink.LinkAdd(veth); err != nil {
			return fmt.Errorf("adding veth: %w", err)
		}
		for _, name := range []string{"p0", "p1"} {
			l, err := netlink.LinkByName(name)
			if err != nil {
				return err
			}
			if err := netlink.LinkSetMTU(l, mtu); err != nil {
				return fmt.Errorf("mtu %s: %w", name, err)
			}
			if err := netlink.LinkSetUp(l); err != nil {
				return fmt.Errorf("up %s: %w", name, err)
			}
		}
		// The kernel turns a veth's carrier on asynchronously (linkwatch,
		// later on a loaded machine); until then it drops what is sent.
		for _, name := range []string{"p0", "p1"} {
			if err := waitOperUp(name, 10*time.Second); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return &lab{ns: ns}
}

func waitOperUp(name string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		l, err := netlink.LinkByName(name)
		if err != nil {
			return err
		}
		if l.Attrs().OperState == netlink.OperUp {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is %s after %s, not up", name, l.Attrs().OperState, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (l *lab) open(t testing.TB, ifname string, opts afpacket.Options) *afpacket.Port {
	t.Helper()
	var p *afpacket.Port
	if err := l.ns.Do(func() (err error) {
		p, err = afpacket.Open(ifname, opts)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// rawSocket is a plain AF_PACKET socket (no ring, no library) on one
// interface: an independent way to put frames on the wire and see them.
type rawSocket struct {
	fd      int
	ifindex int
}

func (l *lab) raw(t testing.TB, ifname string) *rawSocket {
	t.Helper()
	var s rawSocket
	err := l.ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		proto := int(htons(unix.ETH_P_ALL))
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return fmt.Errorf("raw socket: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return fmt.Errorf("binding raw socket: %w", err)
		}
		s = rawSocket{fd: fd, ifindex: ifi.Index}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(s.fd) })
	return &s
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (s *rawSocket) send(t testing.TB, frame []byte) {
	t.Helper()
	if err := unix.Sendto(s.fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: s.ifindex, Halen: 6}); err != nil {
		t.Fatalf("raw send: %v", err)
	}
}

// recvTest returns the next test frame (testEtherType after the MACs, tagged
// or not) within d, or nil.
func (s *rawSocket) recvTest(t testing.TB, d time.Duration) []byte {
	t.Helper()
	deadline := time.Now().Add(d)
	buf := make([]byte, 65536)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil
		}
		fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, int(left/time.Millisecond)+1); err != nil && !errors.Is(err, unix.EINTR) {
			t.Fatalf("poll: %v", err)
		}
		if fds[0].Revents&unix.POLLIN == 0 {
			continue
		}
		n, _, err := unix.Recvfrom(s.fd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			continue
		}
		if isTestFrame(buf[:n]) {
			return append([]byte(nil), buf[:n]...)
		}
	}
}

func isTestFrame(f []byte) bool {
	if len(f) < 14 {
		return false
	}
	et := binary.BigEndian.Uint16(f[12:])
	if (et == 0x8100 || et == 0x88a8) && len(f) >= 18 {
		et = binary.BigEndian.Uint16(f[16:])
	}
	return layers.EthernetType(et) == testEtherType
}

// testFrame builds an Ethernet frame with a recognisable payload of size
// bytes; vlan > 0 adds an 802.1Q tag with priority pcp.
func testFrame(t testing.TB, src, dst net.HardwareAddr, vlan uint16, pcp uint8, seq, size int) []byte {
	t.Helper()
	payload := make([]byte, size)
	copy(payload, fmt.Sprintf("spklab port test %06d ", seq))
	for i := 24; i < size; i++ {
		payload[i] = byte(seq + i)
	}
	eth := &layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: testEtherType}
	ls := []gopacket.SerializableLayer{eth}
	if vlan > 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: vlan, Priority: pcp, Type: testEtherType})
	}
	ls = append(ls, gopacket.Payload(payload))
	sb := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(sb, gopacket.SerializeOptions{}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), sb.Bytes()...)
}

// recvTestFrames reads from p until want test frames arrived or d passed,
// skipping anything else the kernel might send, and returns copies.
func recvTestFrames(t testing.TB, p port.Port, want int, d time.Duration) [][]byte {
	t.Helper()
	bufs := port.NewBufs(8, port.DefaultMaxFrame)
	var got [][]byte
	deadline := time.Now().Add(d)
	for len(got) < want {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		n, err := p.Recv(bufs, left)
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		for i := 0; i < n; i++ {
			if bufs[i].Start != port.Headroom {
				t.Fatalf("Recv set Start=%d, want Headroom", bufs[i].Start)
			}
			if f := bufs[i].Frame(); isTestFrame(f) {
				got = append(got, append([]byte(nil), f...))
			}
		}
	}
	return got
}

// sendRaw is send without testing.TB, for sender goroutines.
func sendRaw(s *rawSocket, frame []byte) error {
	for {
		err := unix.Sendto(s.fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: s.ifindex, Halen: 6})
		if err == unix.ENOBUFS {
			time.Sleep(10 * time.Microsecond) // device queue full: back off, do not drop
			continue
		}
		return err
	}
}
