package tmmd_test

// These tests run the real spk-tmm in the netns lab (real kernel, real
// nginx and curl) and check docs/architecture.md, "Packet walks" and "What the suites check" end to end: ingress to both
// tenants' VIPs over IPv4 and IPv6, egress SNAT per tenant, RST for a VIP
// without endpoints, idle expiry, a bounded SYN flood, ARP/ND for self IPs.

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	vnetns "github.com/vishvananda/netns"

	"github.com/spklab/spklab/dataplane/config"
	"github.com/spklab/spklab/dataplane/packet"
	"github.com/spklab/spklab/dataplane/tmmapi"
	"github.com/spklab/spklab/internal/testenv"
	"github.com/spklab/spklab/lab/netns"
	"github.com/spklab/spklab/topology"
)

// flowLimit is the connection table size the lab's TMMs get here, small
// enough for a bounded SYN flood to reach it.
const flowLimit = 2000

type labRig struct {
	lab  *netns.Lab
	tmms []*tmmapi.Client
}

var (
	rigOnce sync.Once
	rig     *labRig
	rigErr  error
	rigDown func()
)

func TestMain(m *testing.M) {
	code := m.Run()
	if rigDown != nil {
		rigDown()
	}
	os.Exit(code)
}

// lab brings the netns lab up once for all tests of this file.
func lab(t *testing.T) *labRig {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "nginx", "nginx-light")
	testenv.RequireTool(t, "curl", "curl")
	testenv.RequireTool(t, "ethtool", "ethtool")
	rigOnce.Do(func() { rig, rigErr = startLab() })
	if rigErr != nil {
		t.Fatal(rigErr)
	}
	return rig
}

func startLab() (*labRig, error) {
	dir, err := os.MkdirTemp("", "spklab-tmmd-test")
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "spk-tmm")
	build := exec.Command("go", "build", "-o", bin, "github.com/spklab/spklab/cmd/spk-tmm")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building spk-tmm: %v\n%s", err, out)
	}
	topo := topology.Default()
	b := make([]byte, 2)
	rand.Read(b)
	topo.RenameCluster("tt" + hex.EncodeToString(b))
	l, err := netns.New(topo, netns.Options{
		RunDir: filepath.Join(dir, "run"), TMMBinary: bin,
		TMMArgs: []string{"--max-flows", fmt.Sprint(flowLimit)},
	})
	if err != nil {
		return nil, err
	}
	rigDown = func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := l.Down(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "netns lab down:", err)
		}
		os.RemoveAll(dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := l.Up(ctx); err != nil {
		return nil, err
	}
	r := &labRig{lab: l}
	for i := 0; i < topo.TMM.Replicas; i++ {
		c := tmmapi.NewClient("unix:" + filepath.Join(l.RunDir(), fmt.Sprintf("tmm%d.sock", i)))
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, err := c.Health(ctx); err == nil {
				break
			} else if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(l.RunDir(), fmt.Sprintf("tmm%d.log", i)))
				return nil, fmt.Errorf("TMM %d API did not answer: %v\nlog:\n%s", i, err, log)
			}
			time.Sleep(100 * time.Millisecond)
		}
		r.tmms = append(r.tmms, c)
	}
	// The router resolves every TMM before traffic starts, as BGP peering
	// does in the full lab: while one ECMP next hop is still unresolved,
	// Linux sends a new flow's first packets to another one, so a
	// connection's SYN and its next segments can meet different TMMs.
	for _, v := range topo.TMM.VLANs {
		for _, s := range v.SelfIPs {
			for _, a := range []string{s.IPv4, s.IPv6} {
				if a == "" || v.Internal {
					continue
				}
				if err := netns.Ping(ctx, l.RouterNS(), netip.MustParseAddr(a), 3*time.Second); err != nil {
					return nil, fmt.Errorf("router cannot reach TMM self IP %s: %w", a, err)
				}
			}
		}
	}
	return r, nil
}

func (r *labRig) exec(t *testing.T, ns string, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := r.lab.Exec(ctx, ns, argv...)
	if err != nil {
		t.Fatalf("%v\n%s", err, r.evidence())
	}
	return string(out)
}

