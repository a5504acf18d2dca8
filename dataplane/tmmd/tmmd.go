// Package tmmd runs one emulated TMM replica: it takes the lab interfaces
// away from the kernel, opens them as AF_PACKET ports, gives every VLAN a
// TAP for the exception path, applies the config compiled from the SPK CRs
// and serves the config/stats API. cmd/spk-tmm is a thin wrapper.
package tmmd

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/spklab/spklab/dataplane/bgp"
	"github.com/spklab/spklab/dataplane/config"
	"github.com/spklab/spklab/dataplane/engine"
	"github.com/spklab/spklab/dataplane/port"
	"github.com/spklab/spklab/dataplane/port/afpacket"
	"github.com/spklab/spklab/dataplane/port/tap"
	"github.com/spklab/spklab/dataplane/tmmapi"
	"github.com/spklab/spklab/internal/netconv"
)

// Options configure a TMM replica.
type Options struct {
	// LoadConfig reads the replica's config from files (standalone mode:
	// spk-tmm --config, where package spk compiles the CR directory); it
	// runs at start and on SIGHUP. The loader is passed in so the data plane
	// knows nothing of the CRs. Nil: the replica starts with no config and
	// waits for spk-controller to push one over the API (in a cluster).
	LoadConfig func() (*config.Config, error)
	// ConfigDir names what LoadConfig reads, for messages.
	ConfigDir string
	Replica   int
	// Interfaces are the kernel devices of TMM interfaces 1.1, 1.2, ….
	Interfaces []string
	// APIs are the addresses the config/stats API is served on
	// ("unix:/path" or "host:port"); none = no API.
	APIs []string
	// APITLS, when set, carries the API on every TCP address over mutual
	// TLS (apicerts.ServerConfig). Unix sockets stay in the clear: they
	// are 0600, so only their owner reaches them.
	APITLS   *tls.Config
	MaxFlows int
	Logger   *slog.Logger
}

// checkAPIs refuses an API address on the network without TLS: whoever
// reaches it could read every tenant's flows and push configs. Unix
// sockets and loopback addresses (a test's, or a pod's own for
// port-forwarding) may be in the clear.
func checkAPIs(addrs []string, withTLS bool) error {
	for _, a := range addrs {
		if strings.HasPrefix(a, "unix:") || withTLS {
			continue
		}
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return fmt.Errorf("--api %q: want \"unix:/path\" or \"host:port\": %w", a, err)
		}
		if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() || host == "localhost" {
			continue
		}
		return fmt.Errorf("--api %s is on the network: serve it with --api-tls DIR (mutual TLS), or anyone who reaches it can drive the TMM", a)
	}
	return nil
}

// initialConfig is the config a replica starts with: the compiled CR
// directory, or (no directory) an empty one the controller replaces.
func initialConfig(opts Options) (*config.Config, error) {
	if opts.LoadConfig != nil {
		return opts.LoadConfig()
	}
	if len(opts.APIs) == 0 {
		return nil, errors.New("no --config and no --api: give a CR directory (standalone) or an API address for spk-controller to push to")
	}
	cfg := &config.Config{Replica: opts.Replica}
	cfg.Seal()
	return cfg, nil
}

// Run runs the replica until ctx ends. SIGHUP re-reads ConfigDir.
func Run(ctx context.Context, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := checkAPIs(opts.APIs, opts.APITLS != nil); err != nil {
		return err
	}
	cfg, err := initialConfig(opts)
	if err != nil {
		return err
	}
	if len(opts.Interfaces) == 0 {
		return errors.New("no interfaces: give the devices of 1.1, 1.2, … with --interfaces")
	}
	var ports []port.Port
	defer func() {
		for _, p := range ports {
			p.Close()
		}
	}()
	if err := takeFromKernel(opts.Interfaces); err != nil {
		return err
	}
	for _, name := range opts.Interfaces {
		p, err := afpacket.Open(name, afpacket.DefaultOptions())
		if err != nil {
			return fmt.Errorf("opening %s: %w", name, err)
		}
		ports = append(ports, p)
	}
	exc := &tapPath{log: log, taps: map[string]*tap.Port{}}
	defer exc.closeAll()
	eng, err := engine.New(engine.Options{Ports: ports, Exception: exc, MaxFlows: opts.MaxFlows, Logger: log})
	if err != nil {
		return err
	}
	ports = nil // the engine closes them now
	defer eng.Close()
	r := &replica{Engine: eng, bgp: bgp.New(eng.FIB(), log)}
	// Deferred after eng.Close, so it runs first: with graceful restart the
	// sessions drop without a Cease and the router keeps this replica's
	// routes while it restarts.
	defer r.bgp.Close()
	if err := r.Apply(cfg); err != nil {
		return fmt.Errorf("applying the config of %s: %w", opts.ConfigDir, err)
	}
	if opts.LoadConfig == nil {
		log.Info("no --config: waiting for spk-controller to push the config", "api", opts.APIs)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1+len(opts.APIs))
	for _, addr := range opts.APIs {
		var transport []tmmapi.Option
		if !strings.HasPrefix(addr, "unix:") && opts.APITLS != nil {
			transport = append(transport, tmmapi.WithTLS(opts.APITLS))
		}
		l, err := tmmapi.Listen(addr)
		if err != nil {
			return err
		}
		go func() { errc <- tmmapi.Serve(ctx, l, r, log, transport...) }()
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if opts.LoadConfig == nil {
					log.Info("SIGHUP ignored: the config comes from spk-controller")
					continue
				}
				cfg, err := opts.LoadConfig()
				if err == nil {
					err = r.Apply(cfg)
				}
				if err != nil {
					log.Error("reload refused; the running config stays", "err", err)
				}
			}
		}
	}()
	log.Info("TMM running", "replica", opts.Replica, "interfaces", opts.Interfaces, "version", cfg.Version, "api", opts.APIs, "apiTLS", opts.APITLS != nil)
	go func() { errc <- eng.Run(ctx) }()
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}

