// Package bgp is the TMM's embedded BGP speaker (GoBGP as a library). It
// peers with the lab router from the replica's self IPs — through the
// exception path's TAP, so sessions are ordinary kernel TCP sockets —
// announces what the compiled config says (every VIP, this replica's SNAT
// addresses) and installs the best routes it learns into the data plane's
// FIB, where egress finds the way to the client networks.
package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	bgppkt "github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"

	"github.com/spklab/spklab/dataplane/config"
	"github.com/spklab/spklab/dataplane/fib"
)

// Timers of every session. Short keepalives find a dead TMM or router in
// seconds in the lab; connect retry 1 s brings a session up as soon as the
// router is there.
const (
	connectRetry = 1
	holdTime     = 9
	keepalive    = 3
)

// Speaker runs one replica's BGP. Apply is safe to call concurrently with
// Status; the zero value is not usable, call New.
type Speaker struct {
	log *slog.Logger
	fib *fib.Table

	mu        sync.Mutex
	srv       *server.BgpServer
	stopWatch context.CancelFunc // ends the event watch and the install loop
	resync    chan struct{}      // kicks the install loop; never closed
	done      chan struct{}      // closed when the install loop has ended
	global    globalKey
	peers     map[netip.Addr]config.Neighbor
	// announced holds each originated path as it was added, so it can be
	// withdrawn even when no neighbor of its family is left.
	announced map[netip.Prefix]*apiutil.Path
	// vlans resolve learned next hops to VLANs. Atomic, not under mu: the
	// install loop reads it while Apply, holding mu, waits for that loop
	// to end.
	vlans atomic.Pointer[[]config.VLAN]
}

// globalKey is what cannot change on a running server: changing any of it
// restarts the speaker.
type globalKey struct {
	asn      uint32
	routerID netip.Addr
	restart  uint16
}

// New returns a speaker that installs learned routes into table.
func New(table *fib.Table, log *slog.Logger) *Speaker {
	if log == nil {
		log = slog.Default()
	}
	return &Speaker{log: log.With("component", "bgp"), fib: table}
}

// Apply makes the speaker run cfg.BGP: it starts, restarts (when the AS,
// router-id or restart time changed) or stops the server, adds and removes
// peers, and announces or withdraws prefixes, touching only what changed —
// a withdrawal goes out as soon as the prefix leaves the config.
func (s *Speaker) Apply(ctx context.Context, cfg *config.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	vlans := slices.Clone(cfg.VLANs)
	s.vlans.Store(&vlans)
	b := cfg.BGP
	if b == nil {
		s.stopLocked(true)
		return nil
	}
	key := globalKey{asn: b.ASN, routerID: b.RouterID, restart: b.GracefulRestart}
	if s.srv != nil && key != s.global {
		s.log.Info("restarting BGP: AS, router-id or graceful restart changed")
		s.stopLocked(true)
	}
	if s.srv == nil {
		if err := s.startLocked(ctx, key); err != nil {
			return err
		}
	}
	if err := s.syncPeersLocked(ctx, b); err != nil {
		return err
	}
	if err := s.syncAnnouncedLocked(b); err != nil {
		return err
	}
	s.kick()
	return nil
}

