package netns

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spklab/spklab/internal/testenv"
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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l := newTestLab(t, topology.BuiltinDefault, Options{})

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

	before := snapshotLab(t, l)
	t.Logf("status after Up:\n%s", before)
	if err := l.Up(ctx); err != nil {
		t.Fatalf("second Up: %v", err)
	}
	if after := snapshotLab(t, l); after != before {
		t.Errorf("second Up changed the lab:\n%s\n---\n%s", before, after)
	}

	if err := l.Down(ctx); err != nil {
		t.Fatalf("Down: %v", err)
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
}

// TestTaggedVLANNeeds8021Q: the seed's router VLAN 3334 either comes up (a
// kernel with 802.1Q) or fails naming the VLAN and the reason.
func TestTaggedVLANNeeds8021Q(t *testing.T) {
	testenv.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := newTestLab(t, topology.BuiltinSeedExample, Options{Offloads: true})
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
