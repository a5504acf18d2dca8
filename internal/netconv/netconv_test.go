package netconv

import (
	"net"
	"net/netip"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, s := range []string{"192.0.2.201/24", "2001::192:0:2:201/112", "0.0.0.0/0", "::/0"} {
		p := netip.MustParsePrefix(s)
		if got := Prefix(IPNet(p)); got != p {
			t.Errorf("%s -> %v -> %s", p, IPNet(p), got)
		}
	}
	if got := Prefix(nil); got.IsValid() {
		t.Errorf("Prefix(nil) = %s", got)
	}
	if got := Prefix(&net.IPNet{IP: net.IP{1, 2, 3}}); got.IsValid() {
		t.Errorf("malformed = %s", got)
	}
}
