package tmmapi_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/spklab/spklab/dataplane/config"
	"github.com/spklab/spklab/dataplane/tmmapi"
	"github.com/spklab/spklab/dataplane/tmmapi/tmmapitest"
	"github.com/spklab/spklab/dataplane/tmmapi/tmmv1"
	"github.com/spklab/spklab/internal/apicerts"
)

func sampleConfig(replica int) *config.Config {
	c := &config.Config{
		Replica: replica,
		VLANs: []config.VLAN{
			{Name: "external", Interface: "1.1", MTU: 1500, SelfIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.201/24")}},
			{Name: "egress", Interface: "1.2", MTU: 1500, Internal: true, SelfIPs: []netip.Prefix{netip.MustParsePrefix("198.18.100.201/24")}},
		},
		VirtualServers: []config.VirtualServer{{
			Name: "red/red-ingress", Address: netip.MustParseAddr("198.19.19.100"), Port: 80,
			Method: config.RoundRobin, IdleTimeout: 300,
		}},
	}
	c.Seal()
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestApplyReadBack(t *testing.T) {
	tmm := tmmapitest.Start(t)
	c := tmmapi.NewClient(tmm.Addr)
	defer c.Close()

	want := sampleConfig(1)
	v, err := c.Apply(ctx(t), want)
	if err != nil {
		t.Fatal(err)
	}
	if v != want.Version {
		t.Fatalf("TMM answered version %q, pushed %q", v, want.Version)
	}
	run, err := c.Running(ctx(t))
	if err != nil || run.Version != want.Version || run.Replica != 1 {
		t.Fatalf("Running = %+v, %v; want version %s replica 1", run, err, want.Version)
	}
	got, err := c.Config(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != want.Version || len(got.VirtualServers) != 1 || got.VirtualServers[0].Address != want.VirtualServers[0].Address {
		t.Fatalf("config read back = %+v", got)
	}
	st, err := c.Stats(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != want.Version || st.Replica != 1 {
		t.Fatalf("stats say version %q replica %d", st.Version, st.Replica)
	}
	routes, err := c.Routes(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var connected []string
	for _, r := range routes {
		if r.Source == "connected" {
			connected = append(connected, r.Prefix)
		}
	}
	if strings.Join(connected, ",") != "192.0.2.0/24,198.18.100.0/24" && strings.Join(connected, ",") != "198.18.100.0/24,192.0.2.0/24" {
		t.Fatalf("connected routes %v, want the two VLAN subnets (all: %+v)", connected, routes)
	}
	if _, err := c.Flows(ctx(t), 10); err != nil {
		t.Fatal(err)
	}
	if _, err := c.BGP(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if n := tmm.Applies(); n != 1 {
		t.Fatalf("%d ApplyConfig calls reached the TMM, want 1", n)
	}
}

func TestRefusedConfigKeepsTheRunningOne(t *testing.T) {
	tmm := tmmapitest.Start(t)
	c := tmmapi.NewClient(tmm.Addr)
	defer c.Close()
	good := sampleConfig(0)
	if _, err := c.Apply(ctx(t), good); err != nil {
		t.Fatal(err)
	}
	bad := sampleConfig(0)
	bad.VLANs[1].Interface = "1.3"
	bad.Seal()
	_, err := c.Apply(ctx(t), bad)
	if err == nil || !strings.Contains(err.Error(), "interface 1.3") || !strings.Contains(err.Error(), "FailedPrecondition") {
		t.Fatalf("pushing a VLAN on a missing interface: err = %v, want FailedPrecondition naming interface 1.3", err)
	}
	if v := tmm.Config().Version; v != good.Version {
		t.Fatalf("after a refused push the TMM runs %s, want the previous %s", v, good.Version)
	}
}

func TestUnknownFieldIsRefused(t *testing.T) {
	tmm := tmmapitest.Start(t)
	conn, err := grpc.NewClient("passthrough:///"+tmm.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = tmmv1.NewTMMClient(conn).ApplyConfig(ctx(t), &tmmv1.ApplyConfigRequest{ConfigJson: []byte(`{"replica":0,"vlanz":[]}`)})
	if err == nil || !strings.Contains(err.Error(), `unknown field "vlanz"`) || !strings.Contains(err.Error(), "InvalidArgument") {
		t.Fatalf("err = %v, want InvalidArgument naming the unknown field", err)
	}
	if tmm.Config().Replica != 0 || len(tmm.Config().VLANs) != 0 {
		t.Fatal("a refused document changed the running config")
	}
	// The kubelet's gRPC readiness probe asks the standard health service.
	h, err := healthpb.NewHealthClient(conn).Check(ctx(t), &healthpb.HealthCheckRequest{Service: tmmv1.TMM_ServiceDesc.ServiceName})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, %v; want SERVING", h, err)
	}
}

func TestUnreachableTMMNamesItsAddress(t *testing.T) {
	tmm := tmmapitest.Start(t)
	tmm.Stop()
	c := tmmapi.NewClient(tmm.Addr)
	defer c.Close()
	cctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := c.Apply(cctx, sampleConfig(0))
	if err == nil || !strings.Contains(err.Error(), tmm.Addr) {
		t.Fatalf("err = %v, want an error naming %s", err, tmm.Addr)
	}
	if err := tmm.Resume(); err != nil {
		t.Fatal(err)
	}
	// The client reconnects within its short backoff (at most a second).
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, err := c.Apply(ctx(t), sampleConfig(0))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("3 s after Resume: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestUnixSocket(t *testing.T) {
	// The netns lab serves the API on a unix socket; the client dials it.
	sock := filepath.Join(t.TempDir(), "tmm.sock")
	l, err := tmmapi.Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	// A stale socket file is replaced, not an error.
	l, err = tmmapi.Listen("unix:" + sock)
	if err != nil {
		t.Fatalf("listening over a stale socket: %v", err)
	}
	l.Close()
}

// TestForgedVersionRunsUnderItsContent: a config pushed with the version
// of another (the one the controller made) runs under the hash of what it
// says, so whoever compares versions sees it is not theirs.
func TestForgedVersionRunsUnderItsContent(t *testing.T) {
	tmm := tmmapitest.Start(t)
	c := tmmapi.NewClient(tmm.Addr)
	defer c.Close()
	legit := sampleConfig(0)
	forged := sampleConfig(0)
	forged.VirtualServers[0].Address = netip.MustParseAddr("198.19.19.66")
	forged.Version = legit.Version
	v, err := c.Apply(ctx(t), forged)
	if err != nil {
		t.Fatal(err)
	}
	content := *forged
	content.Seal()
	if v == legit.Version || v != content.Version {
		t.Fatalf("the forged config runs as version %s; want its content's %s, not the claimed %s", v, content.Version, legit.Version)
	}
	if run, err := c.Running(ctx(t)); err != nil || run.Version != content.Version {
		t.Fatalf("Running = %+v, %v; want %s", run, err, content.Version)
	}
}

// TestGetConfigNeverShowsPasswords: the BGP password a config carries is
// replaced in what GetConfig returns, and the placeholder cannot be pushed
// back as a password.
func TestGetConfigNeverShowsPasswords(t *testing.T) {
	tmm := tmmapitest.Start(t)
	c := tmmapi.NewClient(tmm.Addr)
	defer c.Close()
	cfg := sampleConfig(0)
	cfg.BGP = &config.BGP{ASN: 64443, RouterID: netip.MustParseAddr("192.0.2.201"), Neighbors: []config.Neighbor{{
		Address: netip.MustParseAddr("192.0.2.250"), ASN: 65500, Password: "s3cret-from-the-secret", IPv4: true,
		VLAN: "external", Local: netip.MustParseAddr("192.0.2.201"),
	}}}
	cfg.Seal()
	if _, err := c.Apply(ctx(t), cfg); err != nil {
		t.Fatal(err)
	}
	got, err := c.Config(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if p := got.BGP.Neighbors[0].Password; p != config.RedactedPassword {
		t.Fatalf("GetConfig shows the password as %q, want %q", p, config.RedactedPassword)
	}
	if got.Version != cfg.Version {
		t.Fatalf("GetConfig's version %s, want the running content's %s", got.Version, cfg.Version)
	}
	if _, err := c.Apply(ctx(t), got); err == nil || !strings.Contains(err.Error(), "placeholder") {
		t.Fatalf("pushing the redacted config back: err = %v, want a refusal naming the placeholder", err)
	}
}

// TestUnixSocketIsOwnersOnly: the standalone API socket is 0600, so only
// its owner can connect (and so push a config).
func TestUnixSocketIsOwnersOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tmm.sock")
	l, err := tmmapi.Listen("unix:" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Fatalf("socket mode %v, want 0600", perm)
	}
}

// TestMutualTLS: a TMM serving with WithTLS answers only the client whose
// certificate its CA made for client authentication: not a client in the
// clear, not one without a certificate, not one showing the server's own.
func TestMutualTLS(t *testing.T) {
	pair, err := apicerts.New(apicerts.Options{ServerName: "tmm-api.test", ClientName: "spk-controller", Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, err := apicerts.ServerConfig(pair.Server)
	if err != nil {
		t.Fatal(err)
	}
	tmm := tmmapitest.StartAt(t, "127.0.0.1:0", tmmapi.WithTLS(serverTLS))
	clientTLS, err := apicerts.ClientConfig(pair.Client, "tmm-api.test")
	if err != nil {
		t.Fatal(err)
	}
	ok := tmmapi.NewClient(tmm.Addr, tmmapi.WithTLS(clientTLS))
	defer ok.Close()
	if _, err := ok.Stats(ctx(t)); err != nil {
		t.Fatalf("the controller's client was refused: %v", err)
	}

	anon := clientTLS.Clone()
	anon.Certificates = nil
	thief, err := apicerts.ClientConfig(pair.Server, "tmm-api.test")
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*tmmapi.Client{
		"in the clear":               tmmapi.NewClient(tmm.Addr),
		"without a certificate":      tmmapi.NewClient(tmm.Addr, tmmapi.WithTLS(anon)),
		"with the server's own cert": tmmapi.NewClient(tmm.Addr, tmmapi.WithTLS(thief)),
	} {
		short, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if _, err := c.Stats(short); err == nil {
			t.Errorf("a client %s read the stats", name)
		}
		if _, err := c.Apply(short, sampleConfig(1)); err == nil {
			t.Errorf("a client %s pushed a config", name)
		}
		cancel()
		c.Close()
	}
}