func (s *Speaker) startLocked(ctx context.Context, key globalKey) error {
	srv := server.NewBgpServer(server.LoggerOption(slog.New(stoppedQuiet{s.log.Handler()}), nil))
	go srv.Serve()
	err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn:      key.asn,
		RouterId: key.routerID.String(),
		// The router's listen range makes it passive: the TMM connects.
		// Not listening keeps a restarting TMM from racing itself for
		// port 179 on the self IPs.
		ListenPort: -1,
	}})
	if err != nil {
		srv.Stop()
		return fmt.Errorf("bgp: starting AS %d router-id %s: %w", key.asn, key.routerID, err)
	}
	watchCtx, cancel := context.WithCancel(context.Background())
	resync := make(chan struct{}, 1)
	kick := func() {
		select {
		case resync <- struct{}{}:
		default:
		}
	}
	err = srv.WatchEvent(watchCtx, server.WatchEventMessageCallbacks{
		OnBestPath:   func([]*apiutil.Path, time.Time) { kick() },
		OnPeerUpdate: func(*apiutil.WatchEventMessage_PeerEvent, time.Time) { kick() },
	}, server.WatchBestPath(true), server.WatchPeer())
	if err != nil {
		cancel()
		srv.Stop()
		return fmt.Errorf("bgp: watching events: %w", err)
	}
	s.srv, s.stopWatch, s.global = srv, cancel, key
	s.resync, s.done = resync, make(chan struct{})
	s.peers = map[netip.Addr]config.Neighbor{}
	s.announced = map[netip.Prefix]*apiutil.Path{}
	go s.installLoop(watchCtx, srv, resync, s.done)
	s.log.Info("BGP started", "asn", key.asn, "routerID", key.routerID, "gracefulRestart", key.restart)
	return nil
}

func (s *Speaker) currentVLANs() []config.VLAN {
	if v := s.vlans.Load(); v != nil {
		return *v
	}
	return nil
}

// kick asks the install loop to resync the FIB; kicks coalesce. Callers
// hold s.mu and the server runs.
func (s *Speaker) kick() {
	select {
	case s.resync <- struct{}{}:
	default:
	}
}

// Close stops the speaker. With graceful restart on, the sessions are
// dropped without a NOTIFICATION, so the router keeps this replica's routes
// (stale) until it is back or the restart time passes; a stop for good is
// Apply of a config without BGP.
func (s *Speaker) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(s.global.restart == 0)
}

func (s *Speaker) stopLocked(notify bool) {
	if s.srv == nil {
		return
	}
	s.stopWatch()
	// Without notify the sessions of graceful-restart neighbors close with
	// no Cease, which tells the router to keep the routes (stale) for the
	// restart time; with it, routes go at once.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	if err := s.srv.StopBgp(ctx, &api.StopBgpRequest{AllowGracefulRestart: !notify}); err != nil {
		s.log.Warn("stopping BGP", "err", err)
	}
	cancel()
	// StopBgp leaves the server's BFD goroutine running (one per restart
	// otherwise, for the life of the process); Stop ends it.
	s.srv.Stop()
	<-s.done
	s.srv = nil
	s.peers, s.announced = nil, nil
	if err := s.fib.Replace(fib.BGP, nil); err != nil {
		s.log.Warn("removing BGP routes", "err", err)
	}
	s.log.Info("BGP stopped", "notified", notify)
}

func (s *Speaker) syncPeersLocked(ctx context.Context, b *config.BGP) error {
	want := map[netip.Addr]config.Neighbor{}
	for _, n := range b.Neighbors {
		want[n.Address] = n
	}
	for addr, have := range s.peers {
		if n, ok := want[addr]; ok && n == have {
			continue
		}
		if err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: addr.String()}); err != nil {
			return fmt.Errorf("bgp: removing neighbor %s: %w", addr, err)
		}
		delete(s.peers, addr)
		s.log.Info("BGP neighbor removed", "neighbor", addr)
	}
	for addr, n := range want {
		if _, ok := s.peers[addr]; ok {
			continue
		}
		if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: peerOf(n, b.GracefulRestart)}); err != nil {
			return fmt.Errorf("bgp: adding neighbor %s AS %d: %w", addr, n.ASN, err)
		}
		s.peers[addr] = n
		s.log.Info("BGP neighbor added", "neighbor", addr, "asn", n.ASN, "local", n.Local, "ipv4", n.IPv4, "ipv6", n.IPv6)
	}
	return nil
}

