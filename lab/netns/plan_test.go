package netns

import (
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spklab/spklab/topology"
)

// renamed returns a built-in topology with its cluster (and so its node
// names) renamed, so a test lab never meets a developer's running one.
func renamed(t *testing.T, base, cluster string) *topology.Topology {
	t.Helper()
	topo, err := topology.Builtin(base)
	if err != nil {
		t.Fatal(err)
	}
	topo.RenameCluster(cluster)
	if ps := topology.Validate(topo); ps != nil {
		t.Fatalf("renamed topology is invalid: %v", ps)
	}
	return topo
}

func randomCluster(t *testing.T) string {
	b := make([]byte, 2)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "spkt" + hex.EncodeToString(b)
}

func TestPlanDefault(t *testing.T) {
	p, err := makePlan(topology.Default(), true)
	if err != nil {
		t.Fatal(err)
	}
	var nss []string
	for _, h := range p.hosts {
		nss = append(nss, h.ns)
	}
	want := []string{
		"spklab-bnk-router", "spklab-bnk-client", "spklab-bnk-tmm0", "spklab-bnk-tmm1",
		"spklab-bnk-bnk-worker", "spklab-bnk-bnk-worker2", "spklab-bnk-bnk-worker3",
		"spklab-bnk-pod-red-0", "spklab-bnk-pod-red-1", "spklab-bnk-pod-blue-0", "spklab-bnk-pod-blue-1",
	}
	if p.sw != "spklab-bnk-sw" || !slices.Equal(nss, want) {
		t.Errorf("namespaces: %s %q", p.sw, nss)
	}
	var bridges []string
	for _, b := range p.bridges {
		bridges = append(bridges, b.name)
	}
	if !slices.Equal(bridges, []string{"client-net", "external-net", "egress-net"}) {
		t.Errorf("bridges %q", bridges)
	}

	router := p.hosts[0]
	if len(router.links) != 2 || router.links[0].name != "eth0" || router.links[0].bridge != "client-net" ||
		router.links[1].name != "eth1" || router.links[1].bridge != "external-net" {
		t.Fatalf("router links %+v", router.links)
	}
	if got := router.links[1].addrs; !slices.Equal(got, []netip.Prefix{netip.MustParsePrefix("192.0.2.250/24"), netip.MustParsePrefix("2001::192:0:2:250/112")}) {
		t.Errorf("router external addresses %v", got)
	}
	var routes []string
	for _, r := range router.routes {
		routes = append(routes, r.String())
	}
	wantRoutes := []string{
		"198.19.19.100/32 via 192.0.2.201 via 192.0.2.202",
		"2001::198:19:19:100/128 via 2001::192:0:2:201 via 2001::192:0:2:202",
		"192.0.2.100/32 via 192.0.2.201", "2001::192:0:2:100/128 via 2001::192:0:2:201",
		"192.0.2.101/32 via 192.0.2.202", "2001::192:0:2:101/128 via 2001::192:0:2:202",
		"198.20.20.100/32 via 192.0.2.201 via 192.0.2.202",
		"2001::198:20:20:100/128 via 2001::192:0:2:201 via 2001::192:0:2:202",
		"192.0.2.110/32 via 192.0.2.201", "2001::192:0:2:110/128 via 2001::192:0:2:201",
		"192.0.2.111/32 via 192.0.2.202", "2001::192:0:2:111/128 via 2001::192:0:2:202",
	}
	if !slices.Equal(routes, wantRoutes) {
		t.Errorf("router routes:\n got %q\nwant %q", routes, wantRoutes)
	}
	if !slices.Contains(router.sysctls, sysctl{"net/ipv6/fib_multipath_hash_policy", "1"}) {
		t.Errorf("router sysctls %v", router.sysctls)
	}

	client := p.hosts[1]
	if len(client.routes) != 2 || client.routes[0].String() != "0.0.0.0/0 via 198.51.100.250" || client.routes[1].String() != "::/0 via 2001::198:51:100:250" {
		t.Errorf("client routes %v", client.routes)
	}

	tmm1 := p.hosts[3]
	if len(tmm1.links) != 2 || tmm1.links[0].name != "net1" || tmm1.links[0].bridge != "external-net" || tmm1.links[0].peer != "t1-net1" ||
		tmm1.links[1].name != "net2" || tmm1.links[1].bridge != "egress-net" || len(tmm1.links[0].addrs) != 0 {
		t.Errorf("tmm1 links %+v", tmm1.links)
	}
	if len(p.tmms) != 2 || !slices.Equal(p.tmms[1].interfaces, []string{"net1", "net2"}) || p.tmms[1].replica != 1 {
		t.Errorf("tmm processes %+v", p.tmms)
	}

	worker := p.hosts[4]
	if len(worker.links) != 1 || worker.links[0].name != "eth2" || worker.links[0].bridge != "egress-net" ||
		!slices.Equal(worker.links[0].addrs, []netip.Prefix{netip.MustParsePrefix("198.18.100.3/24"), netip.MustParsePrefix("2001::198:18:100:3/112")}) {
		t.Errorf("bnk-worker links %+v", worker.links)
	}

	// All four pods land on bnk-worker (worker2/3 carry the TMM taint),
	// in its block 10.244.1.0/24.
	var pods []string
	for _, pod := range p.pods {
		pods = append(pods, pod.Name+"@"+pod.Node+"="+pod.IP.String())
		if !strings.HasPrefix(pod.HostLink, "cali") || len(pod.HostLink) != 12 {
			t.Errorf("pod %s host link %q", pod.Name, pod.HostLink)
		}
	}
	wantPods := []string{"red-0@bnk-worker=10.244.1.1", "red-1@bnk-worker=10.244.1.2", "blue-0@bnk-worker=10.244.1.3", "blue-1@bnk-worker=10.244.1.4"}
	if !slices.Equal(pods, wantPods) {
		t.Errorf("pods %q", pods)
	}

	tn := p.nodes["spklab-bnk-bnk-worker"]
	if tn == nil || len(p.nodes) != 1 {
		t.Fatalf("tenant egress nodes %v", p.nodes)
	}
	if tn.Underlay != "eth2" || tn.Local.String() != "198.18.100.3" || len(tn.Tenants) != 2 ||
		tn.Tenants[0].VNI != 100 || tn.Tenants[1].VNI != 200 ||
		!slices.Equal(tn.Tenants[0].Pods, []netip.Addr{netip.MustParseAddr("10.244.1.1"), netip.MustParseAddr("10.244.1.2")}) ||
		!slices.Equal(tn.Tenants[0].TMMs, []netip.Addr{netip.MustParseAddr("198.18.100.201"), netip.MustParseAddr("198.18.100.202")}) {
		t.Errorf("tenant egress %+v", tn)
	}
	if !slices.Contains(tn.Exempt, netip.MustParsePrefix("10.96.0.0/16")) || !slices.Contains(tn.Exempt, netip.MustParsePrefix("2001::198:18:100:0/112")) {
		t.Errorf("exempt %v", tn.Exempt)
	}
}

