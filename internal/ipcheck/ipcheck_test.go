package ipcheck

import (
	"net/netip"
	"testing"
)

func TestAddr(t *testing.T) {
	cases := []struct {
		s         string
		f         Family
		want, why string
	}{
		{"192.0.2.1", Any, "192.0.2.1", ""},
		{"2001:db8::1", Any, "2001:db8::1", ""},
		{"192.0.2.1", IPv4, "192.0.2.1", ""},
		{"2001:db8::1", IPv6, "2001:db8::1", ""},
		{"2001:db8::1", IPv4, "", `"2001:db8::1" is not an IPv4 address`},
		{"192.0.2.1", IPv6, "", `"192.0.2.1" is not an IPv6 address`},
		{"", Any, "", `"" is not an IP address`},
		{"x", IPv4, "", `"x" is not an IP address`},
		{"192.0.2.0/24", Any, "", `"192.0.2.0/24" is not an IP address`},
		{"fe80::1%eth0", IPv6, "", `"fe80::1%eth0" is not an IP address`},
		{"::ffff:192.0.2.1", Any, "", `"::ffff:192.0.2.1" is not an IP address`},
	}
	for _, c := range cases {
		a, why := Addr(c.s, c.f)
		if why != c.why {
			t.Errorf("Addr(%q, %s): reason %q, want %q", c.s, c.f, why, c.why)
		}
		if c.want == "" {
			if a.IsValid() {
				t.Errorf("Addr(%q, %s) = %s, want the zero Addr", c.s, c.f, a)
			}
		} else if a != netip.MustParseAddr(c.want) {
			t.Errorf("Addr(%q, %s) = %s, want %s", c.s, c.f, a, c.want)
		}
	}
}

func TestPrefix(t *testing.T) {
	cases := []struct {
		s         string
		f         Family
		want, why string
	}{
		{"10.0.0.0/8", Any, "10.0.0.0/8", ""},
		{"10.0.0.0/8", IPv4, "10.0.0.0/8", ""},
		{"64:ff9b::/96", IPv6, "64:ff9b::/96", ""},
		{"0.0.0.0/0", IPv4, "0.0.0.0/0", ""},
		{"10.0.0.0/8", IPv6, "", `"10.0.0.0/8" is not an IPv6 CIDR`},
		{"2001:db8::/64", IPv4, "", `"2001:db8::/64" is not an IPv4 CIDR`},
		{"10.0.0.1/8", Any, "", `"10.0.0.1/8" has host bits set (the subnet would be 10.0.0.0/8)`},
		{"2001:db8::1/64", IPv6, "", `"2001:db8::1/64" has host bits set (the subnet would be 2001:db8::/64)`},
		{"10.0.0.0", Any, "", `"10.0.0.0" is not a CIDR`},
		{"10.0.0.0/33", IPv4, "", `"10.0.0.0/33" is not a CIDR`},
		{"::/200", IPv6, "", `"::/200" is not a CIDR`},
		{"::ffff:10.0.0.0/104", Any, "", `"::ffff:10.0.0.0/104" is not a CIDR`},
		{"", Any, "", `"" is not a CIDR`},
	}
	for _, c := range cases {
		p, why := Prefix(c.s, c.f)
		if why != c.why {
			t.Errorf("Prefix(%q, %s): reason %q, want %q", c.s, c.f, why, c.why)
		}
		var want netip.Prefix
		if c.want != "" {
			want = netip.MustParsePrefix(c.want)
		}
		if p != want {
			t.Errorf("Prefix(%q, %s) = %s, want %s", c.s, c.f, p, want)
		}
		if v := Valid(c.s, c.f); v != want {
			t.Errorf("Valid(%q, %s) = %s, want %s", c.s, c.f, v, want)
		}
	}
}

func TestHostIn(t *testing.T) {
	cases := []struct{ addr, subnet, why string }{
		{"192.0.2.1", "192.0.2.0/24", ""},
		{"192.0.2.254", "192.0.2.0/24", ""},
		{"192.0.3.1", "192.0.2.0/24", "192.0.3.1 is outside 192.0.2.0/24"},
		{"2001:db8::1", "192.0.2.0/24", "2001:db8::1 is outside 192.0.2.0/24"},
		{"192.0.2.0", "192.0.2.0/24", "192.0.2.0 is the network address of 192.0.2.0/24"},
		{"192.0.2.255", "192.0.2.0/24", "192.0.2.255 is the broadcast address of 192.0.2.0/24"},
		{"2001:db8::", "2001:db8::/64", "2001:db8:: is the subnet-router anycast address of 2001:db8::/64"},
		{"2001:db8::ffff:ffff:ffff:ffff", "2001:db8::/64", ""}, // IPv6 has no broadcast
		{"192.0.2.0", "192.0.2.0/31", ""},
		{"192.0.2.1", "192.0.2.0/31", ""},
		{"192.0.2.7", "192.0.2.7/32", ""},
		{"2001:db8::", "2001:db8::/127", ""},
		{"2001:db8::1", "2001:db8::1/128", ""},
	}
	for _, c := range cases {
		if why := HostIn(netip.MustParseAddr(c.addr), netip.MustParsePrefix(c.subnet)); why != c.why {
			t.Errorf("HostIn(%s, %s) = %q, want %q", c.addr, c.subnet, why, c.why)
		}
	}
}

func TestLast(t *testing.T) {
	cases := []struct{ prefix, want string }{
		{"192.0.2.0/24", "192.0.2.255"},
		{"10.0.0.0/8", "10.255.255.255"},
		{"192.0.2.8/29", "192.0.2.15"},
		{"192.0.2.7/32", "192.0.2.7"},
		{"0.0.0.0/0", "255.255.255.255"},
		{"2001:db8::/64", "2001:db8::ffff:ffff:ffff:ffff"},
		{"2001:db8::/125", "2001:db8::7"},
	}
	for _, c := range cases {
		if got := Last(netip.MustParsePrefix(c.prefix)); got != netip.MustParseAddr(c.want) {
			t.Errorf("Last(%s) = %s, want %s", c.prefix, got, c.want)
		}
	}
	if got := Last(netip.Prefix{}); got.IsValid() {
		t.Errorf("Last of the zero Prefix = %s, want the zero Addr", got)
	}
}

func TestFamily(t *testing.T) {
	v4, v6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	cases := []struct {
		f                Family
		name             string
		bits             int
		matchV4, matchV6 bool
	}{
		{Any, "IP", 128, true, true},
		{IPv4, "IPv4", 32, true, false},
		{IPv6, "IPv6", 128, false, true},
	}
	for _, c := range cases {
		if c.f.String() != c.name || c.f.Bits() != c.bits || c.f.Matches(v4) != c.matchV4 || c.f.Matches(v6) != c.matchV6 {
			t.Errorf("%d: got %s, %d bits, matches v4 %t, v6 %t; want %s, %d, %t, %t",
				c.f, c.f, c.f.Bits(), c.f.Matches(v4), c.f.Matches(v6), c.name, c.bits, c.matchV4, c.matchV6)
		}
	}
	if FamilyOf(v4) != "IPv4" || FamilyOf(v6) != "IPv6" {
		t.Errorf("FamilyOf: %s, %s", FamilyOf(v4), FamilyOf(v6))
	}
}
