package fib_test

import (
	"fmt"
	"net/netip"

	"github.com/spklab/spklab/dataplane/fib"
)

func Example() {
	t := fib.New()
	// A self IP on the external VLAN gives a connected route; BGP learns
	// the server network from the router; a static route overrides it.
	_ = t.Add(fib.Route{
		Prefix:   netip.MustParsePrefix("192.0.2.0/24"),
		Source:   fib.Connected,
		NextHops: []fib.NextHop{{VLAN: "external"}},
	})
	_ = t.Replace(fib.BGP, []fib.Route{{
		Prefix: netip.MustParsePrefix("198.51.100.0/24"),
		Source: fib.BGP,
		NextHops: []fib.NextHop{
			{Gateway: netip.MustParseAddr("192.0.2.1"), VLAN: "external"},
			{Gateway: netip.MustParseAddr("192.0.2.2"), VLAN: "external"},
		},
	}})
	err := t.Add(fib.Route{
		Prefix:   netip.MustParsePrefix("198.51.100.1/24"),
		Source:   fib.Static,
		NextHops: []fib.NextHop{{Gateway: netip.MustParseAddr("192.0.2.3"), VLAN: "external"}},
	})
	fmt.Println(err)

	hop, r, _ := t.LookupFlow(netip.MustParseAddr("198.51.100.100"), 12345)
	fmt.Println(r.Prefix, r.Source, len(r.NextHops), "next hops; this flow", hop)
	for _, r := range t.Routes() {
		fmt.Println(r)
	}
	// Output:
	// fib: route 198.51.100.1/24 (static): host bits are set; the prefix is 198.51.100.0/24
	// 198.51.100.0/24 bgp 2 next hops; this flow via 192.0.2.1 dev external
	// 192.0.2.0/24 [connected/0] dev external
	// 198.51.100.0/24 [bgp/20] via 192.0.2.1 dev external, via 192.0.2.2 dev external
}
