// Package netconv converts between net/netip values and the net.IPNet the
// netlink library speaks.
package netconv

import (
	"net"
	"net/netip"
)

// IPNet is p as a *net.IPNet (address kept, not masked).
func IPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// Prefix is n as a netip.Prefix (IPv4-mapped addresses unmapped); the zero
// Prefix for nil or a malformed n.
func Prefix(n *net.IPNet) netip.Prefix {
	if n == nil {
		return netip.Prefix{}
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}
	}
	ones, bits := n.Mask.Size()
	if bits == 0 {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(a.Unmap(), ones)
}
