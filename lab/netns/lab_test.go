package netns

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/spklab/spklab/host/frr"
	"github.com/spklab/spklab/host/proc"
	"github.com/spklab/spklab/internal/netconv"
	"github.com/spklab/spklab/internal/testenv"
	"github.com/spklab/spklab/spk"
	"github.com/spklab/spklab/topology"
)

// newTestLab makes a lab of a built-in topology under a random cluster name
// and takes it down when the test ends, whatever happened.
func newTestLab(t *testing.T, base string, o Options) *Lab {
	t.Helper()
	topo := renamed(t, base, randomCluster(t))
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	l, err := New(topo, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := l.Down(ctx); err != nil {
			t.Errorf("cleanup Down: %v", err)
		}
	})
	return l
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// snapshotLab is the lab's state as Status reads it, as text.
func snapshotLab(t *testing.T, l *Lab) string {
	t.Helper()
	s, err := l.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := s.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestUpDown(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "ethtool", "ethtool")
	testenv.RequireTool(t, "curl", "curl")
	testenv.RequireTool(t, "nginx", "nginx-light")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l := newTestLab(t, topology.BuiltinDefault, Options{TMMBinary: fakeTMM(t), NoConvergenceWait: true})

	start := time.Now()
	if err := l.Up(ctx); err != nil {
		t.Fatalf("Up: %v", err)
	}
	t.Logf("Up took %s", time.Since(start))
	for _, ns := range l.Namespaces() {
		if _, err := os.Stat("/run/netns/" + ns); err != nil {
			t.Errorf("namespace %s: %v", ns, err)
		}
	}
	// The root namespace got nothing: no link or address of the lab.
	rootLinks, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range rootLinks {
		for _, own := range []string{"rt-", "cl-", "t0-", "t1-", "n1-", "cali", "vx"} {
			if strings.HasPrefix(e.Name(), own) {
				t.Errorf("root namespace has lab link %s", e.Name())
			}
		}
	}

	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	must("client → router v4", Ping(ctx, l.ClientNS(), netip.MustParseAddr("198.51.100.250"), 5*time.Second))
	must("client → router v6", Ping(ctx, l.ClientNS(), netip.MustParseAddr("2001::198:51:100:250"), 5*time.Second))
	must("client → router external v4 (forwarding path)", Ping(ctx, l.ClientNS(), netip.MustParseAddr("192.0.2.250"), 5*time.Second))
	must("router → client v4", Ping(ctx, l.RouterNS(), netip.MustParseAddr("198.51.100.100"), 5*time.Second))
	must("router → client v6", Ping(ctx, l.RouterNS(), netip.MustParseAddr("2001::198:51:100:100"), 5*time.Second))
	if err := Ping(ctx, l.ClientNS(), netip.MustParseAddr("198.51.100.99"), time.Second); err == nil {
		t.Error("ping of an address nobody has succeeded")
	}
	worker := l.Cluster() + "-worker"
	pods := l.Pods()
	if len(pods) != 4 {
		t.Fatalf("pods: %+v", pods)
	}
	for _, p := range pods {
		must("node → "+p.Name, Ping(ctx, l.NodeNS(p.Node), p.IP, 5*time.Second))
		must(p.Name+" → node", Ping(ctx, p.Namespace, netip.MustParseAddr("198.18.100.3"), 5*time.Second))
	}
	must("node → node over egress-net", Ping(ctx, l.NodeNS(worker), netip.MustParseAddr("198.18.100.4"), 5*time.Second))

	// Offloads are off on both ends of a veth.
	for _, end := range [][2]string{{l.ClientNS(), "eth0"}, {l.SwitchNS(), "cl-eth0"}} {
		out, err := l.Exec(ctx, end[0], "ethtool", "-k", end[1])
		if err != nil || !strings.Contains(string(out), "tcp-segmentation-offload: off") || !strings.Contains(string(out), "generic-receive-offload: off") {
			t.Errorf("offloads of %s in %s: %v\n%s", end[1], end[0], err, out)
		}
	}

	// The router runs FRR, which learns the VIPs from the TMMs (the fake
	// TMMs here speak no BGP; the e2e suites check the routes).
	if r, err := l.Router(); err != nil || r == nil || !r.Running() {
		t.Errorf("router FRR: %v, running %v", err, r != nil && r.Running())
	}
	vty, err := l.RouterVTY()
	if err != nil || vty == nil {
		t.Fatalf("router VTY: %v", err)
	}
	if rs, err := vty.BGPRoutes(ctx, frr.IPv4); err != nil || !slices.ContainsFunc(rs, func(r frr.BGPRoute) bool { return r.Prefix.String() == "198.51.100.0/24" }) {
		t.Errorf("router BGP table lacks its own 198.51.100.0/24: %+v %v", rs, err)
	}
	if _, err := os.Stat(l.ValuesPath()); err != nil {
		t.Errorf("values file for the TMMs: %v", err)
	}

	// HTTP: node → pod shows the pod; the client serves /txt.
	for _, p := range pods {
		out, err := l.Exec(ctx, l.NodeNS(p.Node), "curl", "-sS", "-i", "--max-time", "5", "http://"+p.IP.String()+"/")
		if err != nil {
			t.Errorf("node → %s HTTP: %v", p.Name, err)
			continue
		}
		body := "pod " + p.Name + " node " + p.Node + "\n"
		if !strings.Contains(string(out), "200 OK") || !strings.HasSuffix(string(out), body) || !strings.Contains(string(out), "X-Pod: "+p.Name) {
			t.Errorf("node → %s HTTP answer:\n%s", p.Name, out)
		}
		out, err = l.Exec(ctx, l.NodeNS(p.Node), "curl", "-sS", "--max-time", "5", "http://"+p.IP.String()+"/txt")
		if err != nil || string(out) != "198.18.100.3\n" {
			t.Errorf("node → %s /txt = %q, %v (want the node's egress address)", p.Name, out, err)
		}
	}
	out, err := l.Exec(ctx, l.RouterNS(), "curl", "-sS", "--max-time", "5", "http://[2001::198:51:100:100]/txt")
	if err != nil || string(out) != "2001::198:51:100:250\n" {
		t.Errorf("router → client /txt over IPv6 = %q, %v", out, err)
	}

	// The CR directory is what spk-tmm reads, and it checks clean.
	objs, err := spk.LoadDir(l.CRDir())
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if ps := objs.Check(); ps != nil {
		t.Errorf("CRs do not check: %v", ps)
	}
	endpoints := map[string][]string{}
	for _, se := range objs.Endpoints {
		for _, ep := range se.Endpoints {
			endpoints[se.Namespace+"/"+se.Name] = append(endpoints[se.Namespace+"/"+se.Name], ep.IP+"@"+ep.NodeAddress)
		}
	}
	for _, tenant := range []string{"red", "blue"} {
		var want []string
		for _, p := range l.TenantPods(tenant) {
			want = append(want, p.IP.String()+"@198.18.100.3")
		}
		if got := endpoints[tenant+"/nginx-app-svc"]; !slices.Equal(got, want) || len(want) != 2 {
			t.Errorf("StaticEndpoints %s: %q, want %q", tenant, got, want)
		}
	}
	if len(objs.Routes) != 0 {
		t.Errorf("static routes %+v: the TMMs learn the router's prefixes by BGP", objs.Routes)
	}

	// Each fake TMM runs in its namespace with the documented arguments.
	status, err := l.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !status.Up() {
		t.Errorf("Status says the lab is not up:\n%s", snapshotLab(t, l))
	}
	var pids []int
	frrRunning := false
	for _, ns := range status.Namespaces {
		for _, p := range ns.Processes {
			if p.Name == "frr" {
				frrRunning = p.Running && ns.Name == l.RouterNS()
				continue
			}
			pids = append(pids, p.PID)
		}
	}
	if len(pids) != 7 || !frrRunning { // client, four pods, two TMMs; FRR in the router
		t.Errorf("processes %v (want 7), FRR running in the router %v", pids, frrRunning)
	}
	for i := range 2 {
		args, err := os.ReadFile(filepath.Join(l.RunDir(), "tmm"+strconv.Itoa(i)+".log"))
		want := "--config " + l.CRDir() + " --replica " + strconv.Itoa(i) + " --interfaces net1,net2 --api unix:" +
			filepath.Join(l.RunDir(), "tmm"+strconv.Itoa(i)+".sock")
		if err != nil || !strings.Contains(string(args), want) {
			t.Errorf("tmm%d arguments %q (%v), want %q", i, args, err, want)
		}
	}

	before := snapshotLab(t, l)
	t.Logf("status after Up:\n%s", before)
	if err := l.Up(ctx); err != nil {
		t.Fatalf("second Up: %v", err)
	}
	if after := snapshotLab(t, l); after != before {
		t.Errorf("second Up changed the lab:\n%s\n---\n%s", before, after)
	}

	// A process the lab did not start (no pid file) inside a lab namespace.
	stray, err := proc.Start([]string{"ip", "netns", "exec", l.NodeNS(worker), "sleep", "600"}, filepath.Join(t.TempDir(), "stray.log"))
	if err != nil {
		t.Fatal(err)
	}
	pids = append(pids, stray)
	inodes := map[uint64]bool{}
	for _, ns := range l.Namespaces() {
		ino, err := namespaceInode(ns)
		if err != nil {
			t.Fatal(err)
		}
		inodes[ino] = true
	}
	// ip netns exec enters the namespace after it starts: wait until the
	// stray really is inside, or Down has nothing to find yet.
	deadline := time.Now().Add(5 * time.Second)
	for {
		in, err := proc.InNetns(inodes)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := in[stray]; ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stray pid %d never entered the lab namespace", stray)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := l.Down(ctx); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if left, err := proc.InNetns(inodes); err != nil || len(left) != 0 {
		t.Errorf("Down left processes in the lab's namespaces: %v %v", left, err)
	}
	left, err := listNamespaces(l.Prefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("Down left namespaces %q", left)
	}
	if _, err := os.Stat(l.RunDir()); !os.IsNotExist(err) {
		t.Errorf("Down left the run dir %s (%v)", l.RunDir(), err)
	}
	for _, pid := range pids {
		if proc.Alive(pid) {
			t.Errorf("Down left pid %d running", pid)
		}
	}
	if err := l.Down(ctx); err != nil {
		t.Errorf("Down of a lab that is gone: %v", err)
	}
}

