package bgp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	bgppkt "github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"

	"github.com/spklab/spklab/dataplane/config"
	"github.com/spklab/spklab/dataplane/fib"
	"github.com/spklab/spklab/internal/testenv"
)

// A BGP session's sockets belong to whichever thread's namespace Go runs
// them on, so the session test runs as a child process started entirely
// inside a fresh namespace.
const childEnv = "SPKLAB_BGP_TEST_CHILD"

func TestSpeakerAgainstRouter(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		speakerAgainstRouter(t)
		return
	}
	testenv.RequireRoot(t)
	ns := testenv.NewNetns(t, "bgp")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Bounded: a hung child (a deadlock) fails with its goroutine dump
	// instead of the whole package timing out.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns.Name, self, "-test.run", "^TestSpeakerAgainstRouter$", "-test.v", "-test.timeout", "75s")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	if err != nil {
		t.Fatalf("child test failed: %v", err)
	}
}

// speakerAgainstRouter runs in its own namespace: the router (a plain GoBGP
// server, AS 65500, listening like FRR's listen range) and the speaker under
// test (AS 64443) talk over lo, which holds both lab addresses.
func speakerAgainstRouter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, argv := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "addr", "add", "192.0.2.250/24", "dev", "lo"},
		{"ip", "addr", "add", "192.0.2.201/24", "dev", "lo"},
		{"ip", "-6", "addr", "add", "2001::192:0:2:250/112", "dev", "lo", "nodad"},
		{"ip", "-6", "addr", "add", "2001::192:0:2:201/112", "dev", "lo", "nodad"},
	} {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", argv, err, out)
		}
	}
	router := startRouter(ctx, t)

	table := fib.New()
	sp := New(table, slog.Default())
	defer sp.Close()
	cfg := speakerConfig([]string{"198.19.19.100/32", "192.0.2.100/32", "2001::198:19:19:100/128"})
	if err := sp.Apply(ctx, cfg); err != nil {
		t.Fatal(err)
	}

	eventually(t, "both sessions Established", func() error {
		st, err := sp.Status(ctx)
		if err != nil {
			return err
		}
		if len(st.Neighbors) != 2 {
			return fmt.Errorf("neighbors %+v", st.Neighbors)
		}
		for _, n := range st.Neighbors {
			if n.State != "Established" {
				return fmt.Errorf("%s is %s (%s)", n.Address, n.State, n.LastError)
			}
		}
		return nil
	})
	eventually(t, "router has the three prefixes via the speaker's self IPs", func() error {
		got := routerRIB(t, router)
		want := map[string]string{
			"198.19.19.100/32":        "192.0.2.201",
			"192.0.2.100/32":          "192.0.2.201",
			"2001::198:19:19:100/128": "2001::192:0:2:201",
		}
		for p, nh := range want {
			if got[p] != nh {
				return fmt.Errorf("router RIB %v, want %s via %s", got, p, nh)
			}
		}
		return nil
	})
	eventually(t, "the router's 198.51.100.0/24 is in the FIB via the external VLAN", func() error {
		r, ok := table.Lookup(netip.MustParseAddr("198.51.100.7"))
		if !ok || r.Source != fib.BGP || r.NextHops[0] != (fib.NextHop{Gateway: netip.MustParseAddr("192.0.2.250"), VLAN: "external"}) {
			return fmt.Errorf("lookup: %v %v", r, ok)
		}
		return nil
	})

	// Deleting the ingress withdraws its VIP at once; the SNAT address stays.
	start := time.Now()
	if err := sp.Apply(ctx, speakerConfig([]string{"192.0.2.100/32", "2001::198:19:19:100/128"})); err != nil {
		t.Fatal(err)
	}
	eventually(t, "VIP withdrawn", func() error {
		got := routerRIB(t, router)
		if _, ok := got["198.19.19.100/32"]; ok {
			return fmt.Errorf("router still has the VIP: %v", got)
		}
		if _, ok := got["192.0.2.100/32"]; !ok {
			return fmt.Errorf("router lost the SNAT address: %v", got)
		}
		return nil
	})
	t.Logf("withdrawal reached the router in %v", time.Since(start))
	st, err := sp.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []netip.Prefix{netip.MustParsePrefix("192.0.2.100/32"), netip.MustParsePrefix("2001::198:19:19:100/128")}; !slices.Equal(st.Announced, want) {
		t.Errorf("status announces %v, want %v", st.Announced, want)
	}

	// The IPv6 neighbor goes away together with the IPv6 prefix: the
	// prefix is still withdrawn (from the path kept when it was added).
	v4only := speakerConfig([]string{"192.0.2.100/32"})
	v4only.BGP.Neighbors = v4only.BGP.Neighbors[:1]
	if err := sp.Apply(ctx, v4only); err != nil {
		t.Fatalf("dropping the IPv6 neighbor and prefix: %v", err)
	}
	if st, err := sp.Status(ctx); err != nil || len(st.Announced) != 1 || len(st.Neighbors) != 1 {
		t.Errorf("after dropping IPv6: %+v %v", st, err)
	}

	// No BGP in the config: the speaker stops and its learned routes go.
	if err := sp.Apply(ctx, &config.Config{VLANs: cfg.VLANs}); err != nil {
		t.Fatal(err)
	}
	if _, ok := table.Lookup(netip.MustParseAddr("198.51.100.7")); ok {
		t.Errorf("BGP route left in the FIB after BGP was removed")
	}
	eventually(t, "routes gone from the router", func() error {
		if got := routerRIB(t, router); len(got) != 0 {
			return fmt.Errorf("router RIB %v", got)
		}
		return nil
	})
}

