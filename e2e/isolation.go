package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/spklab/spklab/dataplane/engine"
	"github.com/spklab/spklab/e2e/framework"
	"github.com/spklab/spklab/host/frr"
	"github.com/spklab/spklab/spk"
	"github.com/spklab/spklab/topology"
)

// LabelIsolation marks the hostile suite: each spec is an attack on the
// promise that tenants stay apart, and passes when the attack fails.
const LabelIsolation = "isolation"

// Bounds of the attacks: a few frames, a few seconds, lab namespaces and
// containers only.
const (
	forgedFrames = 20
	forgedGap    = 20 * time.Millisecond
	// settle is how long a forged frame gets to make a flow, were it let in.
	settle = 1500 * time.Millisecond
)

// registerIsolation: docs/architecture.md, "What the suites check" item 4
// and README, "What keeps tenants apart". One
// tenant (the attacker, with pods) against another (the victim, with a
// SNAT pool, a VXLAN key and a VIP): forged tenant VXLAN from a host on
// the egress network that is no node and from the attacker's pod, a newer
// CR in the attacker's namespace claiming the victim's VIP, and an egress
// naming the victim's pool.
func registerIsolation(e *suiteEnv) {
	topo := e.target.Topology()
	attacker, victim, ok := isolationTenants(topo)
	if !ok {
		return
	}
	network, tmms := tunnelEnds(topo)
	ginkgo.Describe("isolation", ginkgo.Label(LabelIsolation), func() {
		if network != "" && len(tmms) > 0 && victim.SNATPool != nil {
			ginkgo.It(fmt.Sprintf("a host on %s that is no node cannot send VXLAN with %s's key: the TMMs drop it as %s and nothing leaves as %s", network, victim.Namespace, engine.DropForeignVTEP, victim.Namespace), func(sc ginkgo.SpecContext) {
				ctx, cancel := e.specContext(sc)
				defer cancel()
				stranger, addr, remove, err := e.target.Stranger(ctx, network)
				gomega.Expect(err).NotTo(gomega.HaveOccurred(), "adding a host to %s", network)
				defer remove()
				ginkgo.GinkgoWriter.Printf("stranger on %s at %s\n", network, addr)
				before := dropsOf(ctx, e.target, engine.DropForeignVTEP.String())
				marker := forgedSource(47001)
				sendForged(ctx, stranger, tmms, uint32(victim.VXLANKey), marker, topo)
				// The frames reached the TMMs and were refused as from no
				// node (so the check below is not passing for want of
				// delivery).
				gomega.Eventually(func() uint64 { return dropsOf(ctx, e.target, engine.DropForeignVTEP.String()) }).
					WithContext(ctx).WithTimeout(5*time.Second).WithPolling(100*time.Millisecond).
					Should(gomega.BeNumerically(">=", before+forgedFrames/2), "foreign-vtep drops on the TMMs")
				expectNoFlowFrom(ctx, e.target, marker)
			}, ginkgo.SpecTimeout(specTimeout))

			ginkgo.It(fmt.Sprintf("a %s pod cannot send VXLAN with %s's key to a TMM, while the same frame from its node does make a flow", attacker.Namespace, victim.Namespace), func(sc ginkgo.SpecContext) {
				ctx, cancel := e.specContext(sc)
				defer cancel()
				pods := e.target.Pods(attacker.Namespace)
				gomega.Expect(pods).NotTo(gomega.BeEmpty(), "tenant %s has no pods", attacker.Namespace)
				pod := pods[0]
				marker := forgedSource(47002)
				sendForged(ctx, pod.Exec, tmms, uint32(victim.VXLANKey), marker, topo)
				expectNoFlowFrom(ctx, e.target, marker)

				// Control: the node is a VTEP, so its frame with the same
				// content is let in — the check above could have failed.
				control := forgedSource(47003)
				sendForged(ctx, e.target.Node(pod.Node), tmms, uint32(victim.VXLANKey), control, topo)
				gomega.Eventually(func() string { return flowFrom(ctx, e.target, control) }).
					WithContext(ctx).WithTimeout(5*time.Second).WithPolling(200*time.Millisecond).
					ShouldNot(gomega.BeEmpty(), "the node %s's own frame made no flow: the forged frames are not what a TMM takes in", pod.Node)
			}, ginkgo.SpecTimeout(specTimeout))
		}

		if victim.Ingress != nil && victim.Ingress.IPv4 != "" {
			url, _ := framework.IngressURL(topo, victim.Namespace, frr.IPv4)
			ginkgo.It(fmt.Sprintf("a newer F5SPKIngressTCP in %s cannot take %s's VIP %s: it is refused naming the holder, and %s pods keep answering", attacker.Namespace, victim.Namespace, url, victim.Namespace), func(sc ginkgo.SpecContext) {
				ctx, cancel := e.specContext(sc)
				defer cancel()
				doc := dupVIPIngress(attacker, victim)
				err := e.target.ApplyCRs(ctx, "isolation-dup-vip", doc)
				defer func() { _ = e.target.RemoveCRs(context.WithoutCancel(ctx), "isolation-dup-vip", doc) }()
				gomega.Expect(err).To(gomega.HaveOccurred(), "the lab took an ingress for %s's VIP", victim.Namespace)
				gomega.Expect(err.Error()).To(gomega.And(gomega.ContainSubstring("already used by"), gomega.ContainSubstring(victim.Namespace+"/"+victim.Ingress.Name)),
					"the refusal names the holder")
				pods := e.target.Pods(victim.Namespace)
				conns := make([]framework.Connection, 2*len(pods))
				for i := range conns {
					conns[i] = podAnswer(e, victim.Namespace, url, pods, i)
				}
				report := framework.Checker{Parallel: 1}.Run(ctx, conns)
				expectOK(report.Err())
			}, ginkgo.SpecTimeout(specTimeout))
		}

		if victim.SNATPool != nil {
			ginkgo.It(fmt.Sprintf("an egress in namespace default cannot use %s's SNAT pool %s", victim.Namespace, victim.SNATPool.Name), func(sc ginkgo.SpecContext) {
				ctx, cancel := e.specContext(sc)
				defer cancel()
				doc := poolThiefEgress(victim)
				err := e.target.ApplyCRs(ctx, "isolation-pool-thief", doc)
				defer func() { _ = e.target.RemoveCRs(context.WithoutCancel(ctx), "isolation-pool-thief", doc) }()
				gomega.Expect(err).To(gomega.HaveOccurred(), "the lab let namespace default use %s's pool", victim.Namespace)
				gomega.Expect(err.Error()).To(gomega.ContainSubstring("already serves tenant "+victim.Namespace), "the refusal says whose pool it is")
			}, ginkgo.SpecTimeout(specTimeout))
		}
	})
}