// fakeTMM writes a stand-in for spk-tmm: it records its arguments in the
// --log-file it is given and sleeps, as a TMM that runs would.
func fakeTMM(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "spk-tmm")
	script := `#!/bin/sh
log=/dev/null
prev=
for a in "$@"; do
	[ "$prev" = --log-file ] && log=$a
	prev=$a
done
echo "fake spk-tmm $*" > "$log"
exec sleep 600
`
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTaggedVLANNeeds8021Q: the seed's router VLAN 3334 either comes up (a
// kernel with 802.1Q) or fails naming the VLAN and the reason.
func TestTaggedVLANNeeds8021Q(t *testing.T) {
	testenv.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := newTestLab(t, topology.BuiltinSeedExample, Options{Offloads: true, TMMBinary: fakeTMM(t), NoConvergenceWait: true})
	err := l.Up(ctx)
	if err == nil {
		s, serr := l.Status(ctx)
		if serr != nil {
			t.Fatal(serr)
		}
		for _, ns := range s.Namespaces {
			if ns.Role == RoleRouter {
				for _, lk := range ns.Links {
					if lk.Name == "eth1.3334" && lk.Type == "vlan" {
						return
					}
				}
			}
		}
		t.Fatal("Up succeeded without the router's eth1.3334")
	}
	t.Logf("Up: %v", err)
	for _, want := range []string{"VLAN 3334", "802.1Q", "eth1.3334"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
}

// checkStaticRouter checks the router's static routes of a lab whose data
// plane speaks no BGP: each VIP to both TMMs (ECMP), each SNAT address to
// its owner.
func checkStaticRouter(t *testing.T, l *Lab) {
	t.Helper()
	rh, err := handle(l.RouterNS())
	if err != nil {
		t.Fatal(err)
	}
	defer rh.Close()
	for dst, want := range map[string][]string{
		"198.19.19.100/32":        {"192.0.2.201", "192.0.2.202"},
		"2001::198:20:20:100/128": {"2001::192:0:2:201", "2001::192:0:2:202"},
		"192.0.2.101/32":          {"192.0.2.202"},
	} {
		routes, err := rh.RouteListFiltered(0, &netlink.Route{Dst: netconv.IPNet(netip.MustParsePrefix(dst))}, netlink.RT_FILTER_DST)
		if err != nil || len(routes) != 1 {
			t.Errorf("router routes to %s: %v %v", dst, routes, err)
			continue
		}
		var gws []string
		if routes[0].Gw != nil {
			gws = append(gws, routes[0].Gw.String())
		}
		for _, nh := range routes[0].MultiPath {
			gws = append(gws, nh.Gw.String())
		}
		slices.Sort(gws)
		if !slices.Equal(gws, want) {
			t.Errorf("router route %s via %v, want %v", dst, gws, want)
		}
	}

}
