package e2e

import (
	"net/netip"
	"testing"

	"github.com/spklab/spklab/topology"
)

// The flood's spoofed sources must be addresses no lab host answers for:
// inside the client's subnet (so the router keeps the answers on that
// network), never the gateway, the client, the router or the broadcast.
func TestSpoofableSources(t *testing.T) {
	topo := topology.Default()
	got := spoofableSources(topo, 48)
	if len(got) != 48 {
		t.Fatalf("got %d sources, want 48: %v", len(got), got)
	}
	subnet := netip.MustParsePrefix(topo.Network(topo.Client.Network).IPv4Subnet)
	forbidden := map[string]bool{"198.51.100.0": true, "198.51.100.1": true, "198.51.100.100": true, "198.51.100.250": true, "198.51.100.255": true}
	seen := map[netip.Addr]bool{}
	for _, a := range got {
		if !subnet.Contains(a) || forbidden[a.String()] || seen[a] {
			t.Errorf("source %s: outside %s, held by a lab host, or repeated", a, subnet)
		}
		seen[a] = true
	}
	if got[0].String() != "198.51.100.254" {
		t.Errorf("first source %s, want the top of the subnet", got[0])
	}
	// A subnet too small to spoof in gives none rather than a lab host.
	topo.Network(topo.Client.Network).IPv4Subnet = "198.51.100.248/30"
	if got := spoofableSources(topo, 48); len(got) != 0 {
		t.Errorf("a /30 gave %v", got)
	}
}
