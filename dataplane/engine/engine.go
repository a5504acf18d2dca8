// Package engine is the emulated TMM's packet pipeline: it owns the wire
// ports, answers ARP/ND for self IPs, VIPs and SNAT addresses, runs ingress
// virtual servers and egress SNAT over a bounded connection table and a
// FIB, and hands host-bound frames to the kernel through per-VLAN TAPs (the
// exception path), so BGP and ping use ordinary kernel sockets.
//
// One goroutine reads each port (wire and TAP) and processes its frames to
// completion; they share the connection table, the FIB, the neighbor cache
// and the config, none of which takes a global lock on the fast path: the
// config and the FIB are immutable snapshots behind atomic pointers, flows
// live in a sharded table.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spklab/spklab/dataplane/config"
	"github.com/spklab/spklab/dataplane/conntrack"
	"github.com/spklab/spklab/dataplane/fib"
	"github.com/spklab/spklab/dataplane/natport"
	"github.com/spklab/spklab/dataplane/neigh"
	"github.com/spklab/spklab/dataplane/port"
)

// ExceptionPath gives each VLAN a kernel interface (a TAP) holding the
// VLAN's self IPs.
type ExceptionPath interface {
	// Open returns the VLAN's TAP with the VLAN's self IPs and MTU set,
	// creating it if needed; Apply calls it for every VLAN of every config
	// (so address changes reach the kernel) and reuses the port it returned
	// the first time.
	Open(v config.VLAN, mac [6]byte) (port.Port, error)
	// Remove deletes the TAP of a VLAN that is no longer configured.
	Remove(vlan string) error
}

// Options configure an Engine.
type Options struct {
	// Ports are the wire ports; Ports[i] is TMM interface "1.<i+1>".
	Ports []port.Port
	// Exception is the path to the kernel; nil drops host-bound frames. It
	// owns the TAPs it opens (the engine never closes them).
	Exception ExceptionPath
	// MaxFlows bounds the connection table (default 262144).
	MaxFlows int
	// Timeouts of the connection table (default conntrack.DefaultTimeouts).
	Timeouts *conntrack.Timeouts
	// Batch is how many frames a port reads at once (default 64).
	Batch int
	// NATPorts is the range of ports translated flows use per address
	// (default 1024–65535).
	NATPorts [2]uint16
	Logger   *slog.Logger
}