// isolationTenants picks the attacker (a tenant with pods) and the victim
// (another tenant with a SNAT pool): the first two in topology order.
func isolationTenants(t *topology.Topology) (attacker, victim topology.Tenant, ok bool) {
	if len(t.Tenants) < 2 {
		return attacker, victim, false
	}
	for i, v := range t.Tenants {
		if v.SNATPool == nil {
			continue
		}
		for j, a := range t.Tenants {
			if j != i {
				return a, v, true
			}
		}
	}
	return attacker, victim, false
}

// tunnelEnds are the network the tenant tunnels run on and the TMMs'
// IPv4 self IPs there (the internal VLAN's).
func tunnelEnds(t *topology.Topology) (string, []netip.Addr) {
	for _, v := range t.TMM.VLANs {
		if !v.Internal {
			continue
		}
		n := t.VLANNetwork(v)
		if n == nil {
			return "", nil
		}
		var out []netip.Addr
		for i := 0; i < t.TMM.Replicas && i < len(v.SelfIPs); i++ {
			if a, err := netip.ParseAddr(v.SelfIPs[i].IPv4); err == nil {
				out = append(out, a)
			}
		}
		return n.Name, out
	}
	return "", nil
}

// forgedSource is the inner source of a forged frame: an address no pod
// has, and a port that tells one spec's frames from another's.
func forgedSource(port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("10.244.250.250"), port)
}

// forgedVXLAN is a VXLAN payload with key vni carrying a TCP SYN from src
// to the client's port 80: what a node's tunnel would carry for a pod of
// that tenant.
func forgedVXLAN(vni uint32, src, dst netip.AddrPort) ([]byte, error) {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0x02, 0, 0, 0, 0xbe, 0xef}, DstMAC: net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), SYN: true, Seq: 1, Window: 64240}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		return nil, err
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp); err != nil {
		return nil, err
	}
	hdr := []byte{0x08, 0, 0, 0, byte(vni >> 16), byte(vni >> 8), byte(vni), 0}
	return append(hdr, buf.Bytes()...), nil
}

