package spkimages

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spklab/spklab/host/docker"
	"github.com/spklab/spklab/images"
	"github.com/spklab/spklab/internal/testenv"
	"github.com/spklab/spklab/topology"
	"github.com/spklab/spklab/topology/render"
)

// TestImages builds the lab's own images with the real dockerd (only what
// is missing or stale: a cold run takes minutes, a warm one seconds), runs
// each of them for what it is for, rebuilds nothing when nothing changed,
// and survives save → remove → load.
func TestImages(t *testing.T) {
	testenv.RequireRoot(t)
	ctx := t.Context()
	dc, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := dc.Ping(pctx); err != nil {
		t.Fatalf("dockerd must be running (CI starts it): %v", err)
	}
	var log bytes.Buffer
	m := &images.Manager{Docker: dc, Log: slog.New(slog.NewTextHandler(&log, nil))}
	imgs, err := Images(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ref := map[string]string{}
	for _, img := range imgs {
		ref[img.Name] = img.Ref
	}

	start := time.Now()
	res, err := m.BuildMissing(ctx, imgs, nil)
	t.Logf("first build (%v):\n%s", time.Since(start).Round(time.Second), log.String())
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, r := range res {
		ids[r.Name] = r.ID
	}
	sizes(t, m, imgs)

	t.Run("no-change rebuild", func(t *testing.T) {
		log.Reset()
		start := time.Now()
		res, err := m.BuildMissing(ctx, imgs, nil)
		took := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Built || r.ID != ids[r.Name] {
				t.Errorf("%s rebuilt without a change (%s → %s)", r.Name, ids[r.Name], r.ID)
			}
		}
		if strings.Contains(log.String(), "building image") || strings.Count(log.String(), "image up to date") != len(imgs) {
			t.Errorf("log:\n%s", log.String())
		}
		t.Logf("no-change build of %d images: %v", len(imgs), took.Round(10*time.Millisecond))
	})

	t.Run("client serves /txt with the caller's address", func(t *testing.T) {
		netName := labNetwork(t, dc)
		client := startContainer(t, dc, docker.ContainerSpec{Name: netName + "-client", Image: ref[Client], Network: netName,
			IP: netip.MustParseAddr("198.51.100.100"), CapAdd: []string{"NET_ADMIN"}, Hostname: "infra-client",
			Env: []string{"SPKLAB_GATEWAY_V4=198.51.100.250", "SPKLAB_NODE=node-7"}})
		curl := func(ip, path string) string {
			r, err := dc.Run(ctx, docker.ContainerSpec{Image: ref[Client], Network: netName, IP: netip.MustParseAddr(ip),
				Cmd: []string{"curl", "-sS", "--retry", "20", "--retry-connrefused", "--retry-delay", "1", "http://198.51.100.100" + path}})
			if err != nil || r.ExitCode != 0 {
				t.Fatalf("curl %s from %s: %v exit %d: %s", path, ip, err, r.ExitCode, r.Output)
			}
			return r.Output
		}
		for _, ip := range []string{"198.51.100.23", "198.51.100.42"} {
			if got := curl(ip, "/txt"); got != ip+"\n" {
				t.Errorf("/txt from %s answered %q", ip, got)
			}
		}
		// As the netns lab's pods: the host name (a pod's name) and the node
		// the entrypoint filled in.
		if got := curl("198.51.100.24", "/"); got != "pod infra-client node node-7\n" {
			t.Errorf("/ answered %q, want %q", got, "pod infra-client node node-7\n")
		}
		// The entrypoint routed through the lab router instead of docker's gateway.
		r, err := dc.Exec(ctx, client, "ip", "-4", "route", "show", "default")
		if err != nil || !strings.Contains(r.Output, "default via 198.51.100.250") {
			t.Errorf("client default route: %v %q", err, r.Output)
		}
	})

	t.Run("router runs FRR with the topology's config", func(t *testing.T) {
		r, err := dc.Run(ctx, docker.ContainerSpec{Image: ref[FRR], Entrypoint: []string{"/usr/lib/frr/zebra"}, Cmd: []string{"--version"}})
		if err != nil || r.ExitCode != 0 || !strings.Contains(r.Output, "zebra version 8.4") {
			t.Fatalf("zebra --version: %v exit %d: %s", err, r.ExitCode, r.Output)
		}
		topo, err := topology.Builtin("default")
		if err != nil {
			t.Fatal(err)
		}
		files, err := render.FRRFiles(topo)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		os.Chmod(dir, 0o755) // FRR's daemons run as user frr
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, f.Mode); err != nil {
				t.Fatal(err)
			}
		}
		netName := labNetwork(t, dc)
		// As the compose file runs it (capabilities, sysctls, /etc/frr).
		router := startContainer(t, dc, docker.ContainerSpec{Name: netName + "-frr", Image: ref[FRR], Network: netName,
			IP: netip.MustParseAddr("198.51.100.250"), Hostname: "infra-frr-1", CapAdd: []string{"NET_ADMIN", "NET_RAW", "SYS_ADMIN"},
			Binds: []string{dir + ":/etc/frr"},
			Sysctls: map[string]string{"net.ipv4.ip_forward": "1", "net.ipv4.fib_multipath_hash_policy": "1",
				"net.ipv6.conf.all.disable_ipv6": "0", "net.ipv6.conf.all.forwarding": "1", "net.ipv6.fib_multipath_hash_policy": "1"}})
		// bgpd runs the rendered config: its AS, router ID, and the client
		// network it announces (connected here, as in the lab).
		var table struct {
			RouterID string                     `json:"routerId"`
			LocalAS  int64                      `json:"localAS"`
			Routes   map[string]json.RawMessage `json:"routes"`
		}
		var last string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			r, err := dc.Exec(ctx, router, "vtysh", "-c", "show ip bgp json")
			if err != nil {
				t.Fatal(err)
			}
			last = r.Output
			if r.ExitCode == 0 && json.Unmarshal([]byte(r.Output), &table) == nil && len(table.Routes) > 0 {
				break
			}
		}
		if table.LocalAS != topo.Router.ASN || table.RouterID != topo.Router.RouterID || table.Routes["198.51.100.0/24"] == nil {
			logs, _ := dc.ContainerLogs(ctx, router)
			t.Errorf("bgpd: AS %d router-id %q routes %d; last answer %q; logs:\n%s", table.LocalAS, table.RouterID, len(table.Routes), last, logs)
		}
		// docker stop ends FRR through the entrypoint's trap, at once.
		start := time.Now()
		if err := dc.ContainerStop(ctx, router); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("stopping the router took %v (the entrypoint ignores SIGTERM?)", took)
		}
	})

	t.Run("syslog receives on UDP and TCP 514", func(t *testing.T) {
		netName := labNetwork(t, dc)
		server := startContainer(t, dc, docker.ContainerSpec{Name: netName + "-syslog", Image: ref[Syslog], Network: netName,
			IP: netip.MustParseAddr("198.51.100.200")})
		tag := randomHex(t)
		// TCP first, retried until rsyslog listens; then one UDP datagram.
		script := `for i in $(seq 40); do (echo "<14>spklabtest: tcp-` + tag + `" >/dev/tcp/198.51.100.200/514) 2>/dev/null && break; sleep 0.25; done
echo "<14>spklabtest: udp-` + tag + `" >/dev/udp/198.51.100.200/514`
		r, err := dc.Run(ctx, docker.ContainerSpec{Image: ref[Client], Network: netName, IP: netip.MustParseAddr("198.51.100.7"),
			Entrypoint: []string{"bash", "-c"}, Cmd: []string{script}})
		if err != nil || r.ExitCode != 0 {
			t.Fatalf("sending: %v %d %s", err, r.ExitCode, r.Output)
		}
		var logs string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
			logs, _ = dc.ContainerLogs(ctx, server)
			if strings.Contains(logs, "udp-"+tag) && strings.Contains(logs, "tcp-"+tag) {
				break
			}
		}
		for _, proto := range []string{"tcp", "udp"} {
			if !strings.Contains(logs, "198.51.100.7 ") || !strings.Contains(logs, "spklabtest: "+proto+"-"+tag) {
				t.Errorf("%s message not logged with its sender:\n%s", proto, logs)
			}
		}
		r, err = dc.Exec(ctx, server, "cat", "/var/log/remote/messages")
		if err != nil || !strings.Contains(r.Output, "udp-"+tag) {
			t.Errorf("log file: %v %q", err, r.Output)
		}
	})

	t.Run("our binaries run in their images", func(t *testing.T) {
		for _, c := range []struct {
			image      string
			entrypoint []string
			cmd        []string
			want       string
		}{
			{TMM, nil, []string{"--version"}, "spk-tmm version "},
			{TMM, []string{"nft"}, []string{"--version"}, "nftables v1.0.6"},
			{TMM, []string{"ip"}, []string{"-V"}, "iproute2"},
			{Controller, nil, []string{"--version"}, "spk-controller version "},
			{NodeAgent, nil, []string{"--version"}, "spk-node version "},
		} {
			r, err := dc.Run(ctx, docker.ContainerSpec{Image: ref[c.image], Entrypoint: c.entrypoint, Cmd: c.cmd})
			if err != nil || r.ExitCode != 0 || !strings.Contains(r.Output, c.want) {
				t.Errorf("%s %v %v: %v exit %d: %q", c.image, c.entrypoint, c.cmd, err, r.ExitCode, r.Output)
			}
		}
		// The binaries are stamped like the Makefile's (git describe), not
		// with the default "dev", inside a git checkout. (Not compared with
		// git describe now: commits may land while the test runs.)
		src, _ := FindSource(".")
		if gitVersion(ctx, src) != "dev" {
			r, _ := dc.Run(ctx, docker.ContainerSpec{Image: ref[TMM], Cmd: []string{"--version"}})
			if v := strings.TrimPrefix(strings.TrimSpace(r.Output), "spk-tmm version "); v == "dev" || v == "" || strings.Contains(v, " ") {
				t.Errorf("spk-tmm --version %q, want a git describe version", r.Output)
			}
		}
	})

	t.Run("save, remove, load", func(t *testing.T) {
		var subset []images.Image
		for _, img := range imgs {
			if img.Name == Client || img.Name == NodeAgent {
				subset = append(subset, img)
			}
		}
		// Plain tar: gzip under -race is slow; the framework tests gzip.
		file := filepath.Join(t.TempDir(), "images.tar")
		start := time.Now()
		if err := m.Save(ctx, file, subset); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(file)
		t.Logf("saved %v in %v (%d MiB)", images.Names(subset), time.Since(start).Round(100*time.Millisecond), st.Size()>>20)
		for _, img := range subset {
			if err := dc.ImageRemove(ctx, img.Ref); err != nil {
				t.Fatal(err)
			}
		}
		// Status needs the whole catalog: hashes fold in the needed images'.
		inSubset := func(s images.State) bool { return s.Image.Name == Client || s.Image.Name == NodeAgent }
		states, err := m.Status(ctx, imgs)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			if inSubset(s) && s.Present {
				t.Fatalf("%s still present", s.Image.Name)
			}
		}
		loaded, err := m.Load(ctx, file)
		if err != nil {
			t.Fatal(err)
		}
		states, _ = m.Status(ctx, imgs)
		for _, s := range states {
			if !inSubset(s) {
				continue
			}
			if !s.Present || !s.Current || s.ID != ids[s.Image.Name] || !slices.Contains(loaded, s.Image.Ref) {
				t.Errorf("%s after load: %+v (loaded %v)", s.Image.Name, s, loaded)
			}
		}
	})

	t.Run("pull says at once that no registry answers", func(t *testing.T) {
		probe := imgs[0]
		probe.Name, probe.Ref, probe.Pull, probe.Needs = "pull-probe", "spklab-test/pull-probe:"+randomHex(t), "docker.io/library/debian:bookworm", nil
		t.Cleanup(func() { dc.ImageRemove(context.Background(), probe.Ref) })
		m.PullTimeout = 10 * time.Second
		start := time.Now()
		_, err := m.Pull(ctx, []images.Image{probe})
		if err == nil {
			t.Skip("a registry answered: this machine is online")
		}
		if !errors.Is(err, images.ErrNoRegistry) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "spklab images build") {
			t.Errorf("want one line pointing at spklab images build: %v", err)
		}
		if took := time.Since(start); took > 15*time.Second {
			t.Errorf("took %v", took)
		}
	})
}

