package frr

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/spklab/spklab/host/proc"
	"github.com/spklab/spklab/internal/testenv"
	"github.com/spklab/spklab/topology"
	"github.com/spklab/spklab/topology/render"
)

// The host paths FRR uses by default; no test may change them.
var hostFRRPaths = []string{"/etc/frr", "/var/run/frr", "/var/tmp/frr", "/var/log/frr"}

// requireFRR skips (or fails in CI) without root or FRR.
func requireFRR(t *testing.T) {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "vtysh", "frr")
	testenv.RequireTool(t, "ip", "iproute2")
}

// snapshot describes every file under the host's FRR paths.
func snapshot(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, root := range hostFRRPaths {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				fmt.Fprintf(&b, "%s: %v\n", path, err)
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			st := info.Sys().(*syscall.Stat_t)
			fmt.Fprintf(&b, "%s %v %d %d:%d %d\n", path, info.Mode(), info.Size(), st.Uid, st.Gid, info.ModTime().UnixNano())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// A lab: the router (rendered default frr.conf, 198.51.100.0/24 connected
// through a client namespace) and a stand-in TMM in AS 64443 peering with
// it over a veth.
type peeringLab struct {
	router, tmm     *Instance
	routerNS, tmmNS *testenv.Netns
	vip             netip.Prefix
}

var (
	routerExt    = []string{"192.0.2.250/24", "2001::192:0:2:250/112"}
	tmmExt       = []string{"192.0.2.201/24", "2001::192:0:2:201/112"}
	routerCli    = []string{"198.51.100.250/24", "2001::198:51:100:250/112"}
	vip6OfTMM    = netip.MustParsePrefix("2001::198:19:19:100/128")
	clientNets   = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001::198:51:100:0/112")}
	tmmV4, tmmV6 = netip.MustParseAddr("192.0.2.201"), netip.MustParseAddr("2001::192:0:2:201")
)

// tmmConf is the stand-in TMM: it announces vip (and a v6 VIP, and the
// extra prefixes) to the router, retrying its connection every second.
func tmmConf(vip netip.Prefix, extra ...netip.Prefix) []byte {
	var nets, statics string
	for _, p := range extra {
		nets += "  network " + p.String() + "\n"
		statics += "ip route " + p.String() + " blackhole\n"
	}
	return []byte(`hostname tmm
router bgp 64443
 bgp router-id 192.0.2.201
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor 192.0.2.250 remote-as 65500
 neighbor 192.0.2.250 timers connect 1
 neighbor 2001::192:0:2:250 remote-as 65500
 neighbor 2001::192:0:2:250 timers connect 1
 address-family ipv4 unicast
  network ` + vip.String() + `
` + nets + `  neighbor 192.0.2.250 activate
 exit-address-family
 address-family ipv6 unicast
  network ` + vip6OfTMM.String() + `
  neighbor 2001::192:0:2:250 activate
 exit-address-family
exit
ip route ` + vip.String() + ` blackhole
ipv6 route ` + vip6OfTMM.String() + ` blackhole
` + statics)
}

func newPeeringLab(t *testing.T, name string, vip netip.Prefix) *peeringLab {
	t.Helper()
	l := &peeringLab{
		routerNS: testenv.NewNetns(t, name+"r"),
		tmmNS:    testenv.NewNetns(t, name+"t"),
		vip:      vip,
	}
	clientNS := testenv.NewNetns(t, name+"c")
	addVeth(t, l.routerNS, "ext", routerExt, l.tmmNS, tmmExt)
	addVeth(t, l.routerNS, "cli", routerCli, clientNS, nil)

	rendered, err := render.FRRFiles(topology.Default())
	if err != nil {
		t.Fatal(err)
	}
	files, err := FilesFrom(rendered)
	if err != nil {
		t.Fatal(err)
	}
	l.router = newInstance(t, l.routerNS, files)
	l.tmm = newInstance(t, l.tmmNS, Files{Conf: tmmConf(vip)})
	return l
}

func newInstance(t *testing.T, ns *testenv.Netns, files Files) *Instance {
	t.Helper()
	i, err := New(Options{Netns: ns.Name, RunDir: t.TempDir(), Files: files})
	if err != nil {
		t.Fatal(err)
	}
	// Registered after the namespace's cleanup, so it runs first.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := i.Stop(ctx); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return i
}

// addVeth links namespace a (device name, addresses) to b with a veth
// made inside a, so nothing ever appears in the root namespace.
func addVeth(t *testing.T, a *testenv.Netns, name string, aAddrs []string, b *testenv.Netns, bAddrs []string) {
	t.Helper()
	ha, err := netlink.NewHandleAt(a.Handle)
	if err != nil {
		t.Fatal(err)
	}
	defer ha.Close()
	hb, err := netlink.NewHandleAt(b.Handle)
	if err != nil {
		t.Fatal(err)
	}
	defer hb.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name, PeerNamespace: netlink.NsFd(int(b.Handle))}
	if err := ha.LinkAdd(veth); err != nil {
		t.Fatalf("adding veth %s: %v", name, err)
	}
	for _, side := range []struct {
		h     *netlink.Handle
		addrs []string
	}{{ha, aAddrs}, {hb, bAddrs}} {
		link, err := side.h.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range side.addrs {
			addr, err := netlink.ParseAddr(s)
			if err != nil {
				t.Fatal(err)
			}
			addr.Flags = unix.IFA_F_NODAD // usable at once: BGP over v6 needs it
			if err := side.h.AddrAdd(link, addr); err != nil {
				t.Fatalf("adding %s: %v", s, err)
			}
		}
		for _, l := range []netlink.Link{link, mustLink(t, side.h, "lo")} {
			if err := side.h.LinkSetUp(l); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func mustLink(t *testing.T, h *netlink.Handle, name string) netlink.Link {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// eventually retries check every 100 ms until it passes or ctx ends.
func eventually(ctx context.Context, t *testing.T, what string, check func() error) {
	t.Helper()
	for {
		err := check()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// established checks that v has an Established session with each peer.
func established(ctx context.Context, v *VTY, peers ...netip.Addr) error {
	ns, err := v.Neighbors(ctx)
	if err != nil {
		return err
	}
	for _, p := range peers {
		i := slices.IndexFunc(ns, func(n Neighbor) bool { return n.Address == p })
		if i < 0 {
			return fmt.Errorf("no neighbor %s in %+v", p, ns)
		}
		if !ns[i].Established() {
			return fmt.Errorf("neighbor %s is %s", p, ns[i].State)
		}
	}
	return nil
}

// start brings the lab up and returns how long after both instances had
// started the IPv4 sessions, then all sessions, were Established on both
// sides.
func (l *peeringLab) start(ctx context.Context, t *testing.T) (v4, all time.Duration) {
	t.Helper()
	if err := l.router.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.tmm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	sessions := func(routerPeer, tmmPeer netip.Addr) error {
		if err := established(ctx, l.router.VTY(), tmmPeer); err != nil {
			return fmt.Errorf("router: %w", err)
		}
		if err := established(ctx, l.tmm.VTY(), routerPeer); err != nil {
			return fmt.Errorf("tmm: %w", err)
		}
		return nil
	}
	eventually(ctx, t, "IPv4 sessions Established", func() error {
		return sessions(netip.MustParseAddr("192.0.2.250"), tmmV4)
	})
	v4 = time.Since(up)
	eventually(ctx, t, "IPv6 sessions Established", func() error {
		return sessions(netip.MustParseAddr("2001::192:0:2:250"), tmmV6)
	})
	return v4, time.Since(up)
}

// checkRoutes waits until the router has the TMM's VIPs in its RIB and
// kernel FIB, and the TMM has the client nets.
func (l *peeringLab) checkRoutes(ctx context.Context, t *testing.T) {
	t.Helper()
	rv, tv := l.router.VTY(), l.tmm.VTY()
	eventually(ctx, t, "router RIB has the VIP via the TMM", func() error {
		rs, err := rv.Routes(ctx, IPv4)
		if err != nil {
			return err
		}
		r, ok := SelectedRoute(rs, l.vip)
		if !ok {
			return fmt.Errorf("no selected %s in %+v", l.vip, rs)
		}
		if r.Protocol != "bgp" || !r.Installed || len(r.NextHops) != 1 || r.NextHops[0].Addr != tmmV4 || !r.NextHops[0].FIB || r.NextHops[0].Interface != "ext" {
			return fmt.Errorf("route %+v, want bgp, installed, one next hop %s on ext in the FIB", r, tmmV4)
		}
		return nil
	})
	eventually(ctx, t, "router kernel FIB has the VIP via the TMM", func() error {
		return kernelRoute(l.routerNS, l.vip, net.IP(tmmV4.AsSlice()))
	})
	eventually(ctx, t, "router RIB has the v6 VIP", func() error {
		rs, err := rv.Routes(ctx, IPv6)
		if err != nil {
			return err
		}
		r, ok := SelectedRoute(rs, vip6OfTMM)
		if !ok || !r.Installed || len(r.NextHops) != 1 || !r.NextHops[0].Addr.IsLinkLocalUnicast() {
			return fmt.Errorf("v6 VIP %+v (found %v), want installed via the TMM's link-local address", r, ok)
		}
		return nil
	})
	eventually(ctx, t, "router BGP table has the VIP from AS 64443", func() error {
		rs, err := rv.BGPRoutes(ctx, IPv4)
		if err != nil {
			return err
		}
		r, ok := FindBGPRoute(rs, l.vip)
		if sel := r.Selected(); !ok || len(sel) != 1 || sel[0].NextHop != tmmV4 || sel[0].Peer != tmmV4 || !slices.Equal(sel[0].ASPath, []uint32{64443}) {
			return fmt.Errorf("BGP route %+v (found %v)", r, ok)
		}
		return nil
	})
	for _, f := range []Family{IPv4, IPv6} {
		eventually(ctx, t, "TMM learned the client net over "+string(f), func() error {
			rs, err := tv.BGPRoutes(ctx, f)
			if err != nil {
				return err
			}
			want := clientNets[0]
			if f == IPv6 {
				want = clientNets[1]
			}
			r, ok := FindBGPRoute(rs, want)
			if sel := r.Selected(); !ok || len(sel) != 1 || sel[0].Local || !slices.Equal(sel[0].ASPath, []uint32{65500}) {
				return fmt.Errorf("BGP route %+v (found %v)", r, ok)
			}
			rib, err := tv.Routes(ctx, f)
			if err != nil {
				return err
			}
			if rr, ok := SelectedRoute(rib, want); !ok || rr.Protocol != "bgp" || !rr.Installed {
				return fmt.Errorf("TMM RIB entry %+v (found %v)", rr, ok)
			}
			return nil
		})
	}
}

// kernelRoute checks the namespace's main table: dst via gw, put there by
// zebra (proto bgp). gw nil means there must be no such route.
func kernelRoute(ns *testenv.Netns, dst netip.Prefix, gw net.IP) error {
	h, err := netlink.NewHandleAt(ns.Handle)
	if err != nil {
		return err
	}
	defer h.Close()
	ipnet := &net.IPNet{IP: dst.Addr().AsSlice(), Mask: net.CIDRMask(dst.Bits(), dst.Addr().BitLen())}
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: ipnet}, netlink.RT_FILTER_DST)
	if err != nil {
		return err
	}
	if gw == nil {
		if len(routes) > 0 {
			return fmt.Errorf("kernel still routes %s: %v", dst, routes)
		}
		return nil
	}
	if len(routes) != 1 || !routes[0].Gw.Equal(gw) || routes[0].Protocol != unix.RTPROT_BGP {
		return fmt.Errorf("kernel routes for %s: %v, want one via %s, proto bgp", dst, routes, gw)
	}
	return nil
}

// processesMentioning lists the pids whose command line mentions dir.
func processesMentioning(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !proc.Alive(pid) {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(dir)) {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

// checkStopped asserts what a stopped instance leaves: no process, no
// socket, no state dir, no mount, and its logs.
func checkStopped(t *testing.T, i *Instance) {
	t.Helper()
	if i.Running() {
		t.Error("Running after Stop")
	}
	if ps := processesMentioning(t, i.Dir()); len(ps) > 0 {
		t.Errorf("processes left: %q", ps)
	}
	if _, err := os.Stat(i.runDir()); !os.IsNotExist(err) {
		t.Errorf("run dir still there: %v", err)
	}
	_ = filepath.WalkDir(i.Dir(), func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type()&fs.ModeSocket != 0 {
			t.Errorf("socket left: %s", path)
		}
		return nil
	})
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(mounts, []byte(i.Dir())) {
		t.Errorf("the host sees a mount of %s", i.Dir())
	}
	log, err := os.ReadFile(i.LogFile())
	if err != nil || !bytes.Contains(log, []byte("bgpd 8.")) || !bytes.Contains(log, []byte("Terminating on signal")) {
		t.Errorf("log %s does not show bgpd starting and stopping (%v):\n%s", i.LogFile(), err, log)
	}
}

func TestPeering(t *testing.T) {
	requireFRR(t)
	before := snapshot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	lab := newPeeringLab(t, "frr", netip.MustParsePrefix("198.19.19.100/32"))
	begin := time.Now()
	v4, all := lab.start(ctx, t)
	t.Logf("both instances started in %v; Established %v later over IPv4, %v over IPv6 (link-local DAD)", time.Since(begin)-all, v4, all)

	ns, err := lab.router.VTY().Neighbors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if n.RemoteAS != 64443 || !n.Dynamic || n.PeerGroup != "TMM" || n.RemoteRouterID != tmmV4 {
			t.Errorf("router's neighbor %+v, want a dynamic TMM peer in AS 64443, router-id %s", n, tmmV4)
		}
	}
	ns, err = lab.tmm.VTY().Neighbors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if n.RemoteAS != 65500 || n.Dynamic || n.RemoteRouterID != netip.MustParseAddr("192.0.2.250") {
			t.Errorf("TMM's neighbor %+v, want the router, AS 65500, not dynamic", n)
		}
	}
	lab.checkRoutes(ctx, t)

	// Starting again with the same files changes nothing.
	zebra := lab.router.daemonPid("zebra")
	if err := lab.router.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := lab.router.daemonPid("zebra"); got != zebra || zebra == 0 {
		t.Errorf("second Start restarted zebra: pid %d → %d", zebra, got)
	}

	lab.checkReload(ctx, t)

	for _, i := range []*Instance{lab.tmm, lab.router} {
		if err := i.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		checkStopped(t, i)
		if err := i.Stop(ctx); err != nil {
			t.Errorf("second Stop: %v", err)
		}
	}
	// zebra takes its routes out of the kernel when it stops.
	if err := kernelRoute(lab.routerNS, lab.vip, nil); err != nil {
		t.Error(err)
	}
	if after := snapshot(t); after != before {
		t.Errorf("host FRR paths changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// checkReload starts the TMM again with one more prefix in frr.conf: the
// running daemons apply it (frr-reload.py), the session stays up, and the
// router learns the prefix.
func (l *peeringLab) checkReload(ctx context.Context, t *testing.T) {
	t.Helper()
	uptime := func() time.Duration {
		ns, err := l.router.VTY().Neighbors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(ns, func(n Neighbor) bool { return n.Address == tmmV4 })
		if i < 0 || !ns[i].Established() {
			t.Fatalf("router's session with the TMM: %+v", ns)
		}
		return ns[i].Uptime
	}
	// FRR counts uptime in whole seconds; 2 s up means a reset would show.
	eventually(ctx, t, "session up for 2 s", func() error {
		if u := uptime(); u < 2*time.Second {
			return fmt.Errorf("up %v", u)
		}
		return nil
	})
	before := uptime()
	pids := []int{l.tmm.daemonPid("zebra"), l.tmm.daemonPid("bgpd")}
	extra := netip.MustParsePrefix("198.19.19.101/32")
	reloaded, err := New(Options{Netns: l.tmm.opts.Netns, RunDir: l.tmm.opts.RunDir, Files: Files{Conf: tmmConf(l.vip, extra)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := reloaded.Start(ctx); err != nil {
		t.Fatal(err)
	}
	l.tmm = reloaded
	if got := []int{l.tmm.daemonPid("zebra"), l.tmm.daemonPid("bgpd")}; !slices.Equal(got, pids) {
		t.Errorf("reload restarted the daemons: pids %v → %v", pids, got)
	}
	eventually(ctx, t, "router learns the reloaded prefix", func() error {
		rs, err := l.router.VTY().Routes(ctx, IPv4)
		if err != nil {
			return err
		}
		if r, ok := SelectedRoute(rs, extra); !ok || len(r.NextHops) != 1 || r.NextHops[0].Addr != tmmV4 {
			return fmt.Errorf("route %+v (found %v)", r, ok)
		}
		return nil
	})
	if after := uptime(); after < before {
		t.Errorf("the session was reset by the reload: up %v before, %v after", before, after)
	}
}

// TestTwoLabsAtOnce runs two labs with the same addresses at the same time;
// each router must see only its own TMM's VIP, and stopping one lab leaves
// the other working.
func TestTwoLabsAtOnce(t *testing.T) {
	requireFRR(t)
	before := snapshot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	labs := []*peeringLab{
		newPeeringLab(t, "frr1", netip.MustParsePrefix("198.19.19.100/32")),
		newPeeringLab(t, "frr2", netip.MustParsePrefix("198.20.20.100/32")),
	}
	var wg sync.WaitGroup
	took := make([][2]time.Duration, len(labs))
	for k, l := range labs {
		wg.Go(func() {
			// t.Fatal may not run off the test goroutine: use a sub-test.
			t.Run("lab"+strconv.Itoa(k+1), func(t *testing.T) {
				took[k][0], took[k][1] = l.start(ctx, t)
			})
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("Established (IPv4, all) after %v and %v", took[0], took[1])
	for k, l := range labs {
		l.checkRoutes(ctx, t)
		other := labs[1-k].vip
		rs, err := l.router.VTY().Routes(ctx, IPv4)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := SelectedRoute(rs, other); ok {
			t.Errorf("lab %d's router has the other lab's VIP %s", k+1, other)
		}
	}

	for _, i := range []*Instance{labs[0].tmm, labs[0].router} {
		if err := i.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		checkStopped(t, i)
	}
	if !labs[1].router.Running() || !labs[1].tmm.Running() {
		t.Fatal("stopping lab 1 stopped lab 2")
	}
	if err := established(ctx, labs[1].router.VTY(), tmmV4, tmmV6); err != nil {
		t.Errorf("lab 2 after lab 1 stopped: %v", err)
	}
	for _, i := range []*Instance{labs[1].tmm, labs[1].router} {
		if err := i.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		checkStopped(t, i)
	}
	if after := snapshot(t); after != before {
		t.Errorf("host FRR paths changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestStartFailures: a bad frr.conf or a missing namespace fails Start
// with the reason and leaves nothing running.
func TestStartFailures(t *testing.T) {
	requireFRR(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := testenv.NewNetns(t, "frrbad")

	bad := newInstance(t, ns, Files{Conf: []byte("router bgp 65000\n bgp no-such-command\nexit\n")})
	err := bad.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "not valid FRR") || !strings.Contains(err.Error(), "bgp no-such-command") {
		t.Errorf("bad frr.conf: err %v, want the offending line", err)
	}
	if ps := processesMentioning(t, bad.Dir()); len(ps) > 0 || bad.Running() {
		t.Errorf("processes after a failed Start: %q", ps)
	}

	gone, err := New(Options{Netns: "spkt-no-such-netns", RunDir: t.TempDir(), Files: Files{Conf: []byte("hostname x\n")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := gone.Start(ctx); err == nil || !strings.Contains(err.Error(), "spkt-no-such-netns") {
		t.Errorf("missing netns: err %v", err)
	}
}

// TestKilledDaemon: a daemon that dies makes the instance not Running, the
// next Start restarts it all, and Stop keeps the dead daemon's crash dir
// as evidence.
func TestKilledDaemon(t *testing.T) {
	requireFRR(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := testenv.NewNetns(t, "frrkill")
	i := newInstance(t, ns, Files{Conf: []byte("router bgp 65001\n bgp router-id 10.0.0.1\nexit\n")})
	if err := i.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if !i.Running() {
		t.Fatal("not Running after Start")
	}
	bgpd := i.daemonPid("bgpd")
	if err := syscall.Kill(bgpd, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(ctx, t, "Running notices bgpd died", func() error {
		if i.Running() {
			return fmt.Errorf("still Running")
		}
		return nil
	})
	if err := i.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := i.daemonPid("bgpd"); got == 0 || got == bgpd || !i.Running() {
		t.Fatalf("after a second Start bgpd is pid %d (was %d), Running %v", got, bgpd, i.Running())
	}
	if err := i.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	checkStopped(t, i)
	// FRR names the dir by the pid before it daemonized, not the pid file's.
	left, err := filepath.Glob(filepath.Join(i.tmpDir(), "frr", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) == 0 {
		t.Fatal("Stop removed the killed bgpd's log buffers")
	}
	for _, f := range left {
		if !strings.HasPrefix(filepath.Base(filepath.Dir(f)), "bgpd.") {
			t.Errorf("left %s; only the killed bgpd should leave files", f)
		}
	}
}