// Engine is one TMM replica's data plane.
type Engine struct {
	log       *slog.Logger
	ports     map[string]*wirePort
	portList  []*wirePort
	exception ExceptionPath
	batch     int
	maxFlows  int

	state    atomic.Pointer[state]
	fib      *fib.Table
	flows    *conntrack.Table[flowData]
	nat      *natport.Pools
	neighbor *neigh.Cache
	drops    drops
	start    time.Time
	now      atomic.Int64

	mu       sync.Mutex // serializes Apply and TAP bookkeeping
	taps     map[string]*tapPort
	counters *counterSet

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type wirePort struct {
	index int
	name  string // "1.N"
	p     port.Port
	mac   [6]byte
	txMu  sync.Mutex
}

func (wp *wirePort) send(bufs []port.Buf) int {
	wp.txMu.Lock()
	n, _ := wp.p.Send(bufs)
	wp.txMu.Unlock()
	return n
}

type tapPort struct {
	vlan string
	p    port.Port
	txMu sync.Mutex
	stop context.CancelFunc
}

func (tp *tapPort) send(b port.Buf) bool {
	tp.txMu.Lock()
	n, _ := tp.p.Send([]port.Buf{b})
	tp.txMu.Unlock()
	return n == 1
}

func natRange(r [2]uint16) (lo, hi uint16) {
	if r[0] == 0 || r[1] < r[0] {
		return 1024, 65535
	}
	return r[0], r[1]
}

// New makes an engine over the given ports; it forwards nothing until a
// config is applied and Run is called.
func New(opts Options) (*Engine, error) {
	if len(opts.Ports) == 0 {
		return nil, errors.New("engine: no ports")
	}
	e := &Engine{
		log:       opts.Logger,
		ports:     map[string]*wirePort{},
		exception: opts.Exception,
		batch:     opts.Batch,
		maxFlows:  opts.MaxFlows,
		fib:       fib.New(),
		nat:       natport.NewPools(natRange(opts.NATPorts)),
		neighbor:  neigh.New(neigh.Config{}),
		start:     time.Now(),
		taps:      map[string]*tapPort{},
		counters:  newCounterSet(),
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.batch <= 0 {
		e.batch = 64
	}
	if e.maxFlows <= 0 {
		e.maxFlows = 262144
	}
	timeouts := conntrack.DefaultTimeouts()
	if opts.Timeouts != nil {
		timeouts = *opts.Timeouts
	}
	e.flows = conntrack.New(conntrack.Config[flowData]{Max: e.maxFlows, Timeouts: timeouts, OnExpire: e.flowGone})
	for i, p := range opts.Ports {
		wp := &wirePort{index: i, name: fmt.Sprintf("1.%d", i+1), p: p, mac: p.MAC()}
		e.ports[wp.name] = wp
		e.portList = append(e.portList, wp)
	}
	e.tick()
	e.state.Store(&state{cfg: &config.Config{}, vlans: map[portTag]*vlanState{}, byName: map[string]*vlanState{},
		local: map[netip.Addr]*localAddr{}, vs: map[vsKey]*vsState{}, tenants: map[uint32]*tenantState{}})
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

// FIB is the engine's routing table (the BGP speaker installs routes here).
func (e *Engine) FIB() *fib.Table { return e.fib }

// Config returns the config the engine runs.
func (e *Engine) Config() *config.Config { return e.state.Load().cfg }

// tick advances the engine's clock (monotonic nanoseconds since start).
func (e *Engine) tick() int64 {
	n := int64(time.Since(e.start))
	e.now.Store(n)
	return n
}

// Apply switches to cfg atomically: packets see either the old config or
// the new one. Flows of removed virtual servers or tenants keep running
// until they end (as on BIG-IP); new ones follow the new config.
func (e *Engine) Apply(cfg *config.Config) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	// A config that cannot run is refused before the exception path
	// changes anything in the kernel (TAP devices and their addresses).
	if _, _, _, err := buildState(cfg, e.ports, nil, newCounterSet()); err != nil {
		return err
	}
	taps := map[string]*tapPort{}
	if e.exception != nil {
		for _, v := range cfg.VLANs {
			wp, ok := e.ports[v.Interface]
			if !ok {
				return fmt.Errorf("VLAN %s: interface %s is not one of this TMM's (%s)", v.Name, v.Interface, interfaceList(e.ports))
			}
			p, err := e.exception.Open(v, wp.mac)
			if err != nil {
				return fmt.Errorf("exception path of VLAN %s: %w", v.Name, err)
			}
			tp, ok := e.taps[v.Name]
			if !ok || tp.p != p {
				tp = &tapPort{vlan: v.Name, p: p}
			}
			taps[v.Name] = tp
		}
	}
	st, connected, static, err := buildState(cfg, e.ports, taps, e.counters)
	if err != nil {
		return err
	}
	if err := e.fib.Replace(fib.Connected, connected); err != nil {
		return fmt.Errorf("installing connected routes: %w", err)
	}
	if err := e.fib.Replace(fib.Static, static); err != nil {
		return fmt.Errorf("installing static routes: %w", err)
	}
	e.state.Store(st)
	for name, tp := range taps {
		if _, running := e.taps[name]; !running && e.ctx.Err() == nil {
			e.startTAP(tp)
		}
	}
	for name, tp := range e.taps {
		if _, keep := taps[name]; !keep {
			if tp.stop != nil {
				tp.stop()
			}
			if err := e.exception.Remove(name); err != nil {
				e.log.Warn("removing exception path", "vlan", name, "err", err)
			}
		}
	}
	e.taps = taps
	e.log.Info("config applied", "version", cfg.Version, "vlans", len(cfg.VLANs), "virtualServers", len(cfg.VirtualServers), "tenants", len(cfg.Tenants), "routes", len(cfg.Routes))
	return nil
}

// Run reads every port until ctx ends or Close is called.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	for _, wp := range e.portList {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.readWire(wp)
		}()
	}
	for _, tp := range e.taps {
		if tp.stop == nil {
			e.startTAP(tp)
		}
	}
	e.mu.Unlock()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.housekeeping()
	}()
	select {
	case <-ctx.Done():
	case <-e.ctx.Done():
	}
	e.cancel()
	e.wg.Wait()
	return nil
}