// sizes logs what docker image ls would say about the images.
func sizes(t *testing.T, m *images.Manager, imgs []images.Image) {
	states, err := m.Status(t.Context(), imgs)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range states {
		if !s.Present || !s.Current {
			t.Errorf("%s not present and current after the build: %+v", s.Image.Name, s)
		}
		b.WriteString(s.Image.Ref + " " + strings.TrimPrefix(s.ID, "sha256:")[:12] + " " + mib(s.Size) + "\n")
	}
	t.Logf("images:\n%s", b.String())
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func randomHex(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// labNetwork makes an internal bridge on the lab's client subnet for one
// test and removes it afterwards.
func labNetwork(t *testing.T, dc *docker.Client) string {
	t.Helper()
	subnet := netip.MustParsePrefix("198.51.100.0/24")
	nets, err := dc.Networks(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		if slices.Contains(n.Subnets, subnet) {
			t.Skipf("docker network %s already uses %s (a lab is up?)", n.Name, subnet)
		}
	}
	name := "spklab-imgtest-" + randomHex(t)
	id, err := dc.NetworkCreate(t.Context(), docker.NetworkSpec{Name: name, Subnet: subnet,
		Gateway: netip.MustParseAddr("198.51.100.1"), Internal: true, Labels: map[string]string{"io.spklab.test": "images"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := dc.NetworkRemove(context.Background(), id); err != nil {
			t.Error(err)
		}
	})
	return name
}

// startContainer runs a long-lived container for one test, checks it is
// still running a moment later, and removes it afterwards.
func startContainer(t *testing.T, dc *docker.Client, s docker.ContainerSpec) string {
	t.Helper()
	s.Labels = map[string]string{"io.spklab.test": "images"}
	id, err := dc.ContainerCreate(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := dc.ContainerRemove(context.Background(), id); err != nil {
			t.Error(err)
		}
	})
	if err := dc.ContainerStart(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if ok, err := dc.ContainerRunning(t.Context(), id); err != nil || !ok {
		logs, _ := dc.ContainerLogs(t.Context(), id)
		t.Fatalf("%s exited right away (%v):\n%s", s.Image, err, logs)
	}
	return id
}
