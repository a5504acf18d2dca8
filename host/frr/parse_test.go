package frr

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The testdata files are real FRR 8.4.4 output, captured from three FRR
// instances in network namespaces: "router" is the lab router (the
// rendered default frr.conf, listen ranges, 198.51.100.0/24 connected and
// announced), with two stand-in TMMs in AS 64443 (192.0.2.201 and .202,
// both announcing 198.19.19.100/32 and 2001::198:19:19:100/128; .201 also
// 192.0.2.100/32). "tmm" is the .201 one; it also has a neighbor
// 192.0.2.99 that never answers.

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	router4    = netip.MustParseAddr("192.0.2.250")
	tmm1       = netip.MustParseAddr("192.0.2.201")
	tmm2       = netip.MustParseAddr("192.0.2.202")
	tmm1v6     = netip.MustParseAddr("2001::192:0:2:201")
	tmm2v6     = netip.MustParseAddr("2001::192:0:2:202")
	routerV6   = netip.MustParseAddr("2001::192:0:2:250")
	vip4       = netip.MustParsePrefix("198.19.19.100/32")
	vip6       = netip.MustParsePrefix("2001::198:19:19:100/128")
	clientNet4 = netip.MustParsePrefix("198.51.100.0/24")
	clientNet6 = netip.MustParsePrefix("2001::198:51:100:0/112")
)

