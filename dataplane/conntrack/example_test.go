package conntrack_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/spklab/spklab/dataplane/conntrack"
	"github.com/spklab/spklab/dataplane/natport"
)

// A source-NAT flow: the table keeps the translated port in the flow's
// value and gives it back to the pool when the flow leaves the table.
func Example() {
	snat := netip.MustParseAddr("198.51.100.1")
	ports := natport.NewPools(40000, 40009)
	tab := conntrack.New(conntrack.Config[uint16]{
		Max: 1000,
		OnExpire: func(f *conntrack.Flow[uint16]) {
			ports.Get(snat, f.Orig.Proto).Release(f.Value)
		},
	})

	now := int64(0) // the engine's coarse monotonic clock
	orig := conntrack.Key{Zone: 100, Proto: conntrack.ProtoTCP,
		Src: netip.MustParseAddr("10.244.1.5"), Dst: netip.MustParseAddr("192.0.2.80"), SrcPort: 51000, DstPort: 443}
	port, _ := ports.Get(snat, orig.Proto).Allocate()
	reply := conntrack.Key{Proto: conntrack.ProtoTCP, Src: orig.Dst, Dst: snat, SrcPort: orig.DstPort, DstPort: port}
	f, _ := tab.Insert(orig, reply, 60*time.Second, port, now)
	f.Track(conntrack.Original, conntrack.TCPSyn, 60, now)

	// The server's answer arrives on the translated key.
	g, dir, _ := tab.Lookup(reply, now)
	fmt.Println(dir, g.Track(dir, conntrack.TCPSyn|conntrack.TCPAck, 60, now), "port", g.Value)

	f.Track(conntrack.Original, conntrack.TCPRst, 40, now)
	now += int64(2 * time.Second)
	fmt.Println("expired:", tab.Expire(now, 100), "ports in use:", ports.Get(snat, orig.Proto).InUse())
	// Output:
	// reply syn-recv port 40000
	// expired: 1 ports in use: 0
}