func TestPlanSpreadsPodsOverUntaintedWorkers(t *testing.T) {
	topo := topology.Default()
	topo.Cluster.TMMNodes = []string{"bnk-worker3"}
	p, err := makePlan(topo, true)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, pod := range p.pods {
		got = append(got, pod.Name+"@"+pod.Node+"="+pod.IP.String())
	}
	want := []string{"red-0@bnk-worker=10.244.1.1", "red-1@bnk-worker2=10.244.2.1", "blue-0@bnk-worker=10.244.1.2", "blue-1@bnk-worker2=10.244.2.2"}
	if !slices.Equal(got, want) {
		t.Errorf("pods %q", got)
	}
	if len(p.nodes) != 2 {
		t.Errorf("egress on %d nodes, want 2", len(p.nodes))
	}
}

func TestPlanErrors(t *testing.T) {
	topo := topology.Default()
	topo.Cluster.TMMNodes = []string{"bnk-worker", "bnk-worker2", "bnk-worker3"}
	if _, err := makePlan(topo, true); err == nil || !strings.Contains(err.Error(), "no worker without the TMM taint") {
		t.Errorf("every worker tainted: %v", err)
	}
	topo = topology.Default()
	topo.Cluster.PodSubnet = "10.244.0.0/25"
	if _, err := makePlan(topo, true); err == nil || !strings.Contains(err.Error(), "pod subnet") {
		t.Errorf("small pod subnet: %v", err)
	}
	// The seed's tagged VLANs plan fine (the kernel decides at Up).
	seed, _ := topology.Builtin(topology.BuiltinSeedExample)
	p, err := makePlan(seed, true)
	if err != nil {
		t.Fatal(err)
	}
	if v := p.hosts[0].links[1].vlans; len(v) != 1 || v[0].name != "eth1.3334" || v[0].tag != 3334 {
		t.Errorf("router VLAN links %+v", v)
	}
	if tn := p.nodes["spklab-bnk-bnk-worker"]; tn == nil || tn.Underlay != "eth2.3335" || tn.Local.String() != "10.20.20.3" {
		t.Errorf("seed egress %+v", tn)
	}
}

