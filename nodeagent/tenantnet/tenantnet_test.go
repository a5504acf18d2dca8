package tenantnet

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/spklab/spklab/internal/netconv"
	"github.com/spklab/spklab/internal/testenv"
)

var (
	nodeAddr = netip.MustParseAddr("198.18.100.3")
	tmm0     = netip.MustParseAddr("198.18.100.201")
	tmm1     = netip.MustParseAddr("198.18.100.202")
	redPod0  = netip.MustParseAddr("10.244.1.2")
	redPod1  = netip.MustParseAddr("10.244.1.3")
	bluePod0 = netip.MustParseAddr("10.244.1.4")
	exempt   = []netip.Prefix{
		netip.MustParsePrefix("10.244.0.0/16"),
		netip.MustParsePrefix("10.96.0.0/16"),
		netip.MustParsePrefix("198.18.100.0/24"),
		netip.MustParsePrefix("2001::198:18:100:0/112"),
	}
)

func redBlueNode() Node {
	return Node{
		Underlay: "eth2",
		Local:    nodeAddr,
		Exempt:   exempt,
		Tenants: []Tenant{
			{Name: "red", VNI: 100, TMMs: []netip.Addr{tmm0, tmm1}, Pods: []netip.Addr{redPod0, redPod1}},
			{Name: "blue", VNI: 200, TMMs: []netip.Addr{tmm0, tmm1}, Pods: []netip.Addr{bluePod0}},
		},
	}
}

// underlay gives ns an "eth2" (MTU 1500, up, nodeAddr/24) whose peer lives
// in peerNS as "u0".
func underlay(t *testing.T, ns, peerNS *testenv.Netns, peerAddr netip.Addr) {
	t.Helper()
	h, err := netlink.NewHandleAt(ns.Handle)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth2", MTU: 1500}, PeerName: "u0", PeerNamespace: netlink.NsFd(int(peerNS.Handle))}
	if err := h.LinkAdd(veth); err != nil {
		t.Fatalf("veth: %v", err)
	}
	up(t, ns, "eth2", netip.PrefixFrom(nodeAddr, 24))
	up(t, peerNS, "u0", netip.PrefixFrom(peerAddr, 24))
}

func up(t *testing.T, ns *testenv.Netns, dev string, addr netip.Prefix) {
	t.Helper()
	h, err := netlink.NewHandleAt(ns.Handle)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	l, err := h.LinkByName(dev)
	if err != nil {
		t.Fatalf("%s in %s: %v", dev, ns.Name, err)
	}
	if addr.IsValid() {
		if err := h.AddrAdd(l, &netlink.Addr{IPNet: netconv.IPNet(addr)}); err != nil {
			t.Fatalf("address %s on %s: %v", addr, dev, err)
		}
	}
	if err := h.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
}