// evidence is what a failing test prints: each TMM's counters and flows.
func (r *labRig) evidence() string {
	var b strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i, c := range r.tmms {
		s, err := c.Stats(ctx)
		if err != nil {
			fmt.Fprintf(&b, "tmm%d: %v\n", i, err)
			continue
		}
		fmt.Fprintf(&b, "tmm%d: flows %d drops %v\n", i, s.Flows.Active, s.Drops)
		for _, v := range s.VLANs {
			fmt.Fprintf(&b, "  vlan %s rx %d tx %d drops %v\n", v.Name, v.RxPackets, v.TxPackets, v.Drops)
		}
		for _, n := range s.Neighbors {
			fmt.Fprintf(&b, "  neighbor %s %s %s\n", n.IP, n.MAC, n.State)
		}
	}
	return b.String()
}

func curl(url string, extra ...string) []string {
	return append([]string{"curl", "-sS", "--max-time", "5", "-g"}, append(extra, url)...)
}

func TestSelfIPsAnswerARPAndNDP(t *testing.T) {
	r := lab(t)
	for i, addrs := range [][]string{{"192.0.2.201", "2001::192:0:2:201"}, {"192.0.2.202", "2001::192:0:2:202"}} {
		for _, a := range addrs {
			// ping reaches the TMM kernel through the exception path.
			if err := netns.Ping(context.Background(), r.lab.RouterNS(), netip.MustParseAddr(a), 2*time.Second); err != nil {
				t.Fatalf("ping %s from the router: %v\n%s", a, err, r.evidence())
			}
			neigh := r.exec(t, r.lab.RouterNS(), "ip", "neigh", "show", a)
			if !strings.Contains(neigh, "lladdr") {
				t.Errorf("tmm%d %s: router has no neighbor entry: %q", i, a, neigh)
			}
		}
	}
}

func TestIngressBothTenantsSpreadOverPods(t *testing.T) {
	r := lab(t)
	for _, tc := range []struct{ tenant, url string }{
		{"red", "http://198.19.19.100/"},
		{"blue", "http://198.20.20.100/"},
		{"red", "http://[2001::198:19:19:100]/"},
		{"blue", "http://[2001::198:20:20:100]/"},
	} {
		t.Run(tc.tenant+" "+tc.url, func(t *testing.T) {
			seen := map[string]int{}
			for i := 0; i < 12; i++ {
				body := r.exec(t, r.lab.ClientNS(), curl(tc.url)...)
				if !strings.HasPrefix(body, "pod "+tc.tenant+"-") {
					t.Fatalf("answer %q is not from a %s pod", body, tc.tenant)
				}
				seen[strings.Fields(body)[1]]++
			}
			if want := len(r.lab.TenantPods(tc.tenant)); len(seen) != want {
				t.Errorf("answers came from %v; want all %d pods", seen, want)
			}
		})
	}
}

func TestEgressShowsTheTenantsSNATAddress(t *testing.T) {
	r := lab(t)
	want := map[string][]string{"red": {"192.0.2.100", "192.0.2.101"}, "blue": {"192.0.2.110", "192.0.2.111"}}
	for tenant, addrs := range want {
		for _, ns := range r.lab.PodNamespaces(tenant) {
			for i := 0; i < 4; i++ {
				got := strings.TrimSpace(r.exec(t, ns, curl("http://198.51.100.100/txt")...))
				if got != addrs[0] && got != addrs[1] {
					t.Fatalf("%s pod %s left as %q; want one of %v (never another tenant's)", tenant, ns, got, addrs)
				}
			}
		}
	}
}