func speakerConfig(announce []string) *config.Config {
	c := &config.Config{
		VLANs: []config.VLAN{{
			Name: "external", Interface: "1.1",
			SelfIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.201/24"), netip.MustParsePrefix("2001::192:0:2:201/112")},
		}},
		BGP: &config.BGP{
			ASN: 64443, RouterID: netip.MustParseAddr("192.0.2.201"), GracefulRestart: 120,
			Neighbors: []config.Neighbor{
				{Address: netip.MustParseAddr("192.0.2.250"), ASN: 65500, IPv4: true, VLAN: "external",
					Local: netip.MustParseAddr("192.0.2.201"), NextHop4: netip.MustParseAddr("192.0.2.201"), NextHop6: netip.MustParseAddr("2001::192:0:2:201")},
				{Address: netip.MustParseAddr("2001::192:0:2:250"), ASN: 65500, IPv6: true, VLAN: "external",
					Local: netip.MustParseAddr("2001::192:0:2:201"), NextHop4: netip.MustParseAddr("192.0.2.201"), NextHop6: netip.MustParseAddr("2001::192:0:2:201")},
			},
		},
	}
	for _, p := range announce {
		c.BGP.Announce = append(c.BGP.Announce, netip.MustParsePrefix(p))
	}
	return c
}

// startRouter runs a GoBGP server standing in for FRR: AS 65500, dynamic
// neighbors from the lab subnets, originating 198.51.100.0/24.
func startRouter(ctx context.Context, t *testing.T) *server.BgpServer {
	t.Helper()
	r := server.NewBgpServer(server.LoggerOption(slog.Default().With("who", "router"), nil))
	go r.Serve()
	t.Cleanup(r.Stop)
	if err := r.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: 65500, RouterId: "192.0.2.250", ListenPort: 179, ListenAddresses: []string{"192.0.2.250", "2001::192:0:2:250"},
	}}); err != nil {
		t.Fatal(err)
	}
	for _, pg := range []struct {
		name, prefix string
		afi          api.Family_Afi
	}{{"tmm4", "192.0.2.0/24", api.Family_AFI_IP}, {"tmm6", "2001::192:0:2:0/112", api.Family_AFI_IP6}} {
		if err := r.AddPeerGroup(ctx, &api.AddPeerGroupRequest{PeerGroup: &api.PeerGroup{
			Conf:     &api.PeerGroupConf{PeerGroupName: pg.name, PeerAsn: 64443},
			AfiSafis: []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: &api.Family{Afi: pg.afi, Safi: api.Family_SAFI_UNICAST}, Enabled: true}}},
		}}); err != nil {
			t.Fatal(err)
		}
		if err := r.AddDynamicNeighbor(ctx, &api.AddDynamicNeighborRequest{DynamicNeighbor: &api.DynamicNeighbor{Prefix: pg.prefix, PeerGroup: pg.name}}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := pathOf(netip.MustParsePrefix("198.51.100.0/24"), netip.MustParseAddr("192.0.2.250"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.AddPath(apiutil.AddPathRequest{Paths: []*apiutil.Path{p}}); err != nil {
		t.Fatal(err)
	}
	return r
}

// routerRIB maps each prefix the router learned to its next hop.
func routerRIB(t *testing.T, r *server.BgpServer) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, family := range []bgppkt.Family{bgppkt.RF_IPv4_UC, bgppkt.RF_IPv6_UC} {
		err := r.ListPath(apiutil.ListPathRequest{TableType: api.TableType_TABLE_TYPE_GLOBAL, Family: family}, func(n bgppkt.NLRI, paths []*apiutil.Path) {
			for _, p := range paths {
				if p.PeerAddress.IsValid() && !p.PeerAddress.IsUnspecified() {
					out[prefixOf(n).String()] = nextHopOf(p).String()
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestASChangesLeaveNothingRunning: every change of AS or router ID
// restarts the speaker; 200 of them leave the goroutine count where one
// start left it (a restart that only stopped BGP would keep a whole
// server's goroutines per change).
func TestASChangesLeaveNothingRunning(t *testing.T) {
	s := New(fib.New(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer s.Close()
	cfgAS := func(asn uint32) *config.Config {
		return &config.Config{
			VLANs: []config.VLAN{{Name: "external", Interface: "1.1", SelfIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.201/24")}}},
			BGP:   &config.BGP{ASN: asn, RouterID: netip.MustParseAddr("192.0.2.201")},
		}
	}
	ctx := context.Background()
	if err := s.Apply(ctx, cfgAS(64443)); err != nil {
		t.Fatal(err)
	}
	settle := func() int {
		// Goroutines that end do so promptly; give them a moment.
		n := runtime.NumGoroutine()
		for range 50 {
			time.Sleep(20 * time.Millisecond)
			m := runtime.NumGoroutine()
			if m == n {
				break
			}
			n = m
		}
		return n
	}
	before := settle()
	for i := range 200 {
		if err := s.Apply(ctx, cfgAS(64443+uint32(i%2)+1)); err != nil {
			t.Fatal(err)
		}
	}
	after := settle()
	t.Logf("goroutines: %d after one start, %d after 200 AS changes", before, after)
	if after > before+10 {
		t.Fatalf("200 AS changes left %d goroutines more running", after-before)
	}
}