func peerOf(n config.Neighbor, restart uint16) *api.Peer {
	p := &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: n.Address.String(),
			PeerAsn:         n.ASN,
			AuthPassword:    n.Password,
		},
		Transport: &api.Transport{LocalAddress: n.Local.String()},
		Timers: &api.Timers{Config: &api.TimersConfig{
			ConnectRetry: connectRetry, HoldTime: holdTime, KeepaliveInterval: keepalive,
		}},
	}
	if n.EBGPMultihop > 0 {
		p.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: uint32(n.EBGPMultihop)}
	}
	if restart > 0 {
		p.GracefulRestart = &api.GracefulRestart{Enabled: true, RestartTime: uint32(restart)}
	}
	family := func(afi api.Family_Afi) *api.AfiSafi {
		return &api.AfiSafi{
			Config:            &api.AfiSafiConfig{Family: &api.Family{Afi: afi, Safi: api.Family_SAFI_UNICAST}, Enabled: true},
			MpGracefulRestart: &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: restart > 0}},
		}
	}
	if n.IPv4 {
		p.AfiSafis = append(p.AfiSafis, family(api.Family_AFI_IP))
	}
	if n.IPv6 {
		p.AfiSafis = append(p.AfiSafis, family(api.Family_AFI_IP6))
	}
	return p
}

// syncAnnouncedLocked announces new prefixes and withdraws those gone. The
// next hop given here is the family's self IP; for eBGP GoBGP sends the
// session's own address anyway, which is the same self IP.
func (s *Speaker) syncAnnouncedLocked(b *config.BGP) error {
	want := map[netip.Prefix]bool{}
	for _, p := range b.Announce {
		want[p] = true
	}
	var add, del []*apiutil.Path
	for p, path := range s.announced {
		if !want[p] {
			del = append(del, path)
		}
	}
	for p := range want {
		if s.announced[p] == nil {
			nh := nextHopFor(b, p.Addr().Is4())
			if !nh.IsValid() {
				s.log.Warn("not announcing: no neighbor accepts its family", "prefix", p)
				continue
			}
			path, err := pathOf(p, nh)
			if err != nil {
				return err
			}
			add = append(add, path)
		}
	}
	if len(del) > 0 {
		if err := s.srv.DeletePath(apiutil.DeletePathRequest{Paths: del}); err != nil {
			return fmt.Errorf("bgp: withdrawing %d prefix(es): %w", len(del), err)
		}
		for _, p := range del {
			delete(s.announced, prefixOf(p.Nlri))
		}
		s.log.Info("BGP withdrew", "prefixes", prefixesOf(del))
	}
	if len(add) > 0 {
		if _, err := s.srv.AddPath(apiutil.AddPathRequest{Paths: add}); err != nil {
			return fmt.Errorf("bgp: announcing %d prefix(es): %w", len(add), err)
		}
		for _, p := range add {
			s.announced[prefixOf(p.Nlri)] = p
		}
		s.log.Info("BGP announced", "prefixes", prefixesOf(add))
	}
	return nil
}

func nextHopFor(b *config.BGP, is4 bool) netip.Addr {
	for _, n := range b.Neighbors {
		if is4 && n.IPv4 && n.NextHop4.IsValid() {
			return n.NextHop4
		}
		if !is4 && n.IPv6 && n.NextHop6.IsValid() {
			return n.NextHop6
		}
	}
	return netip.Addr{}
}

