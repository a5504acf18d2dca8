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

	// The SYN flood: at least 50k spoofed SYNs in at most 10 s (the
	// issue's floor), while a new connection to another tenant's VIP must
	// answer within newConnBound.
	floodSYNs    = 50000
	floodWithin  = 9 * time.Second
	newConnBound = time.Second
	// floodSources is how many spoofed addresses of the client's network
	// the flood comes from.
	floodSources = 48

	poisonFrames = 20
	poisonGap    = 50 * time.Millisecond
)

// registerIsolation: docs/architecture.md, "What the suites check" item 4
// and README, "What keeps tenants apart". One
// tenant (the attacker, with pods) against another (the victim, with a
// SNAT pool, a VXLAN key and a VIP): forged tenant VXLAN from a host on
// the egress network that is no node and from the attacker's pod, a newer
// CR in the attacker's namespace claiming the victim's VIP, an egress
// naming the victim's pool, the TMM API tried by whoever is not the
// controller, ARP and NA claims for the router's addresses from the wrong
// network, and a spoofed SYN flood at one tenant's VIP.
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

		ginkgo.It("a TMM's API answers no one but the controller: not a pod of another namespace, not a client without the controller's certificate, not another user on its socket", func(sc ginkgo.SpecContext) {
			ctx, cancel := e.specContext(sc)
			defer cancel()
			attempts := e.target.ForeignAPIAttempts(ctx)
			gomega.Expect(attempts).NotTo(gomega.BeEmpty(), "no attempt was made")
			for _, a := range attempts {
				ginkgo.GinkgoWriter.Printf("%s → %s: %v\n", a.Who, a.TMM, a.Err)
				gomega.Expect(a.Ran).To(gomega.BeTrue(), "the attempt of %s on %s did not run: %v", a.Who, a.TMM, a.Err)
				gomega.Expect(a.Err).To(gomega.HaveOccurred(), "%s got into %s's API:\n%s", a.Who, a.TMM, a.Output)
			}
		}, ginkgo.SpecTimeout(2*specTimeout))

		if flooded, bystander, ok := floodTenants(topo); ok {
			registerFlood(e, flooded, bystander)
		}
		if network != "" {
			registerPoison(e, network)
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

// tmmStats reads every TMM's counters (a TMM that does not answer is
// left out: the expectations then fail on the sums).
func tmmStats(ctx context.Context, t framework.Target) []engine.Stats {
	var out []engine.Stats
	for _, tmm := range t.TMMs() {
		raw, err := tmm.Stats(ctx)
		if err != nil {
			continue
		}
		var st engine.Stats
		if json.Unmarshal(raw, &st) == nil {
			out = append(out, st)
		}
	}
	return out
}

// dropsOf sums one drop reason over the TMMs.
func dropsOf(ctx context.Context, t framework.Target, reason string) uint64 {
	var sum uint64
	for _, st := range tmmStats(ctx, t) {
		sum += st.Drops[reason]
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

// floodTenants are the first two tenants with an IPv4 VIP: the first is
// flooded, the second must keep taking new connections.
func floodTenants(t *topology.Topology) (flooded, bystander topology.Tenant, ok bool) {
	var with []topology.Tenant
	for _, tn := range t.Tenants {
		if tn.Ingress != nil && tn.Ingress.IPv4 != "" && tn.Ingress.Port > 0 {
			with = append(with, tn)
		}
	}
	if len(with) < 2 {
		return flooded, bystander, false
	}
	return with[0], with[1], true
}

// vipOf is a tenant's IPv4 VIP and port.
func vipOf(tn topology.Tenant) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr(tn.Ingress.IPv4), uint16(tn.Ingress.Port))
}

// spoofableSources are addresses of the client's network that no host of
// the lab holds (not the gateway, the client or the router), from the top
// of the subnet down: the TMMs' answers to them go to the router, whose
// ARP for them fails, so nothing leaves the lab.
func spoofableSources(t *topology.Topology, n int) []netip.Addr {
	nw := t.Network(t.Client.Network)
	if nw == nil {
		return nil
	}
	prefix, err := netip.ParsePrefix(nw.IPv4Subnet)
	if err != nil || !prefix.Addr().Is4() || prefix.Bits() > 30 {
		return nil
	}
	taken := map[netip.Addr]bool{}
	for _, s := range []string{nw.IPv4Gateway, t.Client.IPv4} {
		if a, err := netip.ParseAddr(s); err == nil {
			taken[a] = true
		}
	}
	for _, ri := range t.Router.Interfaces {
		if a, err := netip.ParseAddr(ri.IPv4); err == nil {
			taken[a] = true
		}
	}
	// Docker's default gateway is the first host when none is named.
	taken[prefix.Masked().Addr().Next()] = true
	b := prefix.Masked().Addr().As4()
	host := uint32(1)<<(32-prefix.Bits()) - 1
	base := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	var out []netip.Addr
	// From the last host (the broadcast address left out) down to the middle.
	for h := host - 1; h > host/2 && len(out) < n; h-- {
		v := base | h
		a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		if !taken[a] {
			out = append(out, a)
		}
	}
	return out
}

// flowsSeen is the SYNs the TMMs took in one way or another: flows made
// plus drops of every reason.
func flowsSeen(ctx context.Context, t framework.Target) uint64 {
	var sum uint64
	for _, st := range tmmStats(ctx, t) {
		sum += st.Flows.Inserts
		for _, n := range st.Drops {
			sum += n
		}
	}
	return sum
}

// registerFlood: a bounded SYN flood from spoofed sources of the client's
// network at one tenant's VIP; meanwhile another tenant's VIP answers new
// connections within newConnBound and a keep-alive connection to the
// flooded VIP, opened before, keeps answering.
func registerFlood(e *suiteEnv, flooded, bystander topology.Tenant) {
	topo := e.target.Topology()
	target, other := vipOf(flooded), vipOf(bystander)
	ginkgo.It(fmt.Sprintf("a SYN flood at %s's VIP %s (%d spoofed SYNs in %v) keeps neither %s's VIP %s from answering a new connection within %v nor an established connection to %s from working", flooded.Namespace, target, floodSYNs, floodWithin, bystander.Namespace, other, newConnBound, flooded.Namespace), func(sc ginkgo.SpecContext) {
		ctx, cancel := e.specContext(sc)
		defer cancel()
		ns, err := framework.NetNS(ctx, e.target.Client())
		gomega.Expect(err).NotTo(gomega.HaveOccurred(), "the client's network namespace")
		sources := spoofableSources(topo, floodSources)
		gomega.Expect(len(sources)).To(gomega.BeNumerically(">=", 8), "spoofable addresses on the client's network %s", topo.Client.Network)

		est, err := framework.DialHTTP(ctx, ns, target, 2*time.Second)
		gomega.Expect(err).NotTo(gomega.HaveOccurred(), "the connection to keep open across the flood")
		defer est.Close()
		code, err := est.Get("/", 2*time.Second)
		gomega.Expect(err).NotTo(gomega.HaveOccurred(), "a request before the flood")
		gomega.Expect(code).To(gomega.Equal(200), "a request before the flood")

		before := flowsSeen(ctx, e.target)
		type result struct {
			sent int
			took time.Duration
			err  error
		}
		done := make(chan result, 1)
		go func() {
			sent, took, err := framework.SYNFlood{Target: target, Sources: sources, Count: floodSYNs, Within: floodWithin}.Send(ctx, ns)
			done <- result{sent, took, err}
		}()
		var worst time.Duration
		for i := 1; i <= 4; i++ {
			select {
			case <-ctx.Done():
				ginkgo.Fail("the spec ran out of time during the flood")
			case <-time.After(floodWithin / 5):
			}
			start := time.Now()
			c, err := framework.DialHTTP(ctx, ns, other, newConnBound)
			if err == nil {
				code, err = c.Get("/", newConnBound-time.Since(start))
				c.Close()
			}
			took := time.Since(start)
			worst = max(worst, took)
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "a new connection to %s's VIP %s during the flood (sample %d, after %v)", bystander.Namespace, other, i, took.Round(time.Millisecond))
			gomega.Expect(code).To(gomega.Equal(200), "a new connection to %s's VIP during the flood", bystander.Namespace)
			code, err = est.Get("/", 2*time.Second)
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "the established connection to %s's VIP during the flood (sample %d)", flooded.Namespace, i)
			gomega.Expect(code).To(gomega.Equal(200), "the established connection to %s's VIP during the flood", flooded.Namespace)
		}
		r := <-done
		gomega.Expect(r.err).NotTo(gomega.HaveOccurred(), "sending the flood")
		gomega.Expect(r.sent).To(gomega.Equal(floodSYNs), "SYNs sent")
		gomega.Expect(r.took).To(gomega.BeNumerically("<=", 10*time.Second), "the flood took %v", r.took)
		// The flood reached the TMMs (a router that dropped the spoofed
		// SYNs would make the checks above pass for nothing).
		gomega.Eventually(func() uint64 { return flowsSeen(ctx, e.target) - before }).
			WithContext(ctx).WithTimeout(5*time.Second).WithPolling(250*time.Millisecond).
			Should(gomega.BeNumerically(">=", uint64(floodSYNs)*9/10), "SYNs the TMMs took in (flows made or dropped)")
		ginkgo.GinkgoWriter.Printf("flood: %d SYNs in %v from %d sources; slowest new connection to %s %v\n", r.sent, r.took.Round(time.Millisecond), len(sources), bystander.Namespace, worst.Round(time.Millisecond))
		// The flooded VIP takes new connections again once the half-open
		// flows expire, so the specs after this one find the lab whole.
		gomega.Eventually(func() error {
			c, err := framework.DialHTTP(ctx, ns, target, newConnBound)
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Get("/", newConnBound)
			return err
		}).WithContext(ctx).WithTimeout(30*time.Second).WithPolling(time.Second).Should(gomega.Succeed(), "%s's VIP after the flood", flooded.Namespace)
	}, ginkgo.SpecTimeout(specTimeout))
}