// Close stops Run and closes the wire ports. The TAPs belong to the
// ExceptionPath that opened them; their readers stop with Run.
func (e *Engine) Close() error {
	e.cancel()
	var errs []error
	for _, wp := range e.portList {
		if err := wp.p.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing %s: %w", wp.name, err))
		}
	}
	return errors.Join(errs...)
}

// startTAP starts the reader of a TAP; e.mu is held.
func (e *Engine) startTAP(tp *tapPort) {
	ctx, stop := context.WithCancel(e.ctx)
	tp.stop = stop
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.readTAP(ctx, tp)
	}()
}

const pollInterval = 100 * time.Millisecond

func (e *Engine) readWire(wp *wirePort) {
	w := newWorker(e)
	bufs := port.NewBufs(e.batch, port.DefaultMaxFrame)
	for e.ctx.Err() == nil {
		n, err := wp.p.Recv(bufs, pollInterval)
		if err != nil {
			if !errors.Is(err, port.ErrClosed) {
				e.log.Error("receiving", "interface", wp.name, "err", err)
			}
			return
		}
		if n == 0 {
			continue
		}
		w.now = e.tick()
		st := e.state.Load()
		for i := 0; i < n; i++ {
			w.fromWire(st, wp, &bufs[i])
		}
		w.flush()
	}
}

func (e *Engine) readTAP(ctx context.Context, tp *tapPort) {
	w := newWorker(e)
	bufs := port.NewBufs(16, port.DefaultMaxFrame)
	for ctx.Err() == nil {
		n, err := tp.p.Recv(bufs, pollInterval)
		if err != nil {
			if !errors.Is(err, port.ErrClosed) {
				e.log.Error("receiving from the exception path", "vlan", tp.vlan, "err", err)
			}
			return
		}
		if n == 0 {
			continue
		}
		w.now = e.tick()
		st := e.state.Load()
		v := st.byName[tp.vlan]
		for i := 0; i < n; i++ {
			w.fromKernel(v, &bufs[i])
		}
		w.flush()
	}
}

// housekeeping expires flows and neighbors.
func (e *Engine) housekeeping() {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
		}
		now := e.tick()
		// Visit a slice of the table per tick: a full sweep of a full
		// table takes about a second, and no tick blocks the workers long.
		e.flows.Expire(now, max(4096, e.maxFlows/10))
		// Frames that waited for a neighbor that never answered.
		e.drops[DropNeighbor].Add(uint64(e.neighbor.Expire(now)))
	}
}

// flowGone releases what a flow held: its NAT port and its place in the
// active counts.
func (e *Engine) flowGone(f *conntrack.Flow[flowData]) {
	fd := &f.Value
	if fd.natPool != nil {
		fd.natPool.Release(fd.natPort)
	}
	switch fd.kind {
	case flowIngress:
		fd.handshakeDone()
		fd.vs.counters.active.Add(-1)
		fd.member.counters.active.Add(-1)
	case flowEgress:
		fd.tenant.counters.active.Add(-1)
	}
}