func pathOf(p netip.Prefix, nextHop netip.Addr) (*apiutil.Path, error) {
	nlri, err := bgppkt.NewIPAddrPrefix(p)
	if err != nil {
		return nil, fmt.Errorf("bgp: prefix %s: %w", p, err)
	}
	family := bgppkt.RF_IPv4_UC
	if p.Addr().Is6() {
		family = bgppkt.RF_IPv6_UC
	}
	origin := bgppkt.NewPathAttributeOrigin(bgppkt.BGP_ORIGIN_ATTR_TYPE_IGP)
	var hop bgppkt.PathAttributeInterface
	if family == bgppkt.RF_IPv4_UC {
		hop, err = bgppkt.NewPathAttributeNextHop(nextHop)
	} else {
		hop, err = bgppkt.NewPathAttributeMpReachNLRI(family, []bgppkt.PathNLRI{{NLRI: nlri}}, nextHop)
	}
	if err != nil {
		return nil, fmt.Errorf("bgp: next hop %s for %s: %w", nextHop, p, err)
	}
	return &apiutil.Path{Family: family, Nlri: nlri, Attrs: []bgppkt.PathAttributeInterface{origin, hop}}, nil
}

func prefixOf(n bgppkt.NLRI) netip.Prefix {
	if ip, ok := n.(*bgppkt.IPAddrPrefix); ok {
		return ip.Prefix
	}
	p, _ := netip.ParsePrefix(n.String())
	return p
}

func prefixesOf(paths []*apiutil.Path) []string {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		out = append(out, prefixOf(p.Nlri).String())
	}
	slices.Sort(out)
	return out
}

// installLoop resyncs the FIB's BGP routes with the speaker's best paths
// each time an event kicks it, until ctx ends.
func (s *Speaker) installLoop(ctx context.Context, srv *server.BgpServer, resync <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-resync:
		}
		routes, skipped := learnedRoutes(srv, s.currentVLANs())
		for _, r := range skipped {
			s.log.Warn("learned route not installed: its next hop is on no VLAN", "route", r)
		}
		if err := s.fib.Replace(fib.BGP, routes); err != nil {
			s.log.Warn("installing BGP routes", "err", err)
		}
	}
}

// learnedRoutes are the best paths learned from peers, as FIB routes via
// the VLAN whose subnet holds the next hop (the FIB does not recurse).
func learnedRoutes(srv *server.BgpServer, vlans []config.VLAN) (routes []fib.Route, skipped []string) {
	for _, family := range []bgppkt.Family{bgppkt.RF_IPv4_UC, bgppkt.RF_IPv6_UC} {
		err := srv.ListPath(apiutil.ListPathRequest{TableType: api.TableType_TABLE_TYPE_GLOBAL, Family: family},
			func(nlri bgppkt.NLRI, paths []*apiutil.Path) {
				for _, p := range paths {
					if !p.Best || p.Withdrawal || !p.PeerAddress.IsValid() || p.PeerAddress.IsUnspecified() {
						continue
					}
					prefix := prefixOf(nlri)
					gw := nextHopOf(p)
					vlan := vlanFor(vlans, gw)
					if !prefix.IsValid() || vlan == "" {
						skipped = append(skipped, fmt.Sprintf("%s via %s", prefix, gw))
						continue
					}
					routes = append(routes, fib.Route{Prefix: prefix, Source: fib.BGP, NextHops: []fib.NextHop{{Gateway: gw, VLAN: vlan}}})
				}
			})
		if err != nil && !errors.Is(err, context.Canceled) {
			skipped = append(skipped, fmt.Sprintf("listing %s: %v", family, err))
		}
	}
	return routes, skipped
}

func nextHopOf(p *apiutil.Path) netip.Addr {
	for _, a := range p.Attrs {
		switch a := a.(type) {
		case *bgppkt.PathAttributeNextHop:
			return a.Value
		case *bgppkt.PathAttributeMpReachNLRI:
			return a.Nexthop
		}
	}
	return netip.Addr{}
}

func vlanFor(vlans []config.VLAN, gw netip.Addr) string {
	if !gw.IsValid() {
		return ""
	}
	for _, v := range vlans {
		for _, p := range v.SelfIPs {
			if p.Masked().Contains(gw) {
				return v.Name
			}
		}
	}
	return ""
}

