package netns

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spklab/spklab/internal/testenv"
	"github.com/spklab/spklab/spk"
	"github.com/spklab/spklab/topology"
)

// extraVS adds a virtual server on the first tenant's IPv4 VIP at port
// 8080 whose only member is that tenant's first pod (port 80).
func extraVS(lab *spk.Objects) (*spk.Objects, error) {
	in := lab.Ingresses[0]
	var eps spk.StaticEndpoints
	for _, e := range lab.Endpoints {
		if e.Namespace == in.Namespace && e.Name == in.Service.Name {
			eps = e
		}
	}
	meta := metav1.ObjectMeta{Name: "extra-8080", Namespace: in.Namespace}
	in.ObjectMeta = meta
	in.Service = spk.ServiceRef{Name: "extra-8080", Port: 80}
	in.Spec.DestinationPort = 8080
	in.Spec.IPv6DestinationAddress = ""
	eps.ObjectMeta = meta
	eps.Endpoints = eps.Endpoints[:1]
	return &spk.Objects{Ingresses: []spk.F5SPKIngressTCP{in}, Endpoints: []spk.StaticEndpoints{eps}}, nil
}

func TestKernelPlanAndRuleset(t *testing.T) {
	l, err := New(topology.Default(), Options{Dataplane: DataplaneKernel, ExtraCRs: extraVS})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.plan.tmms) != 0 {
		t.Errorf("the kernel data plane plans spk-tmm processes: %+v", l.plan.tmms)
	}
	for _, p := range l.processes() {
		if p.name == TMMBinaryName {
			t.Errorf("process list has %s in %s", p.name, p.ns)
		}
	}
	h := l.plan.hosts[2] // router, client, tmm0
	if h.role != TMMRole(0) {
		t.Fatalf("host 2 is %s", h.role)
	}
	got := map[string]string{}
	for _, lk := range h.links {
		var s []string
		for _, a := range lk.addrs {
			s = append(s, a.String())
		}
		got[lk.name] = strings.Join(s, " ")
	}
	if got["net1"] != "192.0.2.201/24 2001::192:0:2:201/112" || got["net2"] != "198.18.100.201/24 2001::198:18:100:201/112" {
		t.Errorf("tmm0 addresses %q", got)
	}
	routes := map[string]string{}
	for _, r := range h.routes {
		routes[r.dst.String()] = r.String()
	}
	for _, p := range l.Pods() {
		if want := p.IP.String() + "/32 via 198.18.100.3"; routes[p.IP.String()+"/32"] != want {
			t.Errorf("route to pod %s: %q, want %q", p.Name, routes[p.IP.String()+"/32"], want)
		}
	}
	if r := routes["198.51.100.0/24"]; r != "198.51.100.0/24 via 192.0.2.250" {
		t.Errorf("route to the client network: %q", r)
	}
	for _, s := range h.sysctls {
		if strings.HasSuffix(s.key, "arp_ignore") && s.value != "0" || s.key == "net/ipv4/ip_forward" && s.value != "1" {
			t.Errorf("sysctl %s=%s", s.key, s.value)
		}
	}

	rs := l.KernelRuleset(1)
	red := l.TenantPods("red")
	for _, want := range []string{
		`iifname { "net1" } ip daddr 198.19.19.100 tcp dport 80 dnat ip addr . port to numgen inc mod 2 map { 0 : ` + red[0].IP.String() + ` . 80, 1 : ` + red[1].IP.String() + ` . 80 }`,
		`ip daddr 198.19.19.100 tcp dport 8080 dnat ip addr . port to numgen inc mod 1 map { 0 : ` + red[0].IP.String() + ` . 80 } comment "red/extra-8080"`,
		`oifname "net2" ct status dnat ip daddr {`,
		`snat ip to 198.18.100.202 comment "automap"`,
		"# blue/blue-ingress [2001::198:20:20:100]:80: no ip6 member the kernel can reach without NAT46",
	} {
		if !strings.Contains(rs, want) {
			t.Errorf("tmm1 ruleset lacks %q:\n%s", want, rs)
		}
	}
	if l.KernelRuleset(0) == rs {
		t.Error("both replicas got the same ruleset (each SNATs to its own self IP)")
	}

	// spk-tmm labs have no ruleset; a bad data plane name is refused.
	if l2, err := New(topology.Default(), Options{}); err != nil || l2.KernelRuleset(0) != "" || l2.Dataplane() != DataplaneTMM {
		t.Errorf("spk-tmm lab: %v", err)
	}
	if _, err := New(topology.Default(), Options{Dataplane: "dpdk"}); err == nil || !strings.Contains(err.Error(), "kernel") {
		t.Errorf("data plane dpdk: %v", err)
	}
	// Extra CRs that do not check with the lab's are refused by New.
	dup := func(lab *spk.Objects) (*spk.Objects, error) {
		return &spk.Objects{Ingresses: lab.Ingresses[:1]}, nil
	}
	if _, err := New(topology.Default(), Options{ExtraCRs: dup}); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Errorf("duplicate VIP in extra CRs: %v", err)
	}
}

