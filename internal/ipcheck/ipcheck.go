// Package ipcheck parses the IP addresses and CIDRs of lab and CR files and
// says, in plain words, why one is not acceptable. Zones and IPv4-mapped
// IPv6 addresses are refused: neither the lab nor TMM has them.
//
// The functions return a reason rather than an error so that each caller
// can file it under its own path.
package ipcheck

import (
	"fmt"
	"net/netip"
)

// Family is the IP address family a field requires.
type Family int

const (
	Any Family = iota
	IPv4
	IPv6
)

// Matches reports whether a is of family f.
func (f Family) Matches(a netip.Addr) bool {
	switch f {
	case IPv4:
		return a.Is4()
	case IPv6:
		return a.Is6()
	}
	return true
}

// String is "IPv4", "IPv6" or, for Any, "IP".
func (f Family) String() string {
	switch f {
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	}
	return "IP"
}

// Bits is the length of an address of family f: 32 for IPv4, else 128.
func (f Family) Bits() int {
	if f == IPv4 {
		return 32
	}
	return 128
}

// FamilyOf is "IPv4" or "IPv6".
func FamilyOf(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// Addr parses s as an address of family f. On failure it returns the zero
// Addr and why; the reason is empty on success.
func Addr(s string, f Family) (netip.Addr, string) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.Is4In6() {
		return netip.Addr{}, fmt.Sprintf("%q is not an IP address", s)
	}
	if !f.Matches(a) {
		return netip.Addr{}, fmt.Sprintf("%q is not an %s address", s, f)
	}
	return a, ""
}

// Prefix parses s as a canonical CIDR (no host bits set) of family f. On
// failure it returns the zero Prefix and why; the reason is empty on success.
func Prefix(s string, f Family) (netip.Prefix, string) {
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil || p.Addr().Zone() != "" || p.Addr().Is4In6():
		return netip.Prefix{}, fmt.Sprintf("%q is not a CIDR", s)
	case !f.Matches(p.Addr()):
		return netip.Prefix{}, fmt.Sprintf("%q is not an %s CIDR", s, f)
	case p.Masked() != p:
		return netip.Prefix{}, fmt.Sprintf("%q has host bits set (the subnet would be %s)", s, p.Masked())
	}
	return p, ""
}

// Valid is Prefix without the reason: the zero Prefix means s is absent or
// invalid.
func Valid(s string, f Family) netip.Prefix {
	p, _ := Prefix(s, f)
	return p
}

// HostIn says why a is not a usable host address of subnet: outside it, or
// its network address (IPv4), subnet-router anycast address (IPv6) or
// broadcast address (IPv4). /31, /32, /127 and /128 reserve no address. The
// reason is empty when a is usable.
func HostIn(a netip.Addr, subnet netip.Prefix) string {
	if !subnet.Contains(a) {
		return fmt.Sprintf("%s is outside %s", a, subnet)
	}
	if subnet.Bits() >= a.BitLen()-1 {
		return ""
	}
	if a == subnet.Addr() {
		if a.Is4() {
			return fmt.Sprintf("%s is the network address of %s", a, subnet)
		}
		return fmt.Sprintf("%s is the subnet-router anycast address of %s", a, subnet)
	}
	if a.Is4() && a == Last(subnet) {
		return fmt.Sprintf("%s is the broadcast address of %s", a, subnet)
	}
	return ""
}

// Last is the highest address of p; the zero Addr for an invalid p.
func Last(p netip.Prefix) netip.Addr {
	if !p.IsValid() {
		return netip.Addr{}
	}
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