func apply(t *testing.T, ns *testenv.Netns, n Node) {
	t.Helper()
	if err := ns.Do(func() error { return Apply(n) }); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// state is what tenantnet made in a namespace, in comparable form.
type state struct {
	devices []string // "vx100 id=100 mtu=1450 local=… dev=… up"
	fdb     []string // "vx100 dst"
	rules   []string
	routes  []string // "table dst dev"
}

func snapshot(t *testing.T, ns *testenv.Netns) state {
	t.Helper()
	var s state
	err := ns.Do(func() error {
		links, err := Consistent(netlink.LinkList)
		if err != nil {
			return err
		}
		for _, l := range links {
			v, ok := l.(*netlink.Vxlan)
			if !ok {
				continue
			}
			a := v.Attrs()
			s.devices = append(s.devices, formatDevice(v))
			neighs, err := Consistent(func() ([]netlink.Neigh, error) { return netlink.NeighList(a.Index, unix.AF_BRIDGE) })
			if err != nil {
				return err
			}
			for _, nb := range neighs {
				if nb.HardwareAddr.String() == zeroMAC.String() {
					s.fdb = append(s.fdb, a.Name+" "+nb.IP.String())
				}
			}
			for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
				routes, err := Consistent(func() ([]netlink.Route, error) {
					return netlink.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
				})
				if err != nil {
					return err
				}
				for _, r := range routes {
					if ownTable(r.Table) {
						s.routes = append(s.routes, formatRoute(r, links))
					}
				}
			}
		}
		rules, err := ownRules()
		if err != nil {
			return err
		}
		for _, r := range rules {
			s.rules = append(s.rules, ruleOf(r).String())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reading state of %s: %v", ns.Name, err)
	}
	for _, l := range [][]string{s.devices, s.fdb, s.rules, s.routes} {
		sort.Strings(l)
	}
	s.routes = slices.Compact(s.routes)
	return s
}

func formatDevice(v *netlink.Vxlan) string {
	a := v.Attrs()
	upState := "down"
	if a.Flags&net.FlagUp != 0 {
		upState = "up"
	}
	return a.Name + " id=" + itoa(v.VxlanId) + " mtu=" + itoa(a.MTU) + " local=" + v.SrcAddr.String() +
		" port=" + itoa(v.Port) + " learning=" + boolStr(v.Learning) + " " + upState
}

func formatRoute(r netlink.Route, links []netlink.Link) string {
	dev := "?"
	for _, l := range links {
		if l.Attrs().Index == r.LinkIndex {
			dev = l.Attrs().Name
		}
	}
	dst := "default"
	if r.Dst != nil {
		dst = r.Dst.String()
	}
	gw := ""
	if r.Gw != nil {
		gw = " via " + r.Gw.String()
	}
	return itoa(r.Table) + " " + dst + gw + " dev " + dev
}

func itoa(i int) string { return strconv.Itoa(i) }

func boolStr(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func TestApplyIsIdempotentAndRemoves(t *testing.T) {
	testenv.RequireRoot(t)
	node := testenv.NewNetns(t, "tnode")
	peer := testenv.NewNetns(t, "tpeer")
	underlay(t, node, peer, tmm0)

	n := redBlueNode()
	apply(t, node, n)
	first := snapshot(t, node)

	wantDevices := []string{
		"vx100 id=100 mtu=1450 local=198.18.100.3 port=4789 learning=on up",
		"vx200 id=200 mtu=1450 local=198.18.100.3 port=4789 learning=on up",
	}
	if !slices.Equal(first.devices, wantDevices) {
		t.Errorf("devices:\n got %q\nwant %q", first.devices, wantDevices)
	}
	wantFDB := []string{"vx100 198.18.100.201", "vx100 198.18.100.202", "vx200 198.18.100.201", "vx200 198.18.100.202"}
	if !slices.Equal(first.fdb, wantFDB) {
		t.Errorf("fdb:\n got %q\nwant %q", first.fdb, wantFDB)
	}
	t100, t200 := itoa(Table(100)), itoa(Table(200))
	wantRoutes := []string{t100 + " 0.0.0.0/0 dev vx100", t100 + " ::/0 dev vx100", t200 + " 0.0.0.0/0 dev vx200", t200 + " ::/0 dev vx200"}
	if !slices.Equal(first.routes, wantRoutes) {
		t.Errorf("routes:\n got %q\nwant %q", first.routes, wantRoutes)
	}
	wantRules := []string{
		"priority 1000 to 10.244.0.0/16 lookup 254",
		"priority 1000 to 10.96.0.0/16 lookup 254",
		"priority 1000 to 198.18.100.0/24 lookup 254",
		"priority 1000 to 2001::198:18:100:0/112 lookup 254",
		"priority 2000 from 10.244.1.2/32 lookup " + t100,
		"priority 2000 from 10.244.1.3/32 lookup " + t100,
		"priority 2000 from 10.244.1.4/32 lookup " + t200,
	}
	if !slices.Equal(first.rules, wantRules) {
		t.Errorf("rules:\n got %q\nwant %q", first.rules, wantRules)
	}
	var rp string
	if err := node.Do(func() error {
		for _, k := range []string{"all", "vx100", "vx200"} {
			b, err := readSysctl("net/ipv4/conf/" + k + "/rp_filter")
			if err != nil {
				return err
			}
			rp += k + "=" + b + " "
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if rp != "all=0 vx100=0 vx200=0 " {
		t.Errorf("rp_filter: %s", rp)
	}

	// Second Apply: same state, and the same device (not recreated).
	idx := linkIndex(t, node, "vx100")
	apply(t, node, n)
	if again := snapshot(t, node); !equalState(first, again) {
		t.Errorf("second Apply changed the state:\n%+v\n%+v", first, again)
	}
	if linkIndex(t, node, "vx100") != idx {
		t.Error("second Apply recreated vx100")
	}

	// A pod gone, a TMM gone, blue gone: its rule, FDB entry and device go.
	n.Tenants = []Tenant{{Name: "red", VNI: 100, TMMs: []netip.Addr{tmm1}, Pods: []netip.Addr{redPod1}}}
	apply(t, node, n)
	s := snapshot(t, node)
	if want := []string{wantDevices[0]}; !slices.Equal(s.devices, want) {
		t.Errorf("devices after blue left: %q", s.devices)
	}
	if want := []string{"vx100 198.18.100.202"}; !slices.Equal(s.fdb, want) {
		t.Errorf("fdb after tmm0 left: %q", s.fdb)
	}
	if want := append(slices.Clone(wantRules[:4]), "priority 2000 from 10.244.1.3/32 lookup "+t100); !slices.Equal(s.rules, want) {
		t.Errorf("rules after a pod left:\n got %q\nwant %q", s.rules, want)
	}

	// Remove leaves nothing of ours, and keeps what is not ours.
	if err := node.Do(func() error {
		foreign := netlink.NewRule()
		foreign.Priority = PriorityPod
		foreign.Table = 100 // outside our range
		foreign.Src = netconv.IPNet(netip.MustParsePrefix("10.9.9.9/32"))
		return netlink.RuleAdd(foreign)
	}); err != nil {
		t.Fatal(err)
	}
	if err := node.Do(Remove); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if s := snapshot(t, node); len(s.devices)+len(s.fdb)+len(s.rules)+len(s.routes) != 0 {
		t.Errorf("Remove left %+v", s)
	}
	if err := node.Do(func() error {
		rules, err := Consistent(func() ([]netlink.Rule, error) { return netlink.RuleList(netlink.FAMILY_V4) })
		if err != nil {
			return err
		}
		for _, r := range rules {
			if r.Table == 100 && r.Priority == PriorityPod {
				return nil
			}
		}
		return errors.New("Remove deleted a rule it did not make")
	}); err != nil {
		t.Error(err)
	}
	if err := node.Do(Remove); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}

func TestApplyReplacesAWrongDevice(t *testing.T) {
	testenv.RequireRoot(t)
	node := testenv.NewNetns(t, "tnode")
	peer := testenv.NewNetns(t, "tpeer")
	underlay(t, node, peer, tmm0)
	// A vx100 with the wrong local address and no learning.
	if err := node.Do(func() error {
		l, err := netlink.LinkByName("eth2")
		if err != nil {
			return err
		}
		return netlink.LinkAdd(&netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: "vx100"}, VxlanId: 100, VtepDevIndex: l.Attrs().Index,
			SrcAddr: net.ParseIP("198.18.100.9"), Port: VXLANPort})
	}); err != nil {
		t.Fatal(err)
	}
	apply(t, node, redBlueNode())
	s := snapshot(t, node)
	if len(s.devices) == 0 || s.devices[0] != "vx100 id=100 mtu=1450 local=198.18.100.3 port=4789 learning=on up" {
		t.Errorf("vx100 not fixed: %q", s.devices)
	}
}

func TestApplyRejectsBadInput(t *testing.T) {
	for name, n := range map[string]Node{
		"no underlay": {Local: nodeAddr, Tenants: []Tenant{{Name: "a", VNI: 5, TMMs: []netip.Addr{tmm0}}}},
		"v6 local":    {Underlay: "eth2", Local: netip.MustParseAddr("2001::1"), Tenants: []Tenant{{Name: "a", VNI: 5, TMMs: []netip.Addr{tmm0}}}},
		"v6 guard":    {Guard: []netip.Addr{netip.MustParseAddr("2001::1")}},
		"vni 0":       {Underlay: "eth2", Local: nodeAddr, Tenants: []Tenant{{Name: "a", TMMs: []netip.Addr{tmm0}}}},
		"vni too big": {Underlay: "eth2", Local: nodeAddr, Tenants: []Tenant{{Name: "a", VNI: MaxVNI + 1, TMMs: []netip.Addr{tmm0}}}},
		"shared vni": {Underlay: "eth2", Local: nodeAddr, Tenants: []Tenant{
			{Name: "a", VNI: 5, TMMs: []netip.Addr{tmm0}}, {Name: "b", VNI: 5, TMMs: []netip.Addr{tmm0}}}},
		"no tmm": {Underlay: "eth2", Local: nodeAddr, Tenants: []Tenant{{Name: "a", VNI: 5}}},
	} {
		if err := n.check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestNames(t *testing.T) {
	if Device(100) != "vx100" || Table(100) != 16777316 || !ownTable(Table(MaxVNI)) || ownTable(254) {
		t.Errorf("Device/Table: %s %d", Device(100), Table(100))
	}
	for name, own := range map[string]bool{"vx100": true, "vx016": false, "vxlan0": false, "vx0": false, "vx16777216": false, "eth0": false} {
		if isOwnDevice(name) != own {
			t.Errorf("isOwnDevice(%q) = %v", name, !own)
		}
	}
}

func linkIndex(t *testing.T, ns *testenv.Netns, name string) int {
	t.Helper()
	var idx int
	if err := ns.Do(func() error {
		l, err := netlink.LinkByName(name)
		if err != nil {
			return err
		}
		idx = l.Attrs().Index
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return idx
}

func equalState(a, b state) bool {
	return slices.Equal(a.devices, b.devices) && slices.Equal(a.fdb, b.fdb) && slices.Equal(a.rules, b.rules) && slices.Equal(a.routes, b.routes)
}

// TestGuardWithoutTenants: the guard rules stand on a node with no tenant
// (a pod of any namespace may try), converge, follow the TMM list and go
// with Remove.
func TestGuardWithoutTenants(t *testing.T) {
	testenv.RequireRoot(t)
	node := testenv.NewNetns(t, "gnode")
	apply(t, node, Node{Guard: []netip.Addr{tmm0, tmm1}})
	want := []string{
		"priority 900 iif lo to 198.18.100.201/32 ipproto udp dport 4789 lookup 254",
		"priority 900 iif lo to 198.18.100.202/32 ipproto udp dport 4789 lookup 254",
		"priority 901 to 198.18.100.201/32 ipproto udp dport 4789 prohibit",
		"priority 901 to 198.18.100.202/32 ipproto udp dport 4789 prohibit",
	}
	if s := snapshot(t, node); !slices.Equal(s.rules, want) {
		t.Errorf("rules:\n got %q\nwant %q", s.rules, want)
	}
	apply(t, node, Node{Guard: []netip.Addr{tmm0, tmm1}})
	if s := snapshot(t, node); !slices.Equal(s.rules, want) {
		t.Errorf("second Apply: rules %q", s.rules)
	}
	apply(t, node, Node{Guard: []netip.Addr{tmm1}})
	if s := snapshot(t, node); !slices.Equal(s.rules, []string{want[1], want[3]}) {
		t.Errorf("after tmm0 left: rules %q", s.rules)
	}
	if err := node.Do(Remove); err != nil {
		t.Fatal(err)
	}
	if s := snapshot(t, node); len(s.rules) != 0 {
		t.Errorf("Remove left %q", s.rules)
	}
}