// registerPoison: a host on the network claims, by gratuitous ARP and
// unsolicited NA, the router's addresses on the other networks; the TMMs
// learn none of it (off-link-neighbor) and ingress and egress keep
// working.
func registerPoison(e *suiteEnv, network string) {
	topo := e.target.Topology()
	var claims []netip.Addr
	for _, ri := range topo.Router.Interfaces {
		if ri.Network == network {
			continue
		}
		for _, s := range []string{ri.IPv4, ri.IPv6} {
			if a, err := netip.ParseAddr(s); err == nil {
				claims = append(claims, a)
			}
		}
	}
	if len(claims) == 0 {
		return
	}
	ginkgo.It(fmt.Sprintf("a host on %s claiming the router's addresses %v by ARP and NA is not believed: the TMMs drop it as %s, and ingress and egress keep working", network, claims, engine.DropOffLink), func(sc ginkgo.SpecContext) {
		ctx, cancel := e.specContext(sc)
		defer cancel()
		stranger, addr, remove, err := e.target.Stranger(ctx, network)
		gomega.Expect(err).NotTo(gomega.HaveOccurred(), "adding a host to %s", network)
		defer remove()
		ns, err := framework.NetNS(ctx, stranger)
		gomega.Expect(err).NotTo(gomega.HaveOccurred(), "the stranger's network namespace")
		ginkgo.GinkgoWriter.Printf("stranger on %s at %s\n", network, addr)
		// ARP first, then NA, each counted on its own: every TMM hears
		// every broadcast, so at least half of what was sent shows that
		// the claims arrived and were refused.
		for _, kind := range []struct {
			name string
			v4   bool
		}{{"ARP", true}, {"NA", false}} {
			var some []netip.Addr
			for _, a := range claims {
				if a.Is4() == kind.v4 {
					some = append(some, a)
				}
			}
			if len(some) == 0 {
				continue
			}
			before := dropsOf(ctx, e.target, engine.DropOffLink.String())
			sent, err := framework.NeighborPoison{Claims: some, Count: poisonFrames, Gap: poisonGap}.Send(ctx, ns)
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "sending the %s claims", kind.name)
			gomega.Eventually(func() uint64 { return dropsOf(ctx, e.target, engine.DropOffLink.String()) }).
				WithContext(ctx).WithTimeout(5*time.Second).WithPolling(100*time.Millisecond).
				Should(gomega.BeNumerically(">=", before+uint64(sent)/2), "%s drops on the TMMs after %d %s claims for %v", engine.DropOffLink, sent, kind.name, some)
		}

		var conns []framework.Connection
		for _, tn := range topo.Tenants {
			if url, ok := framework.IngressURL(topo, tn.Namespace, frr.IPv4); ok {
				conns = append(conns, framework.Connection{Name: tn.Namespace + " ingress", From: e.target.Client(), URL: url})
			}
			client, ok := clientAddr(topo, frr.IPv4)
			if pods := e.target.Pods(tn.Namespace); ok && len(pods) > 0 && tn.SNATPool != nil {
				conns = append(conns, framework.Connection{Name: tn.Namespace + " egress", From: pods[0].Exec, URL: framework.HTTPURL(client, 80, "/txt")})
			}
		}
		gomega.Expect(conns).NotTo(gomega.BeEmpty())
		expectOK(framework.Checker{}.Run(ctx, conns).Err())
	}, ginkgo.SpecTimeout(specTimeout))
}
