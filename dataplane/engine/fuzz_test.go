package engine

import (
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/spklab/spklab/dataplane/config"
	"github.com/spklab/spklab/dataplane/port"
	"github.com/spklab/spklab/dataplane/port/memport"
)

// FuzzPipeline feeds arbitrary frames to both wire ports of a configured
// engine: no input may panic, and the engine must keep its invariants (the
// flow table bounded).
func FuzzPipeline(f *testing.F) {
	tmmExt, ext := memport.Pair("tmm-ext", "ext")
	tmmEgr, egr := memport.Pair("tmm-egr", "egr")
	members := []config.Member{{Address: addrPort("10.244.1.2:80"), Node: "bnk-worker", NodeAddress: ma("198.18.100.3")}}
	eng, err := New(Options{Ports: []port.Port{tmmExt, tmmEgr}, MaxFlows: 32})
	if err != nil {
		f.Fatal(err)
	}
	if err := eng.Apply(testConfig(members)); err != nil {
		f.Fatal(err)
	}
	for _, seed := range pipelineSeeds(f, tmmExt.MAC(), tmmEgr.MAC()) {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	w := newWorker(eng)
	bufs := port.NewBufs(1, port.DefaultMaxFrame)
	drain := port.NewBufs(64, port.DefaultMaxFrame)
	f.Fuzz(func(t *testing.T, frame []byte, internal bool) {
		if len(frame) > port.DefaultMaxFrame {
			return
		}
		bufs[0].Set(frame)
		wp := eng.portList[0]
		if internal {
			wp = eng.portList[1]
		}
		w.now = eng.tick()
		w.fromWire(eng.state.Load(), wp, &bufs[0])
		w.flush()
		ext.Recv(drain, 0)
		egr.Recv(drain, 0)
		if n := eng.flows.Len(); n > 32 {
			t.Fatalf("flow table holds %d flows, over its limit 32", n)
		}
	})
}

func pipelineSeeds(f *testing.F, extMAC, egrMAC [6]byte) [][]byte {
	var out [][]byte
	syn := tcpFrame(f, clientMAC, extMAC, addrPort("198.51.100.100:40000"), addrPort("198.19.19.100:80"), true, false, 1)
	out = append(out, syn, syn[:30])
	out = append(out, tcpFrame(f, clientMAC, extMAC, addrPort("[2001::198:51:100:100]:40000"), addrPort("[2001::198:19:19:100]:80"), true, false, 1))
	out = append(out, serialize(f,
		&layers.Ethernet{SrcMAC: net.HardwareAddr(clientMAC[:]), DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: clientMAC[:], SourceProtAddress: []byte{192, 0, 2, 250},
			DstHwAddress: make([]byte, 6), DstProtAddress: []byte{192, 0, 2, 201}}))
	inner := tcpFrame(f, podMAC, egrMAC, addrPort("10.244.1.5:33333"), addrPort("198.51.100.100:80"), true, false, 1)
	out = append(out, serialize(f,
		&layers.Ethernet{SrcMAC: net.HardwareAddr(nodeMAC[:]), DstMAC: net.HardwareAddr(egrMAC[:]), EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{198, 18, 100, 3}, DstIP: net.IP{198, 18, 100, 201}},
		&layers.UDP{SrcPort: 50000, DstPort: 4789}, &layers.VXLAN{ValidIDFlag: true, VNI: 100}, gopacket.Payload(inner)))
	return out
}