func TestParseNeighborsRouter(t *testing.T) {
	ns, err := ParseNeighbors(readTestdata(t, "router-bgp-neighbors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var addrs []netip.Addr
	for _, n := range ns {
		addrs = append(addrs, n.Address)
	}
	if want := []netip.Addr{tmm1, tmm2, tmm1v6, tmm2v6}; !slices.Equal(addrs, want) {
		t.Fatalf("neighbors %v, want %v (sorted)", addrs, want)
	}
	for _, n := range ns {
		if !n.Established() || n.RemoteAS != 64443 || n.LocalAS != 65500 || !n.Dynamic || n.PeerGroup != "TMM" {
			t.Errorf("%s: %+v, want an Established dynamic peer of group TMM, AS 64443 → 65500", n.Address, n)
		}
		if n.Uptime != 11*time.Second {
			t.Errorf("%s: uptime %v, want 11s", n.Address, n.Uptime)
		}
		if n.LocalRouterID != router4 {
			t.Errorf("%s: local router-id %s", n.Address, n.LocalRouterID)
		}
	}
	// The v6 session of .201 comes from the same speaker as the v4 one.
	if ns[2].RemoteRouterID != tmm1 || ns[3].RemoteRouterID != tmm2 {
		t.Errorf("router-ids %s, %s; want %s, %s", ns[2].RemoteRouterID, ns[3].RemoteRouterID, tmm1, tmm2)
	}
	// .201 announced the VIP and its SNAT /32 over both sessions; .202 only
	// the VIP; the router sent 198.51.100.0/24 and the VIPs it learned.
	wantPrefixes := map[netip.Addr]map[Family]PrefixCounts{
		tmm1:   {IPv4: {Received: 2, Sent: 3}, IPv6: {Received: 0, Sent: 0}},
		tmm2:   {IPv4: {Received: 1, Sent: 3}, IPv6: {Received: 0, Sent: 0}},
		tmm1v6: {IPv4: {Received: 2, Sent: 3}, IPv6: {Received: 1, Sent: 2}},
		tmm2v6: {IPv4: {Received: 1, Sent: 3}, IPv6: {Received: 1, Sent: 2}},
	}
	for _, n := range ns {
		if !mapsEqual(n.Prefixes, wantPrefixes[n.Address]) {
			t.Errorf("%s: prefixes %v, want %v", n.Address, n.Prefixes, wantPrefixes[n.Address])
		}
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestParseNeighborsTMM(t *testing.T) {
	ns, err := ParseNeighbors(readTestdata(t, "tmm-bgp-neighbors.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 3 {
		t.Fatalf("%d neighbors, want 3: %+v", len(ns), ns)
	}
	silent, up := ns[0], ns[1]
	if silent.Address != netip.MustParseAddr("192.0.2.99") || silent.Established() || silent.State != "Active" ||
		silent.Uptime != 0 || silent.RemoteAS != 65501 || silent.RemoteRouterID != netip.IPv4Unspecified() {
		t.Errorf("silent neighbor: %+v", silent)
	}
	if silent.LastReset != "Waiting for peer OPEN" {
		t.Errorf("silent neighbor's last reset %q", silent.LastReset)
	}
	if up.Address != router4 || !up.Established() || up.Dynamic || up.PeerGroup != "" || up.RemoteAS != 65500 ||
		up.RemoteRouterID != router4 || up.Prefixes[IPv4] != (PrefixCounts{Received: 1, Sent: 3}) {
		t.Errorf("router neighbor: %+v", up)
	}
	if _, ok := up.Prefixes[IPv6]; ok {
		t.Errorf("IPv6 counters on a session without IPv6 unicast: %+v", up.Prefixes)
	}
	if ns[2].Address != routerV6 || ns[2].Prefixes[IPv6] != (PrefixCounts{Received: 1, Sent: 2}) {
		t.Errorf("router v6 neighbor: %+v", ns[2])
	}
}

func TestParseNeighborsEmpty(t *testing.T) {
	ns, err := ParseNeighbors([]byte("{}\n"))
	if err != nil || len(ns) != 0 {
		t.Fatalf("ParseNeighbors({}) = %v, %v; want none", ns, err)
	}
}

func TestParseRoutesRouter(t *testing.T) {
	rs, err := ParseRoutes(readTestdata(t, "router-ip-route.json"))
	if err != nil {
		t.Fatal(err)
	}
	var prefixes []string
	for _, r := range rs {
		prefixes = append(prefixes, r.Prefix.String()+" "+r.Protocol)
	}
	want := []string{"192.0.2.0/24 connected", "192.0.2.100/32 bgp", "198.19.19.100/32 bgp", "198.51.100.0/24 connected"}
	if !slices.Equal(prefixes, want) {
		t.Fatalf("routes %q, want %q", prefixes, want)
	}
	vip, ok := SelectedRoute(rs, vip4)
	if !ok || !vip.Installed || vip.Distance != 20 {
		t.Fatalf("VIP route %+v (found %v), want selected, installed, distance 20", vip, ok)
	}
	var hops []netip.Addr
	for _, h := range vip.NextHops {
		if !h.Active || !h.FIB || h.Interface != "fxa" {
			t.Errorf("VIP next hop %+v, want active in the FIB on fxa", h)
		}
		hops = append(hops, h.Addr)
	}
	if !slices.Equal(hops, []netip.Addr{tmm1, tmm2}) {
		t.Errorf("VIP next hops %v, want both TMMs (ECMP)", hops)
	}
	conn := rs[0]
	if len(conn.NextHops) != 1 || conn.NextHops[0].Addr.IsValid() || !conn.NextHops[0].DirectlyConnected {
		t.Errorf("connected route next hops %+v", conn.NextHops)
	}
}

func TestParseRoutesIPv6AndBlackhole(t *testing.T) {
	rs, err := ParseRoutes(readTestdata(t, "router-ipv6-route.json"))
	if err != nil {
		t.Fatal(err)
	}
	vip, ok := SelectedRoute(rs, vip6)
	if !ok || len(vip.NextHops) != 2 {
		t.Fatalf("v6 VIP %+v (found %v), want two next hops", vip, ok)
	}
	for _, h := range vip.NextHops {
		if !h.Addr.IsLinkLocalUnicast() {
			t.Errorf("v6 VIP next hop %s, want the TMMs' link-local addresses", h.Addr)
		}
	}
	// fe80::/64 is connected on two interfaces; zebra selects one.
	var ll []Route
	for _, r := range rs {
		if r.Prefix == netip.MustParsePrefix("fe80::/64") {
			ll = append(ll, r)
		}
	}
	if len(ll) != 2 || ll[0].Selected == ll[1].Selected {
		t.Errorf("fe80::/64 entries %+v, want two with one selected", ll)
	}

	rs, err = ParseRoutes(readTestdata(t, "tmm-ip-route.json"))
	if err != nil {
		t.Fatal(err)
	}
	bh, ok := SelectedRoute(rs, vip4)
	if !ok || bh.Protocol != "static" || len(bh.NextHops) != 1 || !bh.NextHops[0].Blackhole || bh.NextHops[0].Addr.IsValid() {
		t.Errorf("TMM's static blackhole VIP %+v (found %v)", bh, ok)
	}
	learned, ok := SelectedRoute(rs, clientNet4)
	if !ok || learned.Protocol != "bgp" || len(learned.NextHops) != 1 || learned.NextHops[0].Addr != router4 {
		t.Errorf("TMM's route to the client net %+v (found %v)", learned, ok)
	}
}

func TestParseBGPRoutesRouter(t *testing.T) {
	rs, err := ParseBGPRoutes(readTestdata(t, "router-bgp-ipv4-unicast.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 {
		t.Fatalf("%d routes, want 3", len(rs))
	}
	vip, ok := FindBGPRoute(rs, vip4)
	if !ok || len(vip.Paths) != 4 {
		t.Fatalf("VIP %+v (found %v), want 4 paths (two TMMs, each over v4 and v6 sessions)", vip, ok)
	}
	var selected []string
	for _, p := range vip.Selected() {
		selected = append(selected, p.NextHop.String()+" from "+p.Peer.String())
		if !slices.Equal(p.ASPath, []uint32{64443}) || p.Local || p.From != "external" || !p.Valid || p.Origin != "IGP" {
			t.Errorf("VIP path %+v", p)
		}
	}
	slices.Sort(selected)
	if want := []string{"192.0.2.201 from 192.0.2.201", "192.0.2.202 from 192.0.2.202"}; !slices.Equal(selected, want) {
		t.Errorf("VIP best+multipath %q, want %q", selected, want)
	}
	local, ok := FindBGPRoute(rs, clientNet4)
	if !ok || len(local.Paths) != 1 {
		t.Fatalf("client net %+v (found %v)", local, ok)
	}
	if p := local.Paths[0]; !p.Local || p.Peer.IsValid() || !p.Best || len(p.ASPath) != 0 || p.NextHop != netip.IPv4Unspecified() || p.Weight != 32768 {
		t.Errorf("locally originated path %+v", p)
	}
}

func TestParseBGPRoutesIPv6(t *testing.T) {
	rs, err := ParseBGPRoutes(readTestdata(t, "router-bgp-ipv6-unicast.json"))
	if err != nil {
		t.Fatal(err)
	}
	vip, ok := FindBGPRoute(rs, vip6)
	if !ok {
		t.Fatalf("no %s in %+v", vip6, rs)
	}
	var hops []netip.Addr
	for _, p := range vip.Selected() {
		hops = append(hops, p.NextHop)
		if len(p.NextHops) != 2 || p.NextHops[1].Scope != "link-local" || !p.NextHops[1].Used || p.NextHops[0].Used {
			t.Errorf("v6 path next hops %+v, want global then used link-local", p.NextHops)
		}
	}
	slices.SortFunc(hops, netip.Addr.Compare)
	if !slices.Equal(hops, []netip.Addr{tmm1v6, tmm2v6}) {
		t.Errorf("v6 VIP next hops %v, want the TMMs' global addresses", hops)
	}
	rs, err = ParseBGPRoutes(readTestdata(t, "tmm-bgp-ipv6-unicast.json"))
	if err != nil {
		t.Fatal(err)
	}
	learned, ok := FindBGPRoute(rs, clientNet6)
	if !ok || len(learned.Paths) != 1 || learned.Paths[0].NextHop != routerV6 || !slices.Equal(learned.Paths[0].ASPath, []uint32{65500}) {
		t.Errorf("TMM's v6 client net %+v (found %v)", learned, ok)
	}
}

func TestParseBGPRoutesWarning(t *testing.T) {
	_, err := ParseBGPRoutes(readTestdata(t, "nobgp-bgp-ipv4-unicast.json"))
	if err == nil || !strings.Contains(err.Error(), "Default BGP instance not found") {
		t.Fatalf("err %v, want FRR's warning", err)
	}
}

func TestParseASPath(t *testing.T) {
	for in, want := range map[string][]uint32{
		"":                         nil,
		"64443":                    {64443},
		"65500 64443":              {65500, 64443},
		"65500 {64443,64444}":      {65500, 64443, 64444},
		"(65001 65002) 4200000000": {65001, 65002, 4200000000},
	} {
		got, err := parseASPath(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("parseASPath(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseASPath("65500 x"); err == nil || !strings.Contains(err.Error(), `"path"`) {
		t.Errorf("bad AS path: err %v", err)
	}
}

// edit decodes a JSON object, applies change and encodes it again.
func edit(t *testing.T, data []byte, change func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fixedOutput is an Exec that prints data whatever the command, and records
// the commands.
func fixedOutput(data []byte, argvs *[][]string) Exec {
	return func(_ context.Context, argv ...string) ([]byte, error) {
		*argvs = append(*argvs, argv)
		return data, nil
	}
}

// TestQueryErrorsNameCommandAndField feeds each query real output with one
// field removed or malformed.
func TestQueryErrorsNameCommandAndField(t *testing.T) {
	neighbors := readTestdata(t, "router-bgp-neighbors.json")
	routes := readTestdata(t, "router-ip-route.json")
	bgp := readTestdata(t, "router-bgp-ipv4-unicast.json")
	tests := []struct {
		name    string
		data    []byte
		query   func(*VTY) error
		command string
		field   string
	}{
		{"neighbor without state", edit(t, neighbors, func(m map[string]any) {
			delete(m["192.0.2.202"].(map[string]any), "bgpState")
		}), queryNeighbors, neighborsCommand, `"bgpState"`},
		{"neighbor with a string AS", edit(t, neighbors, func(m map[string]any) {
			m["192.0.2.201"].(map[string]any)["remoteAs"] = "64443"
		}), queryNeighbors, neighborsCommand, "remoteAs"},
		{"neighbor with a bad router-id", edit(t, neighbors, func(m map[string]any) {
			m["192.0.2.201"].(map[string]any)["remoteRouterId"] = "x"
		}), queryNeighbors, neighborsCommand, `"remoteRouterId"`},
		{"neighbor keyed by a non-address", edit(t, neighbors, func(m map[string]any) {
			m["eth0"] = m["192.0.2.201"]
		}), queryNeighbors, neighborsCommand, `"eth0"`},
		{"route without protocol", edit(t, routes, func(m map[string]any) {
			delete(m["198.19.19.100/32"].([]any)[0].(map[string]any), "protocol")
		}), queryRoutes(IPv4), "show ip route json", `"protocol"`},
		{"route with a bad next hop", edit(t, routes, func(m map[string]any) {
			m["198.19.19.100/32"].([]any)[0].(map[string]any)["nexthops"].([]any)[1].(map[string]any)["ip"] = "192.0.2"
		}), queryRoutes(IPv4), "show ip route json", `"ip"`},
		{"route whose prefix differs from its key", edit(t, routes, func(m map[string]any) {
			m["198.19.19.100/32"].([]any)[0].(map[string]any)["prefix"] = "198.19.19.101/32"
		}), queryRoutes(IPv6), "show ipv6 route json", `"prefix"`},
		{"BGP table without routes", edit(t, bgp, func(m map[string]any) {
			delete(m, "routes")
		}), queryBGP(IPv4), "show bgp ipv4 unicast json", `"routes"`},
		{"BGP path without AS path", edit(t, bgp, func(m map[string]any) {
			delete(m["routes"].(map[string]any)["198.19.19.100/32"].([]any)[2].(map[string]any), "path")
		}), queryBGP(IPv6), "show bgp ipv6 unicast json", `"path"`},
		{"BGP path with a bad peer", edit(t, bgp, func(m map[string]any) {
			m["routes"].(map[string]any)["198.19.19.100/32"].([]any)[0].(map[string]any)["peerId"] = "peer"
		}), queryBGP(IPv4), "show bgp ipv4 unicast json", `"peerId"`},
		{"not JSON", []byte("% Unknown command\n"), queryNeighbors, neighborsCommand, "decoding JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var argvs [][]string
			err := tc.query(NewVTY(fixedOutput(tc.data, &argvs), "--vty_socket", "/x"))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), tc.command+": ") || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q, want it to start with %q and name %s", err, tc.command, tc.field)
			}
			if want := []string{"vtysh", "--vty_socket", "/x", "-c", tc.command}; len(argvs) != 1 || !slices.Equal(argvs[0], want) {
				t.Errorf("ran %q, want %q", argvs, want)
			}
		})
	}
}

func queryNeighbors(v *VTY) error {
	_, err := v.Neighbors(context.Background())
	return err
}

func queryRoutes(f Family) func(*VTY) error {
	return func(v *VTY) error {
		_, err := v.Routes(context.Background(), f)
		return err
	}
}

func queryBGP(f Family) func(*VTY) error {
	return func(v *VTY) error {
		_, err := v.BGPRoutes(context.Background(), f)
		return err
	}
}

func TestJSON(t *testing.T) {
	var argvs [][]string
	v := NewVTY(fixedOutput(readTestdata(t, "router-bgp-ipv4-unicast.json"), &argvs))
	var table struct {
		RouterID string `json:"routerId"`
		LocalAS  int    `json:"localAS"`
	}
	if err := v.JSON(context.Background(), "show bgp ipv4 unicast json", &table); err != nil {
		t.Fatal(err)
	}
	if table.RouterID != "192.0.2.250" || table.LocalAS != 65500 {
		t.Errorf("decoded %+v", table)
	}
	v = NewVTY(fixedOutput(readTestdata(t, "nobgp-bgp-ipv4-unicast.json"), &argvs))
	err := v.JSON(context.Background(), "show bgp ipv4 unicast json", &table)
	if err == nil || !strings.Contains(err.Error(), "show bgp ipv4 unicast json: FRR warns: Default BGP instance not found") {
		t.Errorf("warning object: err %v", err)
	}
}

func TestFamilyChecked(t *testing.T) {
	var argvs [][]string
	v := NewVTY(fixedOutput([]byte("{}"), &argvs))
	if _, err := v.Routes(context.Background(), "ip"); err == nil {
		t.Error("Routes accepted family \"ip\"")
	}
	if _, err := v.BGPRoutes(context.Background(), "l2vpn"); err == nil {
		t.Error("BGPRoutes accepted family \"l2vpn\"")
	}
	if len(argvs) != 0 {
		t.Errorf("ran %q for a bad family", argvs)
	}
}

// TestCommandExec runs real programs: output, and errors that carry what
// the command printed.
func TestCommandExec(t *testing.T) {
	ctx := context.Background()
	out, err := Command("sh", "-c")(ctx, "echo hello")
	if err != nil || string(out) != "hello\n" {
		t.Fatalf("got %q, %v", out, err)
	}
	_, err = Command()(ctx, "sh", "-c", "echo '% Unknown command: show foo' ; exit 1")
	if err == nil || !strings.Contains(err.Error(), "% Unknown command: show foo") || !strings.Contains(err.Error(), "exit status 1") {
		t.Errorf("failing command: err %v", err)
	}
	_, err = Command("/nonexistent/dir")(ctx, "vtysh")
	if err == nil {
		t.Error("a missing program ran")
	}
	t.Setenv("PATH", t.TempDir())
	_, err = Command()(ctx, "vtysh", "-c", "show version")
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "apt-get install frr") {
		t.Errorf("vtysh missing: err %v, want ErrNotInstalled saying apt-get install frr", err)
	}
}
