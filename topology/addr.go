package topology

import (
	"fmt"
	"net/netip"
)

// family is an IP address family a field requires.
type family int

const (
	anyFamily family = iota
	ipv4Only
	ipv6Only
)

func (f family) matches(a netip.Addr) bool {
	switch f {
	case ipv4Only:
		return a.Is4()
	case ipv6Only:
		return a.Is6()
	}
	return true
}

func (f family) String() string {
	switch f {
	case ipv4Only:
		return "IPv4"
	case ipv6Only:
		return "IPv6"
	}
	return "IP"
}

func familyOf(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// parseAddr parses s as an address of family f; on failure it records why
// under path and returns false.
func (l *problemList) parseAddr(path, s string, f family) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.Is4In6() {
		l.add(path, "%q is not an IP address", s)
		return netip.Addr{}, false
	}
	if !f.matches(a) {
		l.add(path, "%q is not an %s address", s, f)
		return netip.Addr{}, false
	}
	return a, true
}

// parsePrefix parses s as a canonical CIDR of family f.
func (l *problemList) parsePrefix(path, s string, f family) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s)
	if err != nil || p.Addr().Zone() != "" || p.Addr().Is4In6() {
		l.add(path, "%q is not a CIDR", s)
		return netip.Prefix{}, false
	}
	if !f.matches(p.Addr()) {
		l.add(path, "%q is not an %s CIDR", s, f)
		return netip.Prefix{}, false
	}
	if p.Masked() != p {
		l.add(path, "%q has host bits set (the subnet would be %s)", s, p.Masked())
		return netip.Prefix{}, false
	}
	return p, true
}

// hostIn records a problem unless a is a usable host address of subnet: inside
// it, and neither its network address nor (IPv4) its broadcast address.
func (l *problemList) hostIn(path string, a netip.Addr, subnet netip.Prefix) bool {
	if !subnet.Contains(a) {
		l.add(path, "%s is outside %s", a, subnet)
		return false
	}
	if subnet.Bits() >= a.BitLen()-1 {
		return true // /31, /32, /127, /128 have no reserved addresses
	}
	if a == subnet.Addr() {
		if a.Is4() {
			l.add(path, "%s is the network address of %s", a, subnet)
		} else {
			l.add(path, "%s is the subnet-router anycast address of %s", a, subnet)
		}
		return false
	}
	if a.Is4() && a == lastAddr(subnet) {
		l.add(path, "%s is the broadcast address of %s", a, subnet)
		return false
	}
	return true
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// validPrefix parses s as a canonical CIDR of family f; the zero Prefix
// means absent or invalid (Validate says why).
func validPrefix(s string, f family) netip.Prefix {
	p, err := netip.ParsePrefix(s)
	if err != nil || p.Masked() != p || !f.matches(p.Addr()) || p.Addr().Zone() != "" || p.Addr().Is4In6() {
		return netip.Prefix{}
	}
	return p
}

// ownedPrefix is a subnet with the path that defines it.
type ownedPrefix struct {
	path   string
	prefix netip.Prefix
}

func (o ownedPrefix) String() string { return fmt.Sprintf("%s %s", o.path, o.prefix) }