// Stats returns a snapshot of every counter.
func (e *Engine) Stats() Stats {
	st := e.state.Load()
	ft := e.flows.Stats()
	s := Stats{
		Version:       st.cfg.Version,
		Replica:       st.cfg.Replica,
		UptimeSeconds: time.Since(e.start).Seconds(),
		Flows: FlowStats{Active: ft.Active, Max: e.maxFlows, Inserts: ft.Inserts, EarlyDrops: ft.EarlyDrops,
			Full: ft.Full, Expired: ft.Expired},
		Drops: e.drops.snapshot(),
	}
	for _, wp := range e.portList {
		ps := wp.p.Stats()
		s.Ports = append(s.Ports, PortStats{Interface: wp.name, Device: wp.p.Name(), RxPackets: ps.RxPackets, RxBytes: ps.RxBytes,
			TxPackets: ps.TxPackets, TxBytes: ps.TxBytes, RxDrops: ps.RxDrops, TxDrops: ps.TxDrops})
	}
	for _, v := range st.cfg.VLANs {
		c := st.byName[v.Name].counters
		s.VLANs = append(s.VLANs, VLANStats{Name: v.Name, RxPackets: c.rx.packets.Load(), RxBytes: c.rx.bytes.Load(),
			TxPackets: c.tx.packets.Load(), TxBytes: c.tx.bytes.Load(), Drops: c.drops.snapshot()})
	}
	for _, v := range st.cfg.VirtualServers {
		vs := st.vs[vsKey{v.Address, v.Port}]
		c := vs.counters
		out := VSStats{Name: v.Name, Address: netip.AddrPortFrom(v.Address, v.Port).String(), Packets: c.traffic.packets.Load(),
			Bytes: c.traffic.bytes.Load(), Connections: c.connections.Load(), ActiveFlows: c.active.Load(),
			Resets: c.resets.Load(), Drops: c.drops.snapshot()}
		for _, m := range vs.members {
			mc := m.counters
			out.Members = append(out.Members, MemberStats{Address: m.cfg.Address.String(), Node: m.cfg.Node,
				Packets: mc.traffic.packets.Load(), Bytes: mc.traffic.bytes.Load(), Connections: mc.connections.Load(), ActiveFlows: mc.active.Load()})
		}
		s.VirtualServers = append(s.VirtualServers, out)
	}
	for _, t := range st.cfg.Tenants {
		c := st.tenants[t.VNI].counters
		out := SNATStats{Tenant: t.Name, Snatpool: t.Snatpool, VNI: t.VNI, Packets: c.traffic.packets.Load(), Bytes: c.traffic.bytes.Load(),
			Connections: c.connections.Load(), ActiveFlows: c.active.Load(), Drops: c.drops.snapshot()}
		for _, a := range t.SNAT {
			out.Addresses = append(out.Addresses, a.String())
		}
		s.SNATPools = append(s.SNATPools, out)
	}
	for _, n := range e.neighbor.Entries() {
		s.Neighbors = append(s.Neighbors, NeighborStats{IP: n.IP.String(), MAC: net.HardwareAddr(n.MAC[:]).String(), State: n.State})
	}
	sort.Slice(s.Neighbors, func(i, j int) bool { return s.Neighbors[i].IP < s.Neighbors[j].IP })
	return s
}

// Flows lists up to limit flows (0 = all).
func (e *Engine) Flows(limit int) []FlowInfo {
	now := e.now.Load()
	var out []FlowInfo
	e.flows.Range(func(f *conntrack.Flow[flowData]) bool {
		op, _, rp, _ := f.Counters()
		out = append(out, FlowInfo{
			Kind:        f.Value.kind.String(),
			Original:    f.Orig.String(),
			Reply:       f.Reply.String(),
			State:       f.State().String(),
			Target:      f.Value.target(),
			OrigPackets: op, ReplyPackets: rp,
			ExpiresIn: time.Duration(f.Deadline() - now).Round(time.Millisecond).String(),
		})
		return limit <= 0 || len(out) < limit
	})
	return out
}