func TestCRObjects(t *testing.T) {
	topo := topology.Default()
	p, err := makePlan(topo, true)
	if err != nil {
		t.Fatal(err)
	}
	base, extra, err := crObjects(topo, p.pods, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(base.VLANs) != 2 || len(base.Ingresses) != 2 {
		t.Errorf("base CRs %d VLANs %d ingresses", len(base.VLANs), len(base.Ingresses))
	}
	if len(extra.Endpoints) != 2 {
		t.Fatalf("endpoints %+v", extra.Endpoints)
	}
	red := extra.Endpoints[0]
	if red.Namespace != "red" || red.Name != "nginx-app-svc" || len(red.Endpoints) != 2 ||
		red.Endpoints[0].IP != "10.244.1.1" || red.Endpoints[0].Port != 80 || red.Endpoints[0].Node != "bnk-worker" || red.Endpoints[0].NodeAddress != "198.18.100.3" {
		t.Errorf("red endpoints %+v", red)
	}
	var routes []string
	for _, r := range extra.Routes {
		routes = append(routes, r.Spec.Destination+"/"+itoa(int(r.Spec.PrefixLen))+" via "+r.Spec.Gateway)
	}
	if want := []string{"198.51.100.0/24 via 192.0.2.250", "2001::198:51:100:0/112 via 2001::192:0:2:250"}; !slices.Equal(routes, want) {
		t.Errorf("static routes %q", routes)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestUpRefusesAHostWithoutItsPrograms: on a host without FRR's reload
// script (or any other program the lab runs), Up names the Debian package
// and makes nothing; no root needed, since the check comes first.
func TestUpRefusesAHostWithoutItsPrograms(t *testing.T) {
	topo := renamed(t, topology.BuiltinDefault, randomCluster(t))
	runDir := filepath.Join(t.TempDir(), "run")
	l, err := New(topo, Options{RunDir: runDir, TMMBinary: "/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	err = l.Up(t.Context())
	if err == nil || !strings.Contains(err.Error(), "the netns lab needs") || !strings.Contains(err.Error(), "apt-get install") ||
		!strings.Contains(err.Error(), "nginx-light") {
		t.Fatalf("Up on a host without nginx, vtysh, ip: %v, want a refusal naming the packages", err)
	}
	if _, serr := os.Stat(runDir); !os.IsNotExist(serr) {
		t.Errorf("the refused Up made its run dir (%v)", serr)
	}
}