// Status is what the speaker is doing, for the TMM's API and `spk-tmm
// stats`.
type Status struct {
	Running   bool             `json:"running"`
	ASN       uint32           `json:"asn,omitempty"`
	RouterID  netip.Addr       `json:"routerID,omitzero"`
	Neighbors []NeighborStatus `json:"neighbors,omitempty"`
	// Announced are the prefixes this replica originates.
	Announced []netip.Prefix `json:"announced,omitempty"`
	// Learned are the best routes learned from neighbors (what the FIB
	// holds as BGP routes when their next hops resolve).
	Learned []fib.Route `json:"learned,omitempty"`
}

// NeighborStatus is one session.
type NeighborStatus struct {
	Address netip.Addr `json:"address"`
	ASN     uint32     `json:"asn"`
	// State is the FSM state as FRR spells it: Idle, Connect, Active,
	// OpenSent, OpenConfirm, Established.
	State    string    `json:"state"`
	Up       time.Time `json:"up,omitzero"`
	Received uint64    `json:"received"`
	Accepted uint64    `json:"accepted"`
	Sent     uint64    `json:"sent"`
	// LastError is why the session last went down, if it did.
	LastError string `json:"lastError,omitempty"`
}

var fsmNames = map[api.PeerState_SessionState]string{
	api.PeerState_SESSION_STATE_IDLE:        "Idle",
	api.PeerState_SESSION_STATE_CONNECT:     "Connect",
	api.PeerState_SESSION_STATE_ACTIVE:      "Active",
	api.PeerState_SESSION_STATE_OPENSENT:    "OpenSent",
	api.PeerState_SESSION_STATE_OPENCONFIRM: "OpenConfirm",
	api.PeerState_SESSION_STATE_ESTABLISHED: "Established",
}

// Status reads the speaker's sessions and routes.
func (s *Speaker) Status(ctx context.Context) (Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return Status{}, nil
	}
	st := Status{Running: true, ASN: s.global.asn, RouterID: s.global.routerID}
	err := s.srv.ListPeer(ctx, &api.ListPeerRequest{EnableAdvertised: true}, func(p *api.Peer) {
		ns := NeighborStatus{}
		if p.Conf != nil {
			ns.Address, _ = netip.ParseAddr(p.Conf.NeighborAddress)
			ns.ASN = p.Conf.PeerAsn
		}
		if p.State != nil {
			ns.State = fsmNames[p.State.SessionState]
			ns.LastError = p.State.DisconnectMessage
		}
		if p.Timers != nil && p.Timers.State != nil && p.Timers.State.Uptime != nil && ns.State == "Established" {
			ns.Up = p.Timers.State.Uptime.AsTime()
		}
		for _, a := range p.AfiSafis {
			if a.State != nil {
				ns.Received += a.State.Received
				ns.Accepted += a.State.Accepted
				ns.Sent += a.State.Advertised
			}
		}
		st.Neighbors = append(st.Neighbors, ns)
	})
	if err != nil {
		return st, fmt.Errorf("bgp: listing neighbors: %w", err)
	}
	slices.SortFunc(st.Neighbors, func(a, b NeighborStatus) int { return a.Address.Compare(b.Address) })
	for p := range s.announced {
		st.Announced = append(st.Announced, p)
	}
	slices.SortFunc(st.Announced, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	st.Learned, _ = learnedRoutes(s.srv, s.currentVLANs())
	return st, nil
}

// stoppedQuiet passes GoBGP's log on, less the error its Stop logs when
// StopBgp has already stopped BGP (as stopLocked does, to choose graceful
// restart): that is the expected order, not a failure.
type stoppedQuiet struct{ slog.Handler }

func (h stoppedQuiet) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelError && r.Message == "failed to stop BGP server" {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h stoppedQuiet) WithAttrs(as []slog.Attr) slog.Handler {
	return stoppedQuiet{h.Handler.WithAttrs(as)}
}

func (h stoppedQuiet) WithGroup(name string) slog.Handler {
	return stoppedQuiet{h.Handler.WithGroup(name)}
}