// TestKernelDataplane brings the lab up with the kernel data plane and
// curls both tenants' VIPs from the client.
func TestKernelDataplane(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "ethtool", "ethtool")
	testenv.RequireTool(t, "curl", "curl")
	testenv.RequireTool(t, "nginx", "nginx-light")
	testenv.RequireTool(t, "nft", "nftables")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l := newTestLab(t, topology.BuiltinDefault, Options{Dataplane: DataplaneKernel, ExtraCRs: extraVS, TMMBinary: "/nonexistent/spk-tmm"})
	if err := l.Up(ctx); err != nil {
		t.Fatalf("Up: %v", err)
	}
	checkStaticRouter(t, l)
	steps := l.StepTimes()
	if len(steps) != 11 || steps[len(steps)-2].Step != "kernel data plane" {
		t.Errorf("step times %+v", steps)
	}
	if _, err := os.Stat(filepath.Join(l.CRDir(), ExtraCRFile)); err != nil {
		t.Errorf("extra CRs file: %v", err)
	}
	// The router reaches each replica's self IP (the kernel answers ARP).
	for _, a := range []string{"192.0.2.201", "192.0.2.202", "2001::192:0:2:202"} {
		if err := Ping(ctx, l.RouterNS(), netip.MustParseAddr(a), 5*time.Second); err != nil {
			t.Errorf("router → TMM %s: %v", a, err)
		}
	}
	curl := func(url string) string {
		t.Helper()
		out, err := l.Exec(ctx, l.ClientNS(), "curl", "-sS", "-i", "--max-time", "5", url)
		if err != nil {
			t.Fatalf("%v", err)
		}
		return strings.ReplaceAll(string(out), "\r", "")
	}
	for _, tc := range []struct{ tenant, url string }{{"red", "http://198.19.19.100/"}, {"blue", "http://198.20.20.100/"}} {
		seen := map[string]bool{}
		for range 8 {
			out := curl(tc.url)
			if !strings.HasPrefix(out, "HTTP/1.1 200 OK") || !strings.Contains(out, "X-Pod: "+tc.tenant+"-") || !strings.Contains(out, "\npod "+tc.tenant+"-") {
				t.Fatalf("%s answered:\n%s", tc.url, out)
			}
			_, body, _ := strings.Cut(out, "\n\n")
			seen[strings.Fields(body)[1]] = true
		}
		if len(seen) != len(l.TenantPods(tc.tenant)) {
			t.Errorf("%s: answers from %v, want every %s pod (round robin)", tc.url, seen, tc.tenant)
		}
	}
	red0 := l.TenantPods("red")[0].Name
	for range 4 {
		if out := curl("http://198.19.19.100:8080/"); !strings.Contains(out, "X-Pod: "+red0+"\n") {
			t.Errorf("extra VIP :8080 answered, want only %s:\n%s", red0, out)
		}
	}
	// The pods see the replica's internal self IP (automap SNAT).
	if out := curl("http://198.19.19.100/txt"); !strings.HasSuffix(out, "\n198.18.100.201\n") && !strings.HasSuffix(out, "\n198.18.100.202\n") {
		t.Errorf("pod saw the client as:\n%s", out)
	}
	s, err := l.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Up() {
		t.Errorf("Status says the lab is not up:\n%s", snapshotLab(t, l))
	}
	out, err := l.Exec(ctx, l.TMMNS(0), "nft", "list", "table", "inet", KernelTable)
	if err != nil || !strings.Contains(string(out), "numgen inc mod 2") {
		t.Errorf("nft list: %v\n%s", err, out)
	}
	if out, err := l.Exec(ctx, l.TMMNS(1), "cat", "/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_time_wait"); err != nil || string(out) != "2\n" {
		t.Errorf("conntrack TIME_WAIT timeout %q, %v; want spk-tmm's 2 s", out, err)
	}
	before := snapshotLab(t, l)
	if err := l.Up(ctx); err != nil {
		t.Fatalf("second Up: %v", err)
	}
	if after := snapshotLab(t, l); after != before {
		t.Errorf("second Up changed the lab:\n%s\n---\n%s", before, after)
	}
	if out := curl("http://198.20.20.100/"); !strings.Contains(out, "200 OK") {
		t.Errorf("after the second Up:\n%s", out)
	}
}
