package netns

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// Ping sends ICMP (or ICMPv6) echo requests from inside namespace ns to dst
// until one is answered, for up to timeout. It needs no ping program: a raw
// socket is opened in the namespace.
func Ping(ctx context.Context, ns string, dst netip.Addr, timeout time.Duration) error {
	var fd int
	family, proto := unix.AF_INET, unix.IPPROTO_ICMP
	if dst.Is6() {
		family, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
	}
	if err := inNamespace(ns, func() error {
		var err error
		fd, err = unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		return err
	}); err != nil {
		return fmt.Errorf("ping %s from %s: raw socket: %w", dst, ns, err)
	}
	defer unix.Close(fd)
	tv := unix.Timeval{Usec: 100000}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	var sa unix.Sockaddr
	if dst.Is4() {
		sa = &unix.SockaddrInet4{Addr: dst.As4()}
	} else {
		sa = &unix.SockaddrInet6{Addr: dst.As16()}
	}
	id := uint16(fd) ^ uint16(time.Now().UnixNano())
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 1500)
	var lastErr error
	for seq := uint16(1); time.Now().Before(deadline); seq++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := unix.Sendto(fd, echoRequest(dst.Is6(), id, seq), 0, sa); err != nil {
			lastErr = err
			time.Sleep(100 * time.Millisecond)
			continue
		}
		// Read until this request's wait is over; raw sockets see every
		// ICMP message of the namespace, so match type, id and source.
		wait := time.Now().Add(300 * time.Millisecond)
		for time.Now().Before(wait) {
			n, from, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				break
			}
			if isEchoReply(buf[:n], dst, from, id) {
				return nil
			}
		}
	}
	if lastErr != nil {
		return fmt.Errorf("ping %s from %s: no reply in %s (last send error: %w)", dst, ns, timeout, lastErr)
	}
	return fmt.Errorf("ping %s from %s: no reply in %s", dst, ns, timeout)
}

func echoRequest(v6 bool, id, seq uint16) []byte {
	msg := make([]byte, 8+16)
	msg[0] = 8 // echo request
	if v6 {
		msg[0] = 128 // the kernel fills in the ICMPv6 checksum
	}
	binary.BigEndian.PutUint16(msg[4:], id)
	binary.BigEndian.PutUint16(msg[6:], seq)
	copy(msg[8:], "spklab-netns-png")
	if !v6 {
		binary.BigEndian.PutUint16(msg[2:], checksum(msg))
	}
	return msg
}

func isEchoReply(b []byte, dst netip.Addr, from unix.Sockaddr, id uint16) bool {
	replyType := byte(0)
	if dst.Is4() {
		// IPv4 raw sockets hand over the IP header too.
		if len(b) < 20 {
			return false
		}
		b = b[int(b[0]&0x0f)*4:]
		f, ok := from.(*unix.SockaddrInet4)
		if !ok || netip.AddrFrom4(f.Addr) != dst {
			return false
		}
	} else {
		replyType = 129
		f, ok := from.(*unix.SockaddrInet6)
		if !ok || netip.AddrFrom16(f.Addr) != dst {
			return false
		}
	}
	return len(b) >= 8 && b[0] == replyType && binary.BigEndian.Uint16(b[4:]) == id
}

func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