// sendForged sends forgedFrames forged frames to each TMM's VXLAN port
// with an ordinary UDP socket (bash's /dev/udp and dd: every image of the
// lab has them), as any process on that host could.
func sendForged(ctx context.Context, from framework.Executor, tmms []netip.Addr, vni uint32, src netip.AddrPort, t *topology.Topology) {
	client, err := netip.ParseAddr(t.Client.IPv4)
	gomega.Expect(err).NotTo(gomega.HaveOccurred(), "client IPv4")
	payload, err := forgedVXLAN(vni, src, netip.AddrPortFrom(client, 80))
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	var esc strings.Builder
	for _, b := range payload {
		fmt.Fprintf(&esc, `\x%02x`, b)
	}
	// bash's printf writes in pieces, and each write to /dev/udp is a
	// datagram: dd collects the whole frame and writes it once.
	var script strings.Builder
	for _, tmm := range tmms {
		fmt.Fprintf(&script, "for i in $(seq %d); do printf '%s' | dd bs=%d count=1 iflag=fullblock status=none > /dev/udp/%s/4789 || true; sleep %g; done; ",
			forgedFrames, esc.String(), len(payload), tmm, forgedGap.Seconds())
	}
	// Sending may fail (the node refuses a pod's frame): that is the
	// point, not an error of the spec.
	_, _ = from.Exec(ctx, "bash", "-c", script.String())
}

// dropsOf sums one drop reason over the TMMs (0 for a TMM that does not
// answer: the expectation then fails on the sum).
func dropsOf(ctx context.Context, t framework.Target, reason string) uint64 {
	var sum uint64
	for _, tmm := range t.TMMs() {
		raw, err := tmm.Stats(ctx)
		if err != nil {
			continue
		}
		var st engine.Stats
		if json.Unmarshal(raw, &st) == nil {
			sum += st.Drops[reason]
		}
	}
	return sum
}

// flowFrom describes the first flow of any TMM whose original direction
// comes from src ("" when none).
func flowFrom(ctx context.Context, t framework.Target, src netip.AddrPort) string {
	for _, tmm := range t.TMMs() {
		raw, err := tmm.Flows(ctx)
		if err != nil {
			continue
		}
		var flows []engine.FlowInfo
		if json.Unmarshal(raw, &flows) != nil {
			continue
		}
		for _, f := range flows {
			if strings.Contains(f.Original, " "+src.String()+" ->") {
				return fmt.Sprintf("%s: %s %s (%s)", tmm.Name(), f.Kind, f.Original, f.Target)
			}
		}
	}
	return ""
}

// expectNoFlowFrom waits long enough for a forged frame to have made a
// flow, then wants none.
func expectNoFlowFrom(ctx context.Context, t framework.Target, src netip.AddrPort) {
	gomega.Consistently(func() string { return flowFrom(ctx, t, src) }).
		WithContext(ctx).WithTimeout(settle).WithPolling(250*time.Millisecond).
		Should(gomega.BeEmpty(), "a forged frame from %s made a flow: it left as another tenant", src)
}

// dupVIPIngress is an F5SPKIngressTCP in the attacker's namespace for the
// victim's VIP and port, pointing at the attacker's own Service.
func dupVIPIngress(attacker, victim topology.Tenant) []byte {
	return []byte(fmt.Sprintf(`apiVersion: %s
kind: %s
metadata:
  name: isolation-dup-vip
  namespace: %s
service:
  name: %s
  port: %d
spec:
  destinationAddress: %s
  destinationPort: %d
`, spk.APIVersionIngressTCP, spk.KindIngressTCP, attacker.Namespace, attacker.Service.Name, attacker.Service.Port, victim.Ingress.IPv4, victim.Ingress.Port))
}

// poolThiefEgress is an F5SPKEgress in namespace default naming the
// victim's SNAT pool.
func poolThiefEgress(victim topology.Tenant) []byte {
	return []byte(fmt.Sprintf(`apiVersion: %s
kind: %s
metadata:
  name: isolation-pool-thief
  namespace: default
  annotations:
    %s: "4242"
spec:
  egressSnatpool: %s
  snatType: SRC_TRANS_SNATPOOL
`, spk.APIVersionEgress, spk.KindEgress, spk.AnnotationVXLANKey, victim.SNATPool.Name))
}
