package topology

import (
	"fmt"
	"net/netip"

	"github.com/spklab/spklab/internal/ipcheck"
)

// parseAddr parses s as an address of family f; on failure it records why
// under path and returns false.
func (l *problemList) parseAddr(path, s string, f ipcheck.Family) (netip.Addr, bool) {
	a, why := ipcheck.Addr(s, f)
	if why != "" {
		l.add(path, "%s", why)
	}
	return a, why == ""
}

// parsePrefix parses s as a canonical CIDR of family f; on failure it
// records why under path and returns false.
func (l *problemList) parsePrefix(path, s string, f ipcheck.Family) (netip.Prefix, bool) {
	p, why := ipcheck.Prefix(s, f)
	if why != "" {
		l.add(path, "%s", why)
	}
	return p, why == ""
}

// hostIn records a problem unless a is a usable host address of subnet: inside
// it, and neither its network address nor (IPv4) its broadcast address.
func (l *problemList) hostIn(path string, a netip.Addr, subnet netip.Prefix) bool {
	why := ipcheck.HostIn(a, subnet)
	if why != "" {
		l.add(path, "%s", why)
	}
	return why == ""
}

// ownedPrefix is a subnet with the path that defines it.
type ownedPrefix struct {
	path   string
	prefix netip.Prefix
}

func (o ownedPrefix) String() string { return fmt.Sprintf("%s %s", o.path, o.prefix) }