// replica is the engine with its BGP speaker: what the API serves.
type replica struct {
	*engine.Engine
	bgp *bgp.Speaker
}

// bgpApplyTimeout bounds talking to the local GoBGP server, never the
// network: sessions come up in the background.
const bgpApplyTimeout = 10 * time.Second

// Apply runs cfg in the data plane first (so announced VIPs answer), then
// in the speaker.
func (r *replica) Apply(cfg *config.Config) error {
	if err := r.Engine.Apply(cfg); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), bgpApplyTimeout)
	defer cancel()
	if err := r.bgp.Apply(ctx, cfg); err != nil {
		return fmt.Errorf("data plane runs version %s, but BGP did not take it: %w", cfg.Version, err)
	}
	return nil
}

// BGP is the speaker's status.
func (r *replica) BGP(ctx context.Context) (bgp.Status, error) { return r.bgp.Status(ctx) }

// takeFromKernel leaves the wire interfaces to the data plane: no kernel
// addresses, no IPv6 on them, and every received frame dropped by an
// nftables netdev ingress chain — which runs after AF_PACKET has seen the
// frame — so the kernel never answers ARP for the self IPs it holds on the
// TAPs, nor resets TCP segments that belong to a data-plane flow. (tc
// filters would do the same, but kernels without cls_matchall exist; this
// one has none.)
func takeFromKernel(names []string) error {
	var rules strings.Builder
	rules.WriteString("table netdev spk_tmm\ndelete table netdev spk_tmm\ntable netdev spk_tmm {\n")
	for _, name := range names {
		link, err := netlink.LinkByName(name)
		if err != nil {
			return fmt.Errorf("interface %s: %w", name, err)
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
		if err != nil {
			return fmt.Errorf("listing addresses of %s: %w", name, err)
		}
		for _, a := range addrs {
			if err := netlink.AddrDel(link, &a); err != nil {
				return fmt.Errorf("flushing %s from %s: %w", a.IPNet, name, err)
			}
		}
		_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0o644) // absent without IPv6
		if err := netlink.LinkSetUp(link); err != nil {
			return fmt.Errorf("bringing %s up: %w", name, err)
		}
		fmt.Fprintf(&rules, "  chain wire_%d { type filter hook ingress device %q priority -500; policy drop; }\n", link.Attrs().Index, name)
	}
	rules.WriteString("}\n")
	nft, err := exec.LookPath("nft")
	if err != nil {
		return errors.New("hiding the wire interfaces from the kernel needs nft (Debian package nftables)")
	}
	cmd := exec.Command(nft, "-f", "-")
	cmd.Stdin = strings.NewReader(rules.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("hiding %s from the kernel (nftables netdev ingress drop): %w: %s", strings.Join(names, ", "), err, bytes.TrimSpace(out))
	}
	return nil
}

// tapPath is the exception path: one TAP per VLAN, named after it.
type tapPath struct {
	log  *slog.Logger
	mu   sync.Mutex
	taps map[string]*tap.Port
}

// TAPName is the kernel name of a VLAN's TAP: "tmm-<vlan>", shortened with a
// hash when too long for an interface name.
func TAPName(vlan string) string {
	name := "tmm-" + vlan
	if len(name) <= 15 {
		return name
	}
	h := fnv.New32a()
	h.Write([]byte(vlan))
	return fmt.Sprintf("tmm-%.2s%08x", vlan, h.Sum32())[:15]
}

func (t *tapPath) Open(v config.VLAN, mac [6]byte) (port.Port, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	name := TAPName(v.Name)
	p, ok := t.taps[v.Name]
	if !ok {
		var err error
		if p, err = tap.Open(name, mac, v.MTU); err != nil {
			return nil, err
		}
		t.taps[v.Name] = p
	}
	if err := setAddrs(name, v.SelfIPs); err != nil {
		return nil, err
	}
	return p, nil
}

// setAddrs makes the TAP hold exactly the self IPs: stale ones (from an
// earlier config) go, the wanted ones are (re)placed.
func setAddrs(name string, want []netip.Prefix) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("TAP %s: %w", name, err)
	}
	have, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("listing addresses of %s: %w", name, err)
	}
	for _, a := range have {
		p := netconv.Prefix(a.IPNet)
		if p.Addr().IsLinkLocalUnicast() || slices.Contains(want, p) {
			continue
		}
		if err := netlink.AddrDel(link, &a); err != nil {
			return fmt.Errorf("removing %s from %s: %w", p, name, err)
		}
	}
	return tap.AddAddrs(name, want)
}

func (t *tapPath) Remove(vlan string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.taps[vlan]
	if !ok {
		return nil
	}
	delete(t.taps, vlan)
	return p.Close()
}

func (t *tapPath) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for name, p := range t.taps {
		if err := p.Close(); err != nil {
			t.log.Warn("closing TAP", "vlan", name, "err", err)
		}
	}
}