func TestVIPWithoutEndpointsResets(t *testing.T) {
	r := lab(t)
	ctx := context.Background()
	vip := netip.MustParseAddr("198.19.19.200")
	for _, c := range r.tmms {
		cfg, err := c.Config(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cfg.VirtualServers = append(cfg.VirtualServers, config.VirtualServer{Name: "test/empty", Address: vip, Port: 80, Method: config.RoundRobin, IdleTimeout: 300})
		cfg.Seal()
		if v, err := c.Apply(ctx, cfg); err != nil || v != cfg.Version {
			t.Fatalf("apply: version %q err %v", v, err)
		}
	}
	r.exec(t, r.lab.RouterNS(), "ip", "route", "replace", vip.String()+"/32", "via", "192.0.2.201")
	start := time.Now()
	out, err := r.lab.Exec(ctx, r.lab.ClientNS(), curl("http://198.19.19.200/")...)
	if err == nil || !strings.Contains(string(out), "(7)") {
		t.Fatalf("want curl's connect failure (7), got err %v: %s", err, out)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the RST took %v", d)
	}
	resets := uint64(0)
	for _, c := range r.tmms {
		s, err := c.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, vs := range s.VirtualServers {
			if vs.Name == "test/empty" {
				resets += vs.Resets
			}
		}
	}
	if resets == 0 {
		t.Errorf("no TMM counted a reset for the empty virtual server:\n%s", r.evidence())
	}
}

// inNS runs fn in the named namespace.
func inNS(t *testing.T, name string, fn func() error) {
	t.Helper()
	h, err := vnetns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := testenv.Do(h, fn); err != nil {
		t.Fatal(err)
	}
}

func flowsTo(t *testing.T, r *labRig, needle string) int {
	t.Helper()
	n := 0
	for _, c := range r.tmms {
		fl, err := c.Flows(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fl {
			if strings.Contains(f.Original, needle) {
				n++
			}
		}
	}
	return n
}

func TestIdleFlowExpires(t *testing.T) {
	r := lab(t)
	ctx := context.Background()
	const vip = "198.20.20.100"
	for _, c := range r.tmms {
		cfg, err := c.Config(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range cfg.VirtualServers {
			if cfg.VirtualServers[i].Address.String() == vip {
				cfg.VirtualServers[i].IdleTimeout = 2
			}
		}
		cfg.Seal()
		if _, err := c.Apply(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	var conn net.Conn
	inNS(t, r.lab.ClientNS(), func() (err error) {
		conn, err = net.DialTimeout("tcp", vip+":80", 3*time.Second)
		return err
	})
	defer conn.Close()
	local := conn.LocalAddr().String()
	if n := flowsTo(t, r, local); n != 1 {
		t.Fatalf("%d flows from %s, want 1", n, local)
	}
	deadline := time.Now().Add(6 * time.Second)
	for flowsTo(t, r, local) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the idle flow from %s is still there after the 2 s idle timeout", local)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// synFlood sends count SYNs to dst:80 from spoofed sources of the client
// network that do not exist (so no RST ever comes back), from the client
// namespace, as fast as it can but for at most limit.
func synFlood(t *testing.T, r *labRig, dst netip.Addr, count int, limit time.Duration) {
	t.Helper()
	inNS(t, r.lab.ClientNS(), func() error {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
		if err != nil {
			return fmt.Errorf("raw socket: %w", err)
		}
		defer syscall.Close(fd)
		to := &syscall.SockaddrInet4{Addr: dst.As4()}
		pkt := make([]byte, 40)
		stop := time.Now().Add(limit)
		for i := 0; i < count && time.Now().Before(stop); i++ {
			src := [4]byte{198, 51, 100, byte(20 + i%50)} // .20–.69: nobody
			buildSYN(pkt, src, dst.As4(), uint16(1024+i%60000), uint32(i))
			if err := syscall.Sendto(fd, pkt, 0, to); err != nil {
				return fmt.Errorf("sendto: %w", err)
			}
			if i%200 == 199 {
				time.Sleep(2 * time.Millisecond) // stay under the veths' backlog
			}
		}
		return nil
	})
}

func buildSYN(p []byte, src, dst [4]byte, sport uint16, seq uint32) {
	clear(p)
	p[0], p[8], p[9] = 0x45, 64, packet.ProtoTCP
	binary.BigEndian.PutUint16(p[2:], 40)
	copy(p[12:], src[:])
	copy(p[16:], dst[:])
	binary.BigEndian.PutUint16(p[10:], packet.Checksum(p[:20], 0))
	tcp := p[20:]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], 80)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	tcp[12], tcp[13] = 5<<4, packet.TCPSyn
	binary.BigEndian.PutUint16(tcp[14:], 1024)
	ph := packet.PseudoHeaderSum(netip.AddrFrom4(src), netip.AddrFrom4(dst), packet.ProtoTCP, len(tcp))
	binary.BigEndian.PutUint16(tcp[16:], packet.Checksum(tcp, ph))
}
